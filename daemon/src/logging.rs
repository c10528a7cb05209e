//! Logging: tracing to stderr and a daily rolling file in the log folder,
//! the last message of each level also in DebugLog/InfoLog/WarningLog/
//! ErrorLog, LogLevel and SilencedLoggers applied at run time.

use callbacks::Publish;
use std::cell::Cell;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

static SINK: OnceLock<Arc<dyn Publish>> = OnceLock::new();

thread_local! {
    static PUBLISHING: Cell<bool> = const { Cell::new(false) };
}

/// The crates whose messages follow LogLevel (and reach the log PVs);
/// every other crate logs at WARN and above.
const OURS: [&str; 10] = [
    "daemon",
    "fws_daemon",
    "runner",
    "callbacks",
    "sim",
    "ca",
    "epics",
    "station",
    "planner",
    "custom_callback",
];

/// The library crates whose targets begin like ours (`epics` is a prefix
/// of `epics_ca_rs`: an `EnvFilter` directive matches by prefix), kept at
/// the default level by a more specific directive.
const NOT_OURS: [&str; 2] = ["epics_ca_rs", "epics_base_rs"];

/// The run-time settings, and the filter they are applied to. tracing
/// caches each call site's interest after its first event, so a filter
/// that only answers "enabled?" would keep the first answer forever: the
/// filter is replaced through a reload handle instead, which rebuilds every
/// call site's interest.
struct Filter {
    /// 0 DEBUG, 1 INFO, 2 WARNING, 3 ERROR (the LogLevel PV's states).
    level: i64,
    /// Targets (module paths) whose messages are dropped.
    silenced: Vec<String>,
    handle: reload::Handle<EnvFilter, Registry>,
}

static FILTER: Mutex<Option<Filter>> = Mutex::new(None);

/// The filter's directives for these settings.
fn directives(level: i64, silenced: &[String]) -> String {
    let ours = match level {
        i64::MIN..=0 => "debug",
        1 => "info",
        2 => "warn",
        _ => "error",
    };
    let mut out = vec!["warn".to_string()];
    out.extend(OURS.iter().map(|c| format!("{c}={ours}")));
    out.extend(NOT_OURS.iter().map(|c| format!("{c}=warn")));
    out.extend(silenced.iter().map(|t| format!("{t}=off")));
    out.join(",")
}

/// The filter layer and its handle, at the default settings (INFO).
fn reloadable() -> (
    reload::Layer<EnvFilter, Registry>,
    reload::Handle<EnvFilter, Registry>,
) {
    reload::Layer::new(EnvFilter::new(directives(1, &[])))
}

fn apply(change: impl FnOnce(&mut Filter)) {
    let Ok(mut slot) = FILTER.lock() else { return };
    let Some(filter) = slot.as_mut() else { return };
    change(filter);
    let updated = EnvFilter::new(directives(filter.level, &filter.silenced));
    if let Err(e) = filter.handle.reload(updated) {
        drop(slot);
        tracing::error!("the log filter could not be changed: {e}");
    }
}

/// Applies the LogLevel PV (0..3).
pub fn set_level(state: i64) {
    apply(|f| f.level = state.clamp(0, 3));
}

/// Applies the SilencedLoggers PV: comma- or space-separated targets
/// (module paths such as `runner::sequence`; the reference's dotted
/// spelling `runner.sequence` is accepted) whose messages are dropped.
/// Returns the entries that are not logger names (ignored).
pub fn set_silenced(text: &str) -> Vec<String> {
    let (valid, ignored) = silenced_targets(text);
    apply(|f| f.silenced = valid);
    ignored
}

/// SilencedLoggers' text read, without applying it: the targets, and the
/// entries that are not logger names.
pub fn silenced_targets(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut valid, mut ignored) = (Vec::new(), Vec::new());
    for entry in text.split([',', ' ']).filter(|s| !s.is_empty()) {
        let target = entry.replace('.', "::");
        let name_like = target.split("::").all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if name_like {
            valid.push(target);
        } else {
            ignored.push(entry.to_string());
        }
    }
    (valid, ignored)
}

/// Where the log PVs are published, once the PV server runs.
pub fn publish_to(sink: Arc<dyn Publish>) {
    let _ = SINK.set(sink);
}

fn ours(target: &str) -> bool {
    // Asked for every event: no allocation.
    OURS.iter().any(|c| {
        target
            .strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}{}", self.0);
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = format!("{value}{}", self.0);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

/// Copies our messages to the log PVs.
struct PvLayer;

impl<S: Subscriber> Layer<S> for PvLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !ours(meta.target()) || PUBLISHING.with(Cell::get) {
            return;
        }
        let Some(sink) = SINK.get() else { return };
        let mut message = Message(String::new());
        event.record(&mut message);
        let pv = match *meta.level() {
            Level::ERROR => "ErrorLog",
            Level::WARN => "WarningLog",
            Level::INFO => "InfoLog",
            _ => "DebugLog",
        };
        // Shortened to fit, ending in "…", as every status text is.
        let text = ca::PvType::Text {
            max_len: crate::bridge::LOG_LEN,
        }
        .fit(ca::Value::Text(message.0));
        // Publishing may log (a failed set): never recurse into it.
        PUBLISHING.with(|p| p.set(true));
        sink.publish(pv, epics::from_ca(text));
        PUBLISHING.with(|p| p.set(false));
    }
}

/// Lines waiting for the log file's writer thread.
const LOG_QUEUE_LINES: usize = 8192;

/// The log file's writer guard: dropping it flushes the file.
static FILE_GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

fn install(handle: reload::Handle<EnvFilter, Registry>) {
    if let Ok(mut slot) = FILTER.lock() {
        *slot = Some(Filter {
            level: 1,
            silenced: Vec::new(),
            handle,
        });
    }
}

