//! PV prefixes of a scanner (the reference's `IOCPrefixes`) and the BPMs
//! its plots use for the x offset (`ScannerAuxiliary`).

use planner::ScannerIndex;
use thiserror::Error;

/// Which naming the daemon uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// The facility's PV names.
    Production,
    /// `Test:*` names, served by the simulator.
    Test,
}

/// A scanner index without a production mapping.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("scanner {0} has no production PV names (known: 1 to 6); use --test-mode for others")]
pub struct UnknownScanner(pub u8);

/// Every prefix the daemon, the collector and the plots need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    /// The scan IOC (`RunHardScan`, `PosToDelay`, ...).
    pub scan: String,
    /// The daemon's own PVs (scan prefix + `DMN-`).
    pub main: String,
    /// The IDC.
    pub idc: String,
    /// The struck digitiser.
    pub struck: String,
    /// The back end.
    pub be: String,
    /// The event receiver.
    pub evr: String,
    /// The full name of the IDC delay PV.
    pub idc_delay: String,
    /// The two BPM PV names used for the plots' x offset.
    pub bpms: [String; 2],
}

/// Production tables for scanners 1..6: struck card, back end, delay
/// generator, BPM stations and plane.
const PRODUCTION: [(&str, &str, &str, [&str; 2], &str); 6] = [
    ("110", "001", "DlyGen-1-Delay-SP", ["090", "100"], "YP"),
    ("110", "001", "DlyGen-2-Delay-SP", ["090", "100"], "XP"),
    ("120", "002", "DlyGen-4-Delay-SP", ["120", "130"], "YP"),
    ("120", "002", "DlyGen-5-Delay-SP", ["120", "130"], "XP"),
    ("130", "003", "DlyGen-7-Delay-SP", ["150", "160"], "YP"),
    ("130", "003", "DlyGen-8-Delay-SP", ["150", "160"], "XP"),
];

impl Prefixes {
    /// The prefixes of scanner `index` under `naming`. Production names
    /// exist for scanners 1 to 6 (the reference crashes on others).
    pub fn new(index: ScannerIndex, naming: Naming) -> Result<Self, UnknownScanner> {
        if naming == Naming::Test {
            return Ok(Self {
                scan: "Test:SCAN:".into(),
                main: "Test:SCAN:DMN-".into(),
                idc: "Test:IDC:".into(),
                struck: "Test:STRUCK:".into(),
                be: "Test:BE:".into(),
                evr: "Test:EVR:".into(),
                idc_delay: "Test:EVR:DlyGen-1-Delay-SP".into(),
                bpms: ["Test:BPM1:".into(), "Test:BPM2:".into()],
            });
        }
        let i = index.get();
        let (struck, be, delay, stations, plane) = usize::from(i)
            .checked_sub(1)
            .and_then(|k| PRODUCTION.get(k))
            .ok_or(UnknownScanner(i))?;
        let scan = format!("PBI-WS06:Ctrl-SCAN-{i:03}:");
        let evr = "PBI-WS06:Ctrl-EVR-101:".to_string();
        Ok(Self {
            main: format!("{scan}DMN-"),
            scan,
            idc: format!("PBI-WS06:Ctrl-IDC-{i:03}:"),
            struck: format!("PBI-WS06:Ctrl-AMC-{struck}:"),
            be: format!("PBI-WS06:PBI-WSBE-{be}:"),
            idc_delay: format!("{evr}{delay}"),
            evr,
            bpms: stations.map(|s| format!("HEBT-{s}LWU:PBI-BPM-001:{plane}-AvgValue")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(i: i64) -> ScannerIndex {
        ScannerIndex::try_from(i).unwrap()
    }

    #[test]
    fn production_scanner_three() {
        let p = Prefixes::new(index(3), Naming::Production).unwrap();
        assert_eq!(p.scan, "PBI-WS06:Ctrl-SCAN-003:");
        assert_eq!(p.main, "PBI-WS06:Ctrl-SCAN-003:DMN-");
        assert_eq!(p.idc, "PBI-WS06:Ctrl-IDC-003:");
        assert_eq!(p.struck, "PBI-WS06:Ctrl-AMC-120:");
        assert_eq!(p.be, "PBI-WS06:PBI-WSBE-002:");
        assert_eq!(p.idc_delay, "PBI-WS06:Ctrl-EVR-101:DlyGen-4-Delay-SP");
        assert_eq!(p.bpms[1], "HEBT-130LWU:PBI-BPM-001:YP-AvgValue");
    }

    #[test]
    fn unknown_production_scanners_are_refused_test_names_are_not() {
        for i in [0, 7, 99] {
            let err = Prefixes::new(index(i), Naming::Production).unwrap_err();
            assert!(err.to_string().contains("--test-mode"), "{err}");
            let t = Prefixes::new(index(i), Naming::Test).unwrap();
            assert_eq!(t.main, "Test:SCAN:DMN-");
        }
    }
}
