//! Station settings (`--config FILE`): data root, prefix overrides, PV
//! group files, timeouts. Every field is optional.

use crate::Prefixes;
use runner::{Limit, RetryPolicy};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Station {
    /// Where output files, autosave and extra PV-group files live.
    pub data_root: Option<PathBuf>,
    /// Prefix overrides (keys: scan, main, idc, struck, be, evr).
    pub prefixes: PrefixOverrides,
    /// Replacement default PV-group files (the reference's YAML format).
    pub pv_groups: PvGroupFiles,
    /// Timeouts and retries.
    pub timing: Timing,
    /// Most steps in one scan.
    pub max_steps: Option<u32>,
    /// When a step is on disk: `pipelined` (the default: a step's write
    /// overlaps the next step's move, at most one completed step not yet
    /// on disk) or `step` (each step on disk before the next begins).
    pub durability: Durability,
}

/// When a step's data is on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// The write of a step overlaps the next step; a kill -9 loses at most
    /// the step being written and the step being acquired.
    #[default]
    Pipelined,
    /// Each step flushed before the next begins.
    Step,
}

/// Prefix overrides.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PrefixOverrides {
    pub scan: Option<String>,
    pub main: Option<String>,
    pub idc: Option<String>,
    pub struck: Option<String>,
    pub be: Option<String>,
    pub evr: Option<String>,
}

/// Replacement PV-group files.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PvGroupFiles {
    /// Data groups (datasets).
    pub data: Option<PathBuf>,
    /// Metadata groups (step attributes).
    pub metadata: Option<PathBuf>,
}

/// Timeouts (seconds), retries and optional delays.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// Wait for the first sweep of a sequence.
    pub first_sweep_s: f64,
    /// Wait for every later sweep.
    pub sweep_s: f64,
    /// Tries per step.
    pub attempts: u32,
    /// Pause between tries.
    pub retry_delay_s: f64,
    /// Pause after each move.
    pub settle_s: f64,
    /// Pause between steps.
    pub between_steps_s: f64,
    /// The loop's limit on the first step's move (it may home).
    pub first_move_s: f64,
    /// The loop's limit on every later move.
    pub move_s: f64,
    /// The loop's limit on settling at the first step (a setpoint far away).
    pub first_settle_timeout_s: f64,
    /// The loop's limit on settling at every later step.
    pub settle_timeout_s: f64,
    /// The loop's limit on reading a step's data.
    pub read_s: f64,
    /// The loop's limit on a device's recovery after a dropped call.
    pub recover_s: f64,
    /// Per-PV read timeout of the collector.
    pub pv_read_s: f64,
    /// Put-with-completion timeout (PosToDelay, RunHardScan).
    pub put_s: f64,
    /// The watchdog's limit on a silent control loop; unset: 30 s (the
    /// loop beats on its own, whatever the scan's length).
    pub watchdog_s: Option<f64>,
}

impl Default for Timing {
    fn default() -> Self {
        let policy = RetryPolicy::default();
        Self {
            first_sweep_s: policy.acquiring.first.as_secs_f64(),
            sweep_s: policy.acquiring.later.as_secs_f64(),
            attempts: policy.attempts,
            retry_delay_s: 0.0,
            settle_s: 0.0,
            between_steps_s: 0.0,
            first_move_s: policy.moving.first.as_secs_f64(),
            move_s: policy.moving.later.as_secs_f64(),
            first_settle_timeout_s: policy.settling.first.as_secs_f64(),
            settle_timeout_s: policy.settling.later.as_secs_f64(),
            read_s: policy.reading.later.as_secs_f64(),
            recover_s: policy.recovering.as_secs_f64(),
            pv_read_s: 2.0,
            put_s: 10.0,
            watchdog_s: None,
        }
    }
}

