//! The control cycle, driven by client writes (no polling): Trigger=1
//! starts a sequence at once; one sequence at a time; inputs are
//! autosaved; LogLevel and SilencedLoggers apply at once.

use crate::autosave::Autosave;
use crate::bridge::{TaskStatus, INPUTS};
use crate::context::Context;
use crate::logging;
use crate::task;
use ca::{Value, WriteEvent};
use sim::SimIoc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// Runs until `shutdown` resolves or the server's write stream ends.
pub async fn run(
    ctx: Arc<Context>,
    mut writes: mpsc::Receiver<WriteEvent>,
    sim: Option<Arc<SimIoc>>,
    mut autosave: Autosave,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut running: Option<(JoinHandle<task::TaskEnd>, Instant)> = None;
    let heartbeat = tokio::spawn(heartbeat(Arc::clone(&ctx)));
    loop {
        tokio::select! {
            event = writes.recv() => {
                let Some(event) = event else { break };
                match event {
                    WriteEvent::Accepted(w) => {
                        if let Some(sim) = sim.as_ref().filter(|s| s.owns(&w.name)) {
                            sim.on_write(&w, &ctx.server);
                            continue;
                        }
                        let Some(name) = w.name.strip_prefix(&ctx.prefixes.main) else { continue };
                        if INPUTS.contains(&name) {
                            ctx.input_accepted(name);
                            save_input(&mut autosave, name, w.value.clone());
                        }
                        match (name, &w.value) {
                            ("LogLevel", Value::Long(level)) => logging::set_level(*level),
                            ("SilencedLoggers", Value::Text(t)) => logging::set_silenced(t),
                            ("Trigger", Value::Long(1)) => {
                                if running.is_some() {
                                    warn!("Trigger from {} ignored: a sequence is running", w.client);
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
                        error!("{message} [from {client}]");
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
                let status = match ended {
                    Ok(end) => end.status,
                    Err(e) => {
                        error!("the sequence task failed: {e}");
                        TaskStatus::CodeCrash
                    }
                };
                finish(&ctx, status, started.elapsed());
            }
            _ = &mut shutdown => {
                info!("shutting down");
                break;
            }
        }
    }
    heartbeat.abort();
    // Inputs written just before the shutdown are saved too.
    while let Ok(event) = writes.try_recv() {
        if let WriteEvent::Accepted(w) = event {
            match w.name.strip_prefix(&ctx.prefixes.main) {
                Some(name) if INPUTS.contains(&name) => save_input(&mut autosave, name, w.value),
                _ => {}
            }
        }
    }
    if let Some((task, _)) = running {
        task.abort();
        warn!("a running sequence was stopped by the shutdown; its file keeps the completed steps");
    }
}

fn save_input(autosave: &mut Autosave, name: &str, value: Value) {
    if let Err(e) = autosave.save(name, value) {
        warn!("{e}");
    }
}

fn start(ctx: &Arc<Context>) -> (JoinHandle<task::TaskEnd>, Instant) {
    ctx.set("Busy", Value::Long(1));
    info!("sequence started");
    (tokio::spawn(task::run(Arc::clone(ctx))), Instant::now())
}

fn finish(ctx: &Context, status: TaskStatus, took: Duration) {
    ctx.set("TaskStatus", Value::Long(status as i64));
    if status != TaskStatus::Skipped {
        ctx.set("TaskDuration", Value::Double(took.as_secs_f64()));
    }
    ctx.set("Busy", Value::Long(0));
    ctx.set("Trigger", Value::Long(0));
    info!(
        "sequence ended: {status:?} after {:.3} s",
        took.as_secs_f64()
    );
}

async fn heartbeat(ctx: Arc<Context>) {
    let mut beat = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        beat ^= 1;
        ctx.set("Heartbeat", Value::Long(beat));
    }
}
