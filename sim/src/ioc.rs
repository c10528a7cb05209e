//! The simulated FWS IOC: the PVs the daemon touches, and what happens
//! when the daemon writes RunHardScan, RunSoftScan or TrigPosAuto.

use crate::config::SimConfig;
use crate::model;
use ca::{PvServer, PvSpec, PvType, Value, Write};
use epics::SCAN_STATUS_LABELS;
use station::{trace_pv, Prefixes, PvGroups, CHANNELS, TRACES};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// A simulated FWS IOC for one scanner's prefixes.
pub struct SimIoc {
    config: SimConfig,
    specs: Vec<PvSpec>,
    pos_to_delay: String,
    run_hard_scan: String,
    run_soft_scan: String,
    trig_pos_auto: String,
    scan_status: String,
    interpolated: [String; 2],
    traces: Vec<String>,
    sweeps: AtomicU64,
}

impl SimIoc {
    /// The IOC serving every PV of `data` and `metadata` (already filled
    /// with `prefixes`) plus the hard-scan PVs, minus the configured
    /// unreachable ones.
    pub fn new(
        prefixes: &Prefixes,
        data: &PvGroups,
        metadata: &PvGroups,
        config: SimConfig,
    ) -> Self {
        let scan = &prefixes.scan;
        let pos_to_delay = format!("{scan}PosToDelay");
        let run_hard_scan = format!("{scan}RunHardScan");
        let run_soft_scan = format!("{scan}RunSoftScan");
        let trig_pos_auto = format!("{scan}TrigPosAuto");
        let scan_status = format!("{scan}ScanStatus");
        let interpolated = [
            format!("{scan}InterpolatedPosCh1"),
            format!("{scan}InterpolatedPosCh2"),
        ];
        // TRC1 then TRC2 for each channel, as the gains below expect.
        let traces: Vec<String> = TRACES
            .iter()
            .flat_map(|t| {
                CHANNELS
                    .iter()
                    .map(move |c| trace_pv(&prefixes.struck, c, t))
            })
            .collect();
        let unreachable = |name: &str| {
            config
                .faults
                .unreachable_pvs
                .iter()
                .any(|u| name == u || name.ends_with(u.as_str()))
        };
        let n = config.trace_samples;
        let mut specs = vec![
            spec(&pos_to_delay, double(), Value::Double(0.0), true, "mm"),
            spec(&run_hard_scan, flag(), Value::Long(0), true, ""),
            spec(&run_soft_scan, flag(), Value::Long(0), true, ""),
            spec(&trig_pos_auto, flag(), Value::Long(0), true, ""),
            spec(
                &scan_status,
                PvType::Enum {
                    labels: SCAN_STATUS_LABELS.iter().map(|s| s.to_string()).collect(),
                },
                Value::Long(0),
                false,
                "",
            ),
        ];
        let first = model::sweep(&config, 0, 0.0, &[0.0]);
        for name in &interpolated {
            specs.push(spec(
                name,
                PvType::Doubles { max_len: n },
                Value::Doubles(first.positions.clone()),
                false,
                "mm",
            ));
        }
        for name in &traces {
            specs.push(spec(
                name,
                PvType::Doubles { max_len: n },
                Value::Doubles(vec![config.beam.background; n]),
                false,
                "V",
            ));
        }
        let mut served: HashSet<String> = specs.iter().map(|s| s.name.clone()).collect();
        for name in data.names().chain(metadata.names()) {
            if served.insert(name.to_string()) {
                let (value, units) = plain_value(name, n);
                let kind = match value {
                    Value::Long(_) => PvType::Long {
                        min: i64::from(i32::MIN),
                        max: i64::from(i32::MAX),
                    },
                    _ => double(),
                };
                specs.push(spec(name, kind, value, false, units));
            }
        }
        specs.retain(|s| !unreachable(&s.name));
        Self {
            config,
            specs,
            pos_to_delay,
            run_hard_scan,
            run_soft_scan,
            trig_pos_auto,
            scan_status,
            interpolated,
            traces,
            sweeps: AtomicU64::new(0),
        }
    }

    /// The PVs to serve.
    pub fn pv_specs(&self) -> Vec<PvSpec> {
        self.specs.clone()
    }

    /// Whether `name` is one of this IOC's PVs.
    pub fn owns(&self, name: &str) -> bool {
        self.specs.iter().any(|s| s.name == name)
    }

    /// Sweeps started so far.
    pub fn sweeps(&self) -> u64 {
        self.sweeps.load(Ordering::Relaxed)
    }