impl Station {
    /// Reads and checks a settings file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let station: Station =
            serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        station
            .timing
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(station)
    }

    /// `prefixes` with this station's overrides applied.
    pub fn apply(&self, mut prefixes: Prefixes) -> Prefixes {
        let o = &self.prefixes;
        for (field, value) in [
            (&mut prefixes.scan, &o.scan),
            (&mut prefixes.main, &o.main),
            (&mut prefixes.idc, &o.idc),
            (&mut prefixes.struck, &o.struck),
            (&mut prefixes.be, &o.be),
            (&mut prefixes.evr, &o.evr),
        ] {
            if let Some(v) = value {
                *field = v.clone();
            }
        }
        prefixes
    }
}

impl Timing {
    fn check(&self) -> Result<(), String> {
        let all = [
            self.first_sweep_s,
            self.sweep_s,
            self.retry_delay_s,
            self.settle_s,
            self.between_steps_s,
            self.first_move_s,
            self.move_s,
            self.first_settle_timeout_s,
            self.settle_timeout_s,
            self.read_s,
            self.recover_s,
            self.pv_read_s,
            self.put_s,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("timing: every value must be a finite number of seconds >= 0".into());
        }
        if let Some(w) = self.watchdog_s {
            // Four heartbeats at least, as the reference's floor: a beat a
            // little late must not end a healthy daemon.
            if !w.is_finite() || w < 4.0 {
                return Err("timing.watchdog_s must be a number of seconds >= 4".into());
            }
        }
        if self.attempts == 0 {
            return Err("timing.attempts must be at least 1".into());
        }
        Ok(())
    }

    /// The step loop's policy.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            moving: Limit {
                first: secs(self.first_move_s),
                later: secs(self.move_s),
            },
            settling: Limit {
                first: secs(self.first_settle_timeout_s),
                later: secs(self.settle_timeout_s),
            },
            acquiring: Limit {
                first: secs(self.first_sweep_s),
                later: secs(self.sweep_s),
            },
            reading: Limit::always(secs(self.read_s)),
            recovering: secs(self.recover_s),
            attempts: self.attempts,
            retry_delay: secs(self.retry_delay_s),
            settle: secs(self.settle_s),
            between_steps: secs(self.between_steps_s),
        }
    }
}

