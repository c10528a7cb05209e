//! Reading one channel's sweeps out of a scan file in the reference layout
//! (section 8 of the spec): written by this daemon or by the Python one.

use planner::ScannerIndex;
use station::{Naming, Prefixes};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Which interpolated position array is x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IopsChannel {
    /// `InterpolatedPosCh1` (the default).
    Ch1,
    /// `InterpolatedPosCh2`.
    Ch2,
}

impl IopsChannel {
    fn dataset_suffix(self) -> &'static str {
        match self {
            Self::Ch1 => "InterpolatedPosCh1",
            Self::Ch2 => "InterpolatedPosCh2",
        }
    }
}

/// Why a file cannot be plotted; every message says what to do.
/// [`PlotError::exit_code`]: 2 for arguments that cannot be honoured
/// (options, a channel or steps the file does not have, a missing output
/// folder), 1 for a file or a result that fails.
#[derive(Debug, Error)]
pub enum PlotError {
    /// No such file.
    #[error("{0}: no such file; check the path")]
    Missing(PathBuf),
    /// Not readable as HDF5.
    #[error("{path}: not an HDF5 file; give a scan file written by fws-daemon ({reason})")]
    NotHdf5 {
        /// The file.
        path: PathBuf,
        /// What libhdf5 said.
        reason: String,
    },
    /// No `scan_NNN` group with positions and the channel's trace.
    #[error("{path}: no scans with {what}; is it a wire-scanner scan file?")]
    NoScans {
        /// The file.
        path: PathBuf,
        /// What the steps lacked.
        what: String,
    },
    /// The channel is not in the file.
    #[error("channel {wanted:?} not found; the file has: {}; give one of them", .available.join(", "))]
    ChannelNotFound {
        /// What was asked for.
        wanted: String,
        /// The channels the file has.
        available: Vec<String>,
    },
    /// The channel names more than one of the file's.
    #[error(
        "channel {wanted:?} matches {} channels: {}; give one of them (e.g. {})",
        .matches.len(),
        .matches.join(", "),
        .matches.first().map(String::as_str).unwrap_or_default()
    )]
    AmbiguousChannel {
        /// What was asked for.
        wanted: String,
        /// The file's channels it matches.
        matches: Vec<String>,
    },
    /// The scanner index could not be told.
    #[error("{0}")]
    ScannerIndex(String),
    /// An option the file cannot honour (a step it does not have, ...).
    #[error("{0}")]
    BadArgument(String),
    /// An output's folder does not exist.
    #[error("{option} {path}: the folder {folder} does not exist; create it or write elsewhere")]
    NoFolder {
        /// `--save`, `--export` or `--screenshot`.
        option: &'static str,
        /// The output asked for.
        path: PathBuf,
        /// Its missing folder.
        folder: PathBuf,
    },
    /// Fewer points than a fit needs.
    #[error(
        "{0} selected points: a Gaussian fit needs at least 5; show more steps (--first/--last) \
         or deselect fewer (the outputs are written without a fit)"
    )]
    TooFewPoints(usize),
    /// The fit of the selected points failed.
    #[error("no Gaussian fit: {0} (the outputs are written without one)")]
    Fit(String),
    /// The window could not be shown.
    #[error("{0}")]
    Window(String),
    /// Reading a dataset failed.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// `--follow`: the file stayed unreadable.
    #[error(
        "{path}: unreadable for {seconds} s while following ({reason}); check that a daemon is \
         still writing it and that it is a scan file, then run fws-plot again"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// How long it has failed.
        seconds: u64,
        /// The last failure.
        reason: String,
    },
    /// Writing an output failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The output.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl PlotError {
    /// The process exit code: 2 for arguments that cannot be honoured, 1
    /// for everything else (documented in the README).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::ChannelNotFound { .. }
            | Self::AmbiguousChannel { .. }
            | Self::ScannerIndex(_)
            | Self::BadArgument(_)
            | Self::NoFolder { .. } => 2,
            _ => 1,
        }
    }

    /// A failure that a file still being written shows until the next
    /// step lands (the file unreadable mid-write, no steps or too few
    /// points yet): `--follow` retries these.
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            Self::NotHdf5 { .. }
                | Self::Read { .. }
                | Self::NoScans { .. }
                | Self::TooFewPoints(_)
                | Self::Fit(_)
        )
    }

    /// Of those, the ones that mean the file could not be read (rather
    /// than "not enough steps yet").
    pub fn is_unreadable(&self) -> bool {
        matches!(self, Self::NotHdf5 { .. } | Self::Read { .. })
    }
}

