//! The control cycle, driven by client writes (no polling): Trigger=1
//! starts a sequence at once; one sequence at a time; inputs are
//! autosaved; LogLevel and SilencedLoggers apply at once.
//!
//! The rules are [`machine::Cycle`]'s (no I/O, unit-tested); this shell
//! turns the write stream, the heartbeat's timer, the sequence's end and
//! the shutdown into its events and performs its actions. The simulator's
//! writes and the test-only stall injection stay here.

pub mod machine;

use crate::autosave::Autosave;
use crate::context::Context;
use crate::logging;
use crate::memory;
use crate::task;
use crate::watchdog::{Liveness, BEAT_PERIOD};
use ca::{PvServer, WriteEvent};
use machine::{Action, Cycle, Event, Level};
use runner::{control_channel, ControlSender};
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

/// Runs until `shutdown` resolves or the server's write stream ends; at a
/// shutdown a running sequence is aborted and waited for (see
/// [`machine::SHUTDOWN_GRACE`]).
pub async fn run(
    ctx: Arc<Context>,
    mut writes: mpsc::Receiver<WriteEvent>,
    sim: Option<(crate::embedded_sim::Embedded, Arc<PvServer>)>,
    autosave: Option<Autosave>,
    watch: Watch,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let main = ctx.prefixes.main.clone();
    let mut cycle = Cycle::default();
    let mut shell = Shell {
        ctx,
        autosave,
        liveness: Arc::clone(&watch.liveness),
        control: control_channel().0,
        running: None,
        grace: None,
    };
    let mut beat = tokio::time::interval(BEAT_PERIOD);
    let stall = tokio::time::sleep(watch.stall_after.unwrap_or(Duration::MAX / 4));
    tokio::pin!(stall);
    loop {
        let event = tokio::select! {
            _ = beat.tick() => Event::Tick { tripped: watch.liveness.tripped() },
            _ = &mut stall, if watch.stall_after.is_some() => {
                error!("test-only stall injection: the control loop blocks its thread now");
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            event = writes.recv() => match event {
                None => Event::Shutdown,
                Some(WriteEvent::Accepted(w))
                    if sim.as_ref().is_some_and(|(sim, server)| sim.on_write(&w, server)) =>
                {
                    continue;
                }
                Some(event) => match Event::from_write(event, &main) {
                    Some(event) => event,
                    None => continue,
                },
            },
            ended = async {
                match shell.running.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            }, if shell.running.is_some() => {
                shell.running = None;
                Event::Ended(ended.map_err(|e| e.to_string()))
            }
            _ = &mut shutdown => Event::Shutdown,
        };
        let last = matches!(event, Event::Shutdown);
        shell.perform(cycle.on(event, Instant::now()));
        if last {
            break;
        }
    }
    // Inputs written just before the shutdown are saved too.
    while let Ok(event) = writes.try_recv() {
        if let Some(event) = Event::from_write(event, &main) {
            shell.perform(cycle.on(event, Instant::now()));
        }
    }
    if let (Some(grace), Some(task)) = (shell.grace, shell.running.as_mut()) {
        let event = match tokio::time::timeout(grace, task).await {
            Ok(ended) => {
                shell.running = None;
                Event::Ended(ended.map_err(|e| e.to_string()))
            }
            Err(_) => Event::GraceOver,
        };
        shell.perform(cycle.on(event, Instant::now()));
    }
}

/// What the actions act on.
struct Shell {
    ctx: Arc<Context>,
    /// A site IOC keeps its own inputs: no autosave then.
    autosave: Option<Autosave>,
    liveness: Arc<Liveness>,
    /// The operator's ScanControl as the sequence sees it (the machine's
    /// directive, sent on).
    control: ControlSender,
    /// The running sequence.
    running: Option<JoinHandle<task::TaskEnd>>,
    /// How long a shutdown waits for it.
    grace: Option<Duration>,
}

impl Shell {
    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Set(name, value) => self.ctx.set(name, value),
                Action::Log(Level::Info, line) => info!("{line}"),
                Action::Log(Level::Warn, line) => warn!("{line}"),
                Action::Log(Level::Error, line) => error!("{line}"),
                Action::Save(name, value) => {
                    if let Some(Err(e)) = self.autosave.as_mut().map(|a| a.save(&name, value)) {
                        warn!("{e}");
                    }
                }
                Action::Start(refused) => {
                    let control = self.control.subscribe();
                    let ctx = Arc::clone(&self.ctx);
                    self.running = Some(tokio::spawn(task::run(
                        ctx,
                        &crate::procedure::fws::FwsHardScan,
                        control,
                        refused,
                    )));
                }
                Action::Direct(directive) => self.control.set(directive),
                Action::Beat => self.liveness.beat(),
                Action::StandDown => self.liveness.stop(),
                Action::AwaitEnd(grace) => self.grace = Some(grace),
                Action::DropTask => {
                    if let Some(task) = self.running.take() {
                        task.abort();
                    }
                }
                Action::SetLogLevel(level) => logging::set_level(level),
                Action::Silence(text) => {
                    // The machine said which entries are ignored.
                    let _ = logging::set_silenced(&text);
                }
                // Off the async workers.
                Action::GiveBack => drop(tokio::task::spawn_blocking(memory::give_back)),
            }
        }
    }
}
