//! The control cycle, driven by client writes (no polling): Trigger=1
//! starts a sequence at once; one sequence at a time; inputs are
//! autosaved; LogLevel and SilencedLoggers apply at once.

use crate::autosave::Autosave;
use crate::bridge::{TaskStatus, INPUTS};
use crate::context::Context;
use crate::logging;
use crate::memory;
use crate::task;
use crate::throttle::{self, Throttle};
use crate::watchdog::{Liveness, BEAT_PERIOD};
use ca::{PvServer, Value, WriteEvent};
use runner::{Directive, ExitStatus};
use sim::SimIoc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// The loop's side of the watchdog.
pub struct Watch {
    /// Beaten each heartbeat.
    pub liveness: Arc<Liveness>,
    /// Test-only: block the loop's thread after this long.
    pub stall_after: Option<Duration>,
}

/// Runs until `shutdown` resolves or the server's write stream ends.
pub async fn run(
    ctx: Arc<Context>,
    mut writes: mpsc::Receiver<WriteEvent>,
    sim: Option<(Arc<SimIoc>, Arc<PvServer>)>,
    mut autosave: Option<Autosave>,
    watch: Watch,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut running: Option<(JoinHandle<task::TaskEnd>, Instant)> = None;
    // What clients cause is said once per kind and window, then counted.
    let mut throttle = Throttle::default();
    let mut beat = tokio::time::interval(BEAT_PERIOD);
    let mut heartbeat = 0;
    let stall = tokio::time::sleep(watch.stall_after.unwrap_or(Duration::MAX / 4));
    tokio::pin!(stall);
    loop {
        tokio::select! {
            _ = beat.tick() => {
                // From the loop itself: a stalled loop stops the heartbeat.
                if !watch.liveness.tripped() {
                    watch.liveness.beat();
                    heartbeat ^= 1;
                    ctx.set("Heartbeat", Value::Long(heartbeat));
                }
                for summary in throttle.due(Instant::now()) {
                    warn!("{summary}");
                }
            }
            _ = &mut stall, if watch.stall_after.is_some() => {
                error!("test-only stall injection: the control loop blocks its thread now");
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            event = writes.recv() => {
                let Some(event) = event else { break };
                match event {
                    WriteEvent::Accepted(w) => {
                        if let Some((sim, server)) = sim.as_ref().filter(|(s, _)| s.owns(&w.name)) {
                            sim.on_write(&w, server);
                            continue;
                        }
                        let Some(name) = w.name.strip_prefix(&ctx.prefixes.main) else { continue };
                        if INPUTS.contains(&name) {
                            ctx.input_accepted(name);
                            save_input(&mut autosave, name, w.value.clone());
                        }
                        match (name, &w.value) {
                            ("LogLevel", Value::Long(level)) => logging::set_level(*level),
                            ("SilencedLoggers", Value::Text(t)) => {
                                let ignored = logging::set_silenced(t);
                                if !ignored.is_empty() {
                                    let said = format!(
                                        "SilencedLoggers: {ignored:?} are not logger names \
                                         (module paths such as runner::sequence); ignored"
                                    );
                                    if let Some(line) = throttle.pass("silenced", said, Instant::now()) {
                                        warn!("{line}");
                                    }
                                }
                            }
                            ("ScanControl", Value::Long(value)) => {
                                scan_control(&ctx, *value, running.is_some(), &w.client, &mut throttle);
                            }
                            ("Trigger", Value::Long(1)) => {
                                if running.is_some() {
                                    let said = format!("Trigger from {} ignored: a sequence is running", w.client);
                                    if let Some(line) = throttle.pass("trigger-busy", said, Instant::now()) {
                                        warn!("{line}");
                                    }
                                } else {
                                    running = Some(start(&ctx));
                                }
                            }
                            _ => {}
                        }
                    }
                    WriteEvent::Refused { name, sent, reason, client } => {
                        let short = name.strip_prefix(&ctx.prefixes.main).unwrap_or(&name).to_string();
                        let message = format!("{short}: the write of {sent} was refused ({reason})");
                        let said = format!("{message} [from {client}]");
                        // Held back when the same sort of write is refused
                        // again (a flood, whatever values it sends); another
                        // sort of mistake is told at once.
                        if let Some(line) = throttle.pass(&format!("refused:{short}:{}", throttle::kind_of(&reason)), said, Instant::now()) {
                            error!("{line}");
                        }
                        if INPUTS.contains(&short.as_str()) {
                            ctx.input_refused(&short, message);
                        }
                    }
                }
            }
            ended = async {
                match running.as_mut() {
                    Some((task, _)) => task.await,
                    None => std::future::pending().await,
                }
            }, if running.is_some() => {
                let started = running.take().map(|(_, t)| t).unwrap_or_else(Instant::now);
                let end = ended.unwrap_or_else(|e| {
                    error!("the sequence task failed: {e}");
                    task::TaskEnd {
                        status: TaskStatus::CodeCrash,
                        exit: ExitStatus::Failed,
                        reason: format!("internal error: the sequence task failed: {e}"),
                    }
                });
                finish(&ctx, &end, started.elapsed());
            }
            _ = &mut shutdown => {
                info!("shutting down");
                break;
            }
        }
    }
    // No more beats from here: the watchdog must not take the shutdown
    // (waiting for an aborted sequence's file) for a stall.
    watch.liveness.stop();
    // Inputs written just before the shutdown are saved too.
    while let Ok(event) = writes.try_recv() {
        if let WriteEvent::Accepted(w) = event {
            match w.name.strip_prefix(&ctx.prefixes.main) {
                Some(name) if INPUTS.contains(&name) => save_input(&mut autosave, name, w.value),
                _ => {}
            }
        }
    }
    if let Some((mut task, started)) = running {
        // An abort, so the file is closed with its exit status.
        warn!("shutdown: aborting the running sequence");
        ctx.control.set(Directive::Abort);
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(end)) => finish(&ctx, &end, started.elapsed()),
            Ok(Err(e)) => error!("the sequence task failed: {e}"),
            Err(_) => {
                task.abort();
                warn!(
                    "the sequence did not end within {} s of the abort; \
                     its file keeps the completed steps",
                    SHUTDOWN_GRACE.as_secs()
                );
            }
        }
    }
}