    /// Reacts to a client's accepted write (call on a tokio runtime).
    pub fn on_write(self: &Arc<Self>, write: &Write, server: &Arc<PvServer>) {
        let set = matches!(write.value, Value::Long(1));
        if (write.name == self.run_hard_scan || write.name == self.run_soft_scan) && set {
            self.start_sweep(&write.name, server);
        } else if write.name == self.trig_pos_auto && set {
            // The IOC computes the delay from the current position; ours
            // keeps PosToDelay and acknowledges.
            set_or_warn(server, &self.trig_pos_auto, Value::Long(0));
        }
    }

    fn start_sweep(self: &Arc<Self>, handshake: &str, server: &Arc<PvServer>) {
        let number = self.sweeps.fetch_add(1, Ordering::Relaxed) + 1;
        let faults = &self.config.faults;
        if faults.hanging_sweeps.contains(&number) {
            warn!(sweep = number, "simulated fault: this sweep never ends");
            return;
        }
        let at = match server.get(&self.pos_to_delay) {
            Some(Value::Double(v)) => v,
            _ => 0.0,
        };
        let status = if faults.failing_sweeps.contains(&number) {
            warn!(
                sweep = number,
                code = faults.failure_code,
                "simulated fault: ScanStatus error"
            );
            faults.failure_code
        } else {
            0
        };
        let (ioc, server, handshake) =
            (Arc::clone(self), Arc::clone(server), handshake.to_string());
        tokio::spawn(async move {
            let gains: Vec<f64> = (0..ioc.traces.len())
                .map(|i| 1.0 - 0.04 * (i % CHANNELS.len()) as f64)
                .collect();
            let sweep = model::sweep(&ioc.config, number, at, &gains);
            if ioc.config.sweep_seconds > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(ioc.config.sweep_seconds)).await;
            }
            for (name, trace) in ioc.traces.iter().zip(sweep.traces) {
                set_or_warn(&server, name, Value::Doubles(trace));
            }
            let ch2: Vec<f64> = sweep.positions.iter().map(|x| x + 0.001).collect();
            set_or_warn(
                &server,
                &ioc.interpolated[0],
                Value::Doubles(sweep.positions),
            );
            set_or_warn(&server, &ioc.interpolated[1], Value::Doubles(ch2));
            set_or_warn(&server, &ioc.scan_status, Value::Long(status));
            // Last: the daemon reads the data once it sees the 0.
            set_or_warn(&server, &handshake, Value::Long(0));
            info!(sweep = number, at, status, "sweep done");
        });
    }
}

fn set_or_warn(server: &PvServer, name: &str, value: Value) {
    if let Err(e) = server.set(name, value) {
        warn!("simulator: {e}");
    }
}

fn double() -> PvType {
    PvType::Double {
        min: f64::MIN,
        max: f64::MAX,
    }
}

fn flag() -> PvType {
    PvType::Long { min: 0, max: 1 }
}

fn spec(name: &str, kind: PvType, initial: Value, writable: bool, units: &str) -> PvSpec {
    PvSpec {
        name: name.to_string(),
        kind,
        initial,
        writable,
        units: (!units.is_empty()).then(|| units.to_string()),
        precision: 4,
    }
}

/// A plausible constant value and unit for a PV the model does not drive,
/// from its name.
fn plain_value(name: &str, samples: usize) -> (Value, &'static str) {
    let has = |s: &str| name.contains(s);
    if has("Status") || has("NumTStamps") {
        (Value::Long(0), "")
    } else if has("NumSamples") {
        (Value::Long(samples as i64), "")
    } else if has("SamplingFrequency") {
        (Value::Double(250e6), "Hz")
    } else if has("FlatTopCurrent") {
        (Value::Double(62.5), "mA")
    } else if has("BPM") {
        (Value::Double(0.12), "mm")
    } else if has("PrsR") {
        (Value::Double(2.0e-8), "mbar")
    } else if has("Voltage") {
        (Value::Double(-150.0), "V")
    } else if has("Delay") {
        (Value::Double(1200.0), "ns")
    } else if has("TStamp") || has("Time") {
        (Value::Double(0.0), "s")
    } else if has("Spd") || has("Speed") {
        (Value::Double(1.0), "m/s")
    } else if has("Pos") {
        (Value::Double(0.0), "mm")
    } else if has("Power") {
        (Value::Double(1.0), "mW")
    } else {
        (Value::Double(0.0), "")
    }
}