/// One step's sweep of the chosen channel.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTrace {
    /// The step number as in the group name (`scan_007` -> 7).
    pub number: usize,
    /// x: the interaction positions (mm).
    pub x: Vec<f64>,
    /// y: the channel's trace (V).
    pub y: Vec<f64>,
    /// The BCM flat-top current (the Norm divisor), 1 when absent.
    pub norm: f64,
    /// The first BPM's reading (the Offset), 0 when absent.
    pub offset: f64,
}

/// One channel of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanData {
    /// The file.
    pub path: PathBuf,
    /// The channel (e.g. `H-PDB`).
    pub channel: String,
    /// The trace dataset used (TRC2 when present, else TRC1).
    pub trace_name: String,
    /// Steps in order.
    pub steps: Vec<StepTrace>,
    /// Steps left out, with why.
    pub skipped: Vec<(String, String)>,
    /// The steps planned (the root attribute `num_scans`), if recorded.
    pub planned: Option<usize>,
}

/// The reference's BCM dataset (Norm).
pub const NORM_DATASET: &str = "beam/HEBT-010LWU:PBI-BCM-001:FlatTopCurrentR";

/// The scanner index in a file name as the reference reads it: `FWS<n>`
/// (1-99), or 7 for a `PyTest` file.
pub fn index_from_file_name(path: &Path) -> Result<ScannerIndex, PlotError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let upper = name.to_uppercase();
    let mut rest = upper.as_str();
    while let Some(at) = rest.find("FWS") {
        let digits: String = rest[at + 3..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if (1..=2).contains(&digits.len()) {
            if let Ok(n) = digits.parse::<i64>() {
                if (1..=99).contains(&n) {
                    return ScannerIndex::try_from(n)
                        .map_err(|e| PlotError::ScannerIndex(e.to_string()));
                }
            }
        }
        rest = &rest[at + 3..];
    }
    if upper.contains("PYTEST") {
        return ScannerIndex::try_from(7).map_err(|e| PlotError::ScannerIndex(e.to_string()));
    }
    Err(PlotError::ScannerIndex(format!(
        "no scanner index in the file name {name:?} (FWS01-FWS99 or PyTest): give --scanner-index"
    )))
}

/// The BPM whose reading is the Offset: the first of the scanner's pair
/// (test naming above index 6, as the reference).
fn offset_dataset(index: ScannerIndex) -> Option<String> {
    let naming = if index.get() > 6 {
        Naming::Test
    } else {
        Naming::Production
    };
    let prefixes = Prefixes::new(index, naming).ok()?;
    Some(format!("beam/{}", prefixes.bpms[0]))
}

/// The channel's name in a struck dataset name
/// (`<prefix><C>-TRC2-ArrayData` -> `C`), with the trace kind.
fn channel_of(dataset: &str) -> Option<(String, &'static str)> {
    let tail = dataset.rsplit(':').next()?;
    for kind in ["TRC2", "TRC1"] {
        if let Some(channel) = tail.strip_suffix(&format!("-{kind}-ArrayData")) {
            return Some((channel.to_string(), kind));
        }
    }
    None
}

/// The channel `wanted` names, among `available` (case-insensitive): the
/// exact name (`H-PDB`), else the one whose name after its plane is it
/// (`PDB` -> `H-PDB`, not `V-APDB`), else the one that contains it (the
/// reference's rule). `Err` lists the matches when the first rule that
/// matches at all matches more than one (`PD` is in all eight channels:
/// the reference took whichever came first), empty when none matches.
pub fn pick_channel(wanted: &str, available: &[String]) -> Result<String, Vec<String>> {
    let w = wanted.to_uppercase().replace('_', "-");
    let up = |c: &String| c.to_uppercase();
    let rules: [&dyn Fn(&String) -> bool; 3] = [
        &|c| up(c) == w,
        &|c| up(c).split_once('-').is_some_and(|(_, rest)| rest == w),
        &|c| up(c).contains(&w),
    ];
    for rule in rules {
        let matches: Vec<String> = available.iter().filter(|c| rule(c)).cloned().collect();
        match matches.len() {
            0 => continue,
            1 => return Ok(matches[0].clone()),
            _ => return Err(matches),
        }
    }
    Err(Vec::new())
}