/// Flushes the log file; later messages reach stderr only. Call before
/// the process ends.
pub fn flush() {
    if let Ok(mut guard) = FILE_GUARD.lock() {
        guard.take();
    }
}

/// Starts logging to stderr and `<log_dir>/fws-daemon.log.<date>`;
/// [`flush`] before the process ends.
pub fn init(log_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| format!("log folder {}: {e}", log_dir.display()))?;
    let probe = log_dir.join(".fws-daemon-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("log folder {} is not writable: {e}", log_dir.display()))?;
    let _ = std::fs::remove_file(probe);
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("fws-daemon.log")
        .max_log_files(30)
        .build(log_dir)
        .map_err(|e| format!("log folder {}: {e}", log_dir.display()))?;
    // A bounded queue of lines for the writer thread: 128 000 by default, a
    // 4 MB array touched page by page as lines pass; a few thousand lines
    // cover any burst (a full queue drops lines, and says how many).
    let (file, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(appender);
    let (filter, handle) = reloadable();
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // journald and pipes get no colour codes.
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file),
        )
        .with(PvLayer)
        .try_init()
        .map_err(|e| e.to_string())?;
    install(handle);
    if let Ok(mut slot) = FILE_GUARD.lock() {
        *slot = Some(guard);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner::Value;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Sink(Mutex<Vec<(String, String)>>);

    impl Publish for Sink {
        fn publish(&self, name: &str, value: Value) {
            if let Value::Text(t) = value {
                self.0.lock().unwrap().push((name.to_string(), t));
            }
        }
    }

    impl Sink {
        fn take(&self) -> Vec<(String, String)> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    /// What the stderr and file layers write, for the test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    /// One call site, logged again and again: tracing caches its interest
    /// after the first event, which is what the old filter never saw.
    fn tick(n: u32) {
        tracing::info!("tick {n}");
    }

    fn sequence_says(n: u32) {
        tracing::info!(target: "runner::sequence", "step {n} done");
    }

    // One test: the sink and the filter are process-wide.
    #[test]
    fn the_last_message_of_each_level_reaches_its_pv_under_the_run_time_settings() {
        let sink = Arc::new(Sink::default());
        publish_to(sink.clone());
        let written = Written::default();
        let out = written.clone();
        let (filter, handle) = reloadable();
        install(handle);
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || out.clone()),
            )
            .with(PvLayer);
        tracing::subscriber::with_default(subscriber, || {
            // The same call sites before and after each change (issue 11, A1).
            tick(1);
            sequence_says(1);
            set_level(2);
            tick(2);
            sequence_says(2);
            set_level(1);
            tick(3);
            assert!(set_silenced("runner.sequence").is_empty());
            sequence_says(3);
            tick(4);
            assert_eq!(set_silenced("runner::sequence, bad/name"), ["bad/name"]);
            sequence_says(4);
            set_silenced("");
            sequence_says(5);
            assert_eq!(
                sink.take(),
                [
                    ("InfoLog".to_string(), "tick 1".to_string()),
                    ("InfoLog".into(), "step 1 done".into()),
                    ("InfoLog".into(), "tick 3".into()),
                    ("InfoLog".into(), "tick 4".into()),
                    ("InfoLog".into(), "step 5 done".into()),
                ],
                "WARNING drops INFO; a silenced target is dropped until cleared"
            );
            let lines = written.take();
            for (kept, says) in [
                (true, "tick 1"),
                (false, "tick 2"),
                (true, "tick 3"),
                (false, "step 2 done"),
                (false, "step 3 done"),
                (false, "step 4 done"),
                (true, "step 5 done"),
            ] {
                assert_eq!(
                    lines.contains(says),
                    kept,
                    "{says:?} in stderr/file: {lines}"
                );
            }

            tracing::error!("e1");
            tracing::warn!(step = 3, "w1");
            tracing::info!("i1");
            tracing::debug!("d1");
            assert_eq!(
                sink.take(),
                [
                    ("ErrorLog".to_string(), "e1".to_string()),
                    ("WarningLog".into(), "w1 step=3".into()),
                    ("InfoLog".into(), "i1".into()),
                ],
                "LogLevel INFO (default) drops DEBUG"
            );

            set_level(0);
            tracing::debug!("d2");
            set_level(2);
            tracing::info!("i2");
            tracing::warn!("w2");
            set_level(1);
            assert_eq!(
                sink.take(),
                [
                    ("DebugLog".to_string(), "d2".to_string()),
                    ("WarningLog".into(), "w2".into()),
                ]
            );

            // Other crates' messages never reach the operator's PVs, and
            // their INFO is not shown at all.
            tracing::error!(target: "epics_ca_rs::client", "circuit closed");
            tracing::info!(target: "epics_ca_rs::client", "chatty");
            assert!(!written.take().contains("chatty"));
            set_silenced("fws_daemon::logging, runner::sequence");
            tracing::error!("silenced");
            tracing::error!(target: "runner::sequence", "silenced too");
            tracing::error!(target: "epics::collector", "kept");
            set_silenced("");
            assert_eq!(sink.take(), [("ErrorLog".to_string(), "kept".to_string())]);

            // Longer than the PV holds: cut at a character boundary, "…".
            let long = "é".repeat(crate::bridge::LOG_LEN);
            tracing::info!("{long}");
            let published = sink.take();
            let text = &published[0].1;
            assert!(
                text.len() <= crate::bridge::LOG_LEN && text.len() >= crate::bridge::LOG_LEN - 4
            );
            let kept = text.strip_suffix('…').expect("ends in an ellipsis");
            assert!(long.starts_with(kept));
        });
    }
}
