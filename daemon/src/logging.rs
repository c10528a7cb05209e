//! Logging: tracing to stderr and a daily rolling file in the log folder,
//! the last message of each level also in DebugLog/InfoLog/WarningLog/
//! ErrorLog, LogLevel and SilencedLoggers applied at run time.

use ca::Value;
use callbacks::Publish;
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// 0 DEBUG, 1 INFO, 2 WARNING, 3 ERROR (the LogLevel PV's states).
static LEVEL: AtomicU8 = AtomicU8::new(1);
static SILENCED: RwLock<Vec<String>> = RwLock::new(Vec::new());
static SINK: OnceLock<Arc<dyn Publish>> = OnceLock::new();

thread_local! {
    static PUBLISHING: Cell<bool> = const { Cell::new(false) };
}

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 2,
        Level::INFO => 1,
        _ => 0,
    }
}

/// Applies the LogLevel PV (0..3).
pub fn set_level(state: i64) {
    LEVEL.store(state.clamp(0, 3) as u8, Ordering::Relaxed);
}

/// Applies the SilencedLoggers PV: comma- or space-separated targets
/// (module paths such as `runner::sequence`) whose messages are dropped.
pub fn set_silenced(text: &str) {
    let list = text
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Ok(mut silenced) = SILENCED.write() {
        *silenced = list;
    }
}

/// Where the log PVs are published, once the PV server runs.
pub fn publish_to(sink: Arc<dyn Publish>) {
    let _ = SINK.set(sink);
}

fn ours(target: &str) -> bool {
    [
        "daemon",
        "fws_daemon",
        "runner",
        "callbacks",
        "sim",
        "ca",
        "planner",
    ]
    .iter()
    .any(|c| target == *c || target.starts_with(&format!("{c}::")))
}

fn enabled(level: &Level, target: &str) -> bool {
    // The CA library is chatty below WARN; its warnings still show.
    let floor = if ours(target) {
        LEVEL.load(Ordering::Relaxed)
    } else {
        2
    };
    if rank(level) < floor {
        return false;
    }
    SILENCED
        .read()
        .map(|s| !s.iter().any(|t| target.starts_with(t.as_str())))
        .unwrap_or(true)
}

/// LogLevel and SilencedLoggers, as a filter of events (spans pass).
fn event_filter<S: Subscriber>() -> impl Layer<S> {
    filter_fn(|meta| !meta.is_event() || enabled(meta.level(), meta.target()))
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
        let mut text = message.0;
        if text.len() > crate::bridge::LOG_LEN {
            let mut end = crate::bridge::LOG_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        // Publishing may log (a failed set): never recurse into it.
        PUBLISHING.with(|p| p.set(true));
        sink.publish(pv, Value::Text(text));
        PUBLISHING.with(|p| p.set(false));
    }
}

/// The log file's writer guard: dropping it flushes the file.
static FILE_GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

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
    let (file, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::registry()
        .with(event_filter())
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file),
        )
        .with(PvLayer)
        .try_init()
        .map_err(|e| e.to_string())?;
    if let Ok(mut slot) = FILE_GUARD.lock() {
        *slot = Some(guard);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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

    // One test: the sink, level and silenced list are process-wide.
    #[test]
    fn the_last_message_of_each_level_reaches_its_pv_under_the_run_time_settings() {
        let sink = Arc::new(Sink::default());
        publish_to(sink.clone());
        let subscriber = tracing_subscriber::registry()
            .with(event_filter())
            .with(PvLayer);
        tracing::subscriber::with_default(subscriber, || {
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

            // Other crates' messages never reach the operator's PVs.
            tracing::error!(target: "epics_ca_rs::client", "circuit closed");
            set_silenced("fws_daemon::logging, runner::sequence");
            tracing::error!("silenced");
            tracing::error!(target: "runner::sequence", "silenced too");
            tracing::error!(target: "runner::epics", "kept");
            set_silenced("");
            assert_eq!(sink.take(), [("ErrorLog".to_string(), "kept".to_string())]);

            // Longer than the PV holds: cut at a character boundary.
            let long = "é".repeat(crate::bridge::LOG_LEN);
            tracing::info!("{long}");
            let published = sink.take();
            let text = &published[0].1;
            assert!(
                text.len() <= crate::bridge::LOG_LEN && text.len() >= crate::bridge::LOG_LEN - 1
            );
            assert!(long.starts_with(text.as_str()));
        });
    }
}