fn read_f64s(ds: &hdf5::Dataset) -> Result<Vec<f64>, String> {
    ds.read_raw::<f64>().map_err(|e| e.to_string())
}

fn read_scalar(file: &hdf5::File, path: &str) -> Option<f64> {
    let ds = file.dataset(path).ok()?;
    let v = ds.read_raw::<f64>().ok()?;
    v.first().copied().filter(|x| x.is_finite())
}

fn scan_groups(file: &hdf5::File) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = file
        .member_names()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            let lower = n.to_lowercase();
            let digits = lower.strip_prefix("scan_")?;
            (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
                .then(|| digits.parse().ok().map(|d: usize| (d, n.clone())))
                .flatten()
        })
        .collect();
    out.sort();
    out
}

/// Reads `channel`'s sweeps from `path`.
pub fn read_scan(
    path: &Path,
    channel: &str,
    iops: IopsChannel,
    index: Option<ScannerIndex>,
) -> Result<ScanData, PlotError> {
    if !path.exists() {
        return Err(PlotError::Missing(path.to_path_buf()));
    }
    let file = cloexec::h5::open_read(path).map_err(|e| PlotError::NotHdf5 {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let index = match index {
        Some(i) => Some(i),
        None => index_from_file_name(path).ok(),
    };
    let offset_path = index.and_then(offset_dataset);
    let groups = scan_groups(&file);
    if groups.is_empty() {
        return Err(PlotError::NoScans {
            path: path.to_path_buf(),
            what: "data (no scan_NNN groups)".into(),
        });
    }
    let mut available: Vec<String> = Vec::new();
    for (_, g) in &groups {
        if let Ok(struck) = file.group(&format!("{g}/struck")) {
            for name in struck.member_names().unwrap_or_default() {
                if let Some((c, _)) = channel_of(&name) {
                    if !available.contains(&c) {
                        available.push(c);
                    }
                }
            }
        }
    }
    available.sort();
    if available.is_empty() {
        // Groups without traces yet (a step being written) or at all.
        return Err(PlotError::NoScans {
            path: path.to_path_buf(),
            what: "struck traces".into(),
        });
    }
    let chosen = pick_channel(channel, &available).map_err(|matches| {
        if matches.is_empty() {
            PlotError::ChannelNotFound {
                wanted: channel.to_string(),
                available: available.clone(),
            }
        } else {
            PlotError::AmbiguousChannel {
                wanted: channel.to_string(),
                matches,
            }
        }
    })?;
    let mut steps = Vec::new();
    let mut skipped = Vec::new();
    let mut trace_name = String::new();
    for (number, g) in &groups {
        let step = file.group(g).map_err(|e| PlotError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let x_name = step.group("scan").ok().and_then(|s| {
            s.member_names()
                .unwrap_or_default()
                .into_iter()
                .find(|n| n.ends_with(iops.dataset_suffix()))
        });
        let Some(x_name) = x_name else {
            skipped.push((g.clone(), format!("no {}", iops.dataset_suffix())));
            continue;
        };
        let trace = step.group("struck").ok().and_then(|s| {
            let names = s.member_names().unwrap_or_default();
            ["TRC2", "TRC1"].iter().find_map(|kind| {
                names
                    .iter()
                    .find(|n| channel_of(n).is_some_and(|(c, k)| c == chosen && k == *kind))
                    .cloned()
            })
        });
        let Some(trace) = trace else {
            skipped.push((g.clone(), format!("no {chosen} trace")));
            continue;
        };
        let read = |p: &str| {
            file.dataset(p)
                .map_err(|e| e.to_string())
                .and_then(|d| read_f64s(&d))
        };
        let (x, y) = match (
            read(&format!("{g}/scan/{x_name}")),
            read(&format!("{g}/struck/{trace}")),
        ) {
            (Ok(x), Ok(y)) => (x, y),
            (Err(e), _) | (_, Err(e)) => {
                skipped.push((g.clone(), e));
                continue;
            }
        };
        trace_name = trace;
        steps.push(StepTrace {
            number: *number,
            x,
            y,
            norm: read_scalar(&file, &format!("{g}/{NORM_DATASET}")).unwrap_or(1.0),
            offset: offset_path
                .as_ref()
                .and_then(|p| read_scalar(&file, &format!("{g}/{p}")))
                .unwrap_or(0.0),
        });
    }
    if steps.is_empty() {
        return Err(PlotError::NoScans {
            path: path.to_path_buf(),
            what: format!("both {} and a {chosen} trace", iops.dataset_suffix()),
        });
    }
    let planned = file
        .attr("num_scans")
        .and_then(|a| a.read_scalar::<i64>())
        .ok()
        .and_then(|n| usize::try_from(n).ok());
    Ok(ScanData {
        path: path.to_path_buf(),
        channel: chosen,
        trace_name,
        steps,
        skipped,
        planned,
    })
}

/// The file's `exit_status` root attribute ("Running" while a daemon
/// still writes it): `Ok(None)` when it has none (the reference's files),
/// `Err` when the file cannot be opened now (mid-write, or not HDF5).
pub fn exit_status(path: &Path) -> Result<Option<String>, String> {
    let file = cloexec::h5::open_read(path).map_err(|e| e.to_string())?;
    let Ok(attr) = file.attr("exit_status") else {
        return Ok(None);
    };
    Ok(attr
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .map(|s| s.as_str().to_string())
        .ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_index_from_names_as_the_reference() {
        let idx = |n: &str| index_from_file_name(Path::new(n)).map(|i| i.get());
        assert_eq!(idx("/d/FWS03_0_10_n3_20250217-1430.h5").unwrap(), 3);
        assert_eq!(idx("fws12_x.h5").unwrap(), 12);
        assert_eq!(idx("my_pytest_run.h5").unwrap(), 7);
        assert!(idx("FWS123_x.h5").is_err());
        assert!(idx("scan.h5")
            .unwrap_err()
            .to_string()
            .contains("--scanner-index"));
    }

    #[test]
    fn channels_match_exactly_then_by_name_then_by_substring() {
        let all: Vec<String> = ["H-APDL", "H-PDB", "H-PDT", "V-APDB", "V-PDR"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(pick_channel("PDB", &all).unwrap(), "H-PDB");
        assert_eq!(pick_channel("pdb", &all).unwrap(), "H-PDB");
        assert_eq!(pick_channel("APDB", &all).unwrap(), "V-APDB");
        assert_eq!(pick_channel("v-apdb", &all).unwrap(), "V-APDB");
        assert_eq!(pick_channel("APDL", &all).unwrap(), "H-APDL");
        assert_eq!(
            pick_channel("DR", &all).unwrap(),
            "V-PDR",
            "one substring match"
        );
        assert_eq!(pick_channel("XYZ", &all), Err(vec![]));
        assert_eq!(
            channel_of("Test:STRUCK:H-PDB-TRC2-ArrayData"),
            Some(("H-PDB".to_string(), "TRC2"))
        );
        assert_eq!(
            channel_of("PBI-WS06:Ctrl-AMC-110:V-APDT-TRC1-ArrayData"),
            Some(("V-APDT".to_string(), "TRC1"))
        );
        assert_eq!(channel_of("Test:STRUCK:NumSamplesR"), None);
    }

    #[test]
    fn a_name_that_matches_several_channels_is_refused_with_the_matches() {
        let all: Vec<String> = ["H-APDL", "H-PDB", "H-PDT", "V-APDB", "V-PDR"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            pick_channel("PD", &all),
            Err(all.clone()),
            "PD is in every channel"
        );
        assert_eq!(
            pick_channel("APD", &all),
            Err(vec!["H-APDL".to_string(), "V-APDB".to_string()])
        );
        // The same name after two planes.
        let both = vec!["H-PDB".to_string(), "V-PDB".to_string()];
        assert_eq!(pick_channel("PDB", &both), Err(both.clone()));
        assert_eq!(pick_channel("v-pdb", &both).unwrap(), "V-PDB");
    }
}