/// How long a shutdown waits for an aborted sequence to close its file.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An operator's ScanControl write: the running sequence sees it at once;
/// with none running, PAUSE holds the next one before its first step and
/// STOP or ABORT have nothing to end.
fn scan_control(ctx: &Context, value: i64, running: bool, client: &str, throttle: &mut Throttle) {
    let Some(directive) = Directive::from_value(value) else {
        return;
    };
    if directive == ctx.control.get() {
        // Nothing new (e.g. the IOC echoing the daemon's own reset).
        return;
    }
    let now = Instant::now();
    if !running && matches!(directive, Directive::Abort | Directive::Stop) {
        let said = format!(
            "ScanControl {} from {client}: no sequence is running; back to RESUME",
            directive.label()
        );
        if let Some(line) = throttle.pass("control-idle", said, now) {
            warn!("{line}");
        }
        set_control(ctx, Directive::Resume);
        return;
    }
    ctx.control.set(directive);
    let said = match (directive, running) {
        (Directive::Pause, false) => format!(
            "ScanControl PAUSE from {client}: the next sequence will hold before its first step"
        ),
        _ => format!("ScanControl {} from {client}", directive.label()),
    };
    if let Some(line) = throttle.pass(&format!("control:{}", directive.label()), said, now) {
        info!("{line}");
    }
}

fn set_control(ctx: &Context, directive: Directive) {
    ctx.control.set(directive);
    ctx.set("ScanControl", Value::Long(directive as i64));
}

/// Saves an input (a site IOC keeps its own: no autosave then).
fn save_input(autosave: &mut Option<Autosave>, name: &str, value: Value) {
    if let Some(Err(e)) = autosave.as_mut().map(|a| a.save(name, value)) {
        warn!("{e}");
    }
}

fn start(ctx: &Arc<Context>) -> (JoinHandle<task::TaskEnd>, Instant) {
    // The last sequence's progress, file and ending must not read as this
    // one's (a Task Fail writes no file: FileName stays empty).
    ctx.set("ScanCurrentStep", Value::Long(0));
    ctx.set("ScanElapsedTime", Value::Double(0.0));
    ctx.set("FileName", Value::Text(String::new()));
    ctx.set("ScanExitStatus", Value::Long(ExitStatus::Running as i64));
    ctx.set("ScanExitReason", Value::Text(String::new()));
    ctx.set("Busy", Value::Long(1));
    info!("sequence started");
    let control = ctx.control.subscribe();
    (
        tokio::spawn(task::run(Arc::clone(ctx), control)),
        Instant::now(),
    )
}

fn finish(ctx: &Context, end: &task::TaskEnd, took: Duration) {
    let status = end.status;
    // A STOP or ABORT is spent with the sequence it ended: the next one
    // must not end at once.
    if matches!(ctx.control.get(), Directive::Abort | Directive::Stop) {
        set_control(ctx, Directive::Resume);
    }
    ctx.set("ScanExitStatus", Value::Long(end.exit as i64));
    ctx.set("ScanExitReason", Value::Text(end.reason.clone()));
    ctx.set("TaskStatus", Value::Long(status as i64));
    if status != TaskStatus::Skipped {
        ctx.set("TaskDuration", Value::Double(took.as_secs_f64()));
    }
    ctx.set("Busy", Value::Long(0));
    ctx.set("Trigger", Value::Long(0));
    // After the operator sees the end: off the async workers.
    tokio::task::spawn_blocking(memory::give_back);
    info!(
        "sequence ended: {status:?} ({}) after {:.3} s",
        end.exit.label(),
        took.as_secs_f64()
    );
}