/// Seconds as a duration (checked finite and >= 0 at load).
pub fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod example_tests {
    //! `deploy/station.example.yaml` is the site's documentation of this
    //! file: it must parse here and name every setting the code has.
    use super::*;
    use serde_reflection::{ContainerFormat, Format, Registry, Tracer, TracerConfig};

    const EXAMPLE: &str = include_str!("../../deploy/station.example.yaml");

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/station.example.yaml")
    }

    /// Every setting of [`Station`] as a dotted path (`timing.sweep_s`),
    /// traced from its `Deserialize` impl: a new field shows up here
    /// without anyone listing it.
    fn code_settings() -> Vec<String> {
        let mut tracer = Tracer::new(TracerConfig::default());
        // An enum's variants are learnt one trace at a time: traced alone
        // first, so the struct's trace knows them all.
        tracer
            .trace_simple_type::<Durability>()
            .expect("trace Durability");
        tracer
            .trace_simple_type::<Station>()
            .expect("trace Station");
        let registry = tracer.registry().expect("the traced formats");
        let mut out = Vec::new();
        walk(&registry, "Station", "", &mut out);
        out.sort();
        out
    }

    fn walk(registry: &Registry, container: &str, prefix: &str, out: &mut Vec<String>) {
        let Some(ContainerFormat::Struct(fields)) = registry.get(container) else {
            panic!("{container} is not a struct in the trace");
        };
        for field in fields {
            let path = format!("{prefix}{}", field.name);
            match &field.value {
                // A struct holds settings; an enum (durability) is one.
                Format::TypeName(inner)
                    if matches!(registry.get(inner), Some(ContainerFormat::Struct(_))) =>
                {
                    walk(registry, inner, &format!("{path}."), out)
                }
                Format::Option(inner) if matches!(**inner, Format::TypeName(_)) => {
                    let Format::TypeName(inner) = &**inner else {
                        unreachable!()
                    };
                    walk(registry, inner, &format!("{path}."), out)
                }
                _ => out.push(path),
            }
        }
    }

    /// The example's settings as dotted paths: every key whose value is
    /// not itself a mapping.
    fn example_settings(value: &serde_yaml::Value, prefix: &str, out: &mut Vec<String>) {
        if let serde_yaml::Value::Mapping(map) = value {
            for (key, inner) in map {
                let key = key.as_str().expect("text keys");
                match inner {
                    serde_yaml::Value::Mapping(_) => {
                        example_settings(inner, &format!("{prefix}{key}."), out)
                    }
                    _ => out.push(format!("{prefix}{key}")),
                }
            }
        }
    }

    #[test]
    fn the_example_parses_and_names_every_setting_of_the_code() {
        let station = Station::load(&example_path()).expect("the example loads");
        let mut documented = Vec::new();
        let yaml: serde_yaml::Value = serde_yaml::from_str(EXAMPLE).expect("YAML");
        example_settings(&yaml, "", &mut documented);
        documented.sort();
        let code = code_settings();
        let missing: Vec<&String> = code.iter().filter(|s| !documented.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "deploy/station.example.yaml lacks {missing:?}: document each new setting there"
        );
        // deny_unknown_fields already refuses extras; the trace must agree.
        assert_eq!(documented, code);
        assert!(
            code.len() >= 19,
            "the trace found too few settings: {code:?}"
        );

        // The values shown are the defaults the comments claim (the data
        // root has none: the one docs/deploy.md and the unit use).
        assert_eq!(
            station.data_root,
            Some(PathBuf::from("/var/lib/fws-daemon"))
        );
        assert_eq!(station.prefixes, PrefixOverrides::default());
        assert_eq!(station.pv_groups, PvGroupFiles::default());
        assert_eq!(station.timing, Timing::default());
        assert_eq!(station.max_steps, Some(planner::DEFAULT_MAX_STEPS));
    }

    /// A key line of the example: its indent, its name.
    fn key_of(line: &str) -> Option<(usize, &str)> {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return None;
        }
        let (key, _) = trimmed.split_once(':')?;
        Some((line.len() - trimmed.len(), key))
    }

    /// The comment that documents the key on line `at`: the comment lines
    /// right above it (keys of one group may share one, so siblings above
    /// are skipped), followed by the comment of its parent key.
    fn comment_for(lines: &[&str], at: usize) -> String {
        let Some((indent, _)) = key_of(lines[at]) else {
            return String::new();
        };
        let mut i = at;
        let mut own = Vec::new();
        while i > 0 {
            i -= 1;
            let line = lines[i].trim_start();
            if line.starts_with('#') {
                own.push(line);
                continue;
            }
            if !own.is_empty() {
                break;
            }
            match key_of(lines[i]) {
                Some((sibling, _)) if sibling == indent => continue,
                Some((parent, _)) if parent < indent => {
                    return format!("{}\n{}", own.join("\n"), comment_for(lines, i))
                }
                _ => break,
            }
        }
        let mut text = own.join("\n");
        if indent > 0 {
            // Own comment found: the parent's still applies (units, defaults).
            if let Some(parent) = (0..at)
                .rev()
                .find(|&j| key_of(lines[j]).is_some_and(|(d, _)| d < indent))
            {
                text.push('\n');
                text.push_str(&comment_for(lines, parent));
            }
        }
        text
    }

    #[test]
    fn every_setting_of_the_example_has_a_comment_with_its_default() {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let mut checked = 0;
        for (at, line) in lines.iter().enumerate() {
            let Some((_, key)) = key_of(line) else {
                continue;
            };
            let comment = comment_for(&lines, at);
            // A section (`timing:` alone) needs a comment; a setting's
            // comment (its own or its section's) names its default.
            let section = line.trim_end().ends_with(':');
            assert!(
                comment.trim().len() > 1 && (section || comment.to_lowercase().contains("default")),
                "deploy/station.example.yaml: `{key}` (line {}) has no comment{}:\n{comment}",
                at + 1,
                if section { "" } else { " naming its default" }
            );
            checked += 1;
        }
        assert_eq!(
            checked,
            code_settings().len() + 3,
            "settings and their 3 sections"
        );
    }
}
