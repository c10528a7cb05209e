//! The control cycle's rules without I/O: [`Cycle::on`] takes what
//! happened (a client's write, a refused write, the heartbeat's tick, the
//! sequence's end, the shutdown) and returns what to do, in order (PV
//! writes, log lines, autosave, start or direct or drop the sequence, ...).
//! It is the one owner of the cycle's state: busy or not, the operator's
//! directive (ScanControl), the inputs whose last write was refused, the
//! heartbeat, the throttle of client-caused messages. The async shell
//! (`cycle::run`) only turns writes into events and actions into effects.

use crate::bridge::{TaskStatus, INPUTS};
use crate::logging;
use crate::task::TaskEnd;
use crate::throttle::{self, Throttle};
use ca::{Value, WriteEvent};
use runner::{Directive, ExitStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a shutdown waits for an aborted sequence to close its file.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The inputs whose last write was refused, each with the operator's
/// message; a sequence does not start while one is left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefusedInputs(BTreeMap<String, String>);

impl RefusedInputs {
    /// The last write to input `name` was refused.
    pub fn refused(&mut self, name: &str, message: String) {
        self.0.insert(name.to_string(), message);
    }

    /// A valid value arrived for input `name`.
    pub fn accepted(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// The first problem, in the inputs' name order.
    pub fn first(&self) -> Option<&str> {
        self.0.values().next().map(String::as_str)
    }
}

/// What the cycle hears.
#[derive(Debug)]
pub enum Event {
    /// An accepted write to one of the daemon's PVs (unprefixed name).
    Wrote {
        /// The PV, without the main prefix.
        name: String,
        /// Its new value.
        value: Value,
        /// Who wrote it, for messages.
        client: String,
    },
    /// A refused write (the PV kept its value).
    Refused {
        /// The PV: unprefixed when it is one of the daemon's.
        name: String,
        /// What was sent, as text.
        sent: String,
        /// Why it was refused.
        reason: String,
        /// Who sent it.
        client: String,
    },
    /// The heartbeat's period passed; `tripped`: the watchdog gave up on
    /// the loop.
    Tick {
        /// The watchdog has tripped: the heartbeat must stop.
        tripped: bool,
    },
    /// The running sequence ended: its ending, or why its task failed.
    Ended(Result<TaskEnd, String>),
    /// SIGTERM, Ctrl-C or the end of the write stream.
    Shutdown,
    /// The aborted sequence did not end within the shutdown's grace.
    GraceOver,
}

impl Event {
    /// The event of a write to the server (or the IOC), `main` being the
    /// daemon's prefix; `None` for an accepted write to a PV not ours.
    pub fn from_write(event: WriteEvent, main: &str) -> Option<Self> {
        match event {
            WriteEvent::Accepted(w) => Some(Self::Wrote {
                name: w.name.strip_prefix(main)?.to_string(),
                value: w.value,
                client: w.client,
            }),
            WriteEvent::Refused {
                name,
                sent,
                reason,
                client,
            } => Some(Self::Refused {
                name: name.strip_prefix(main).map(str::to_string).unwrap_or(name),
                sent,
                reason,
                client,
            }),
        }
    }
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// INFO.
    Info,
    /// WARN.
    Warn,
    /// ERROR.
    Error,
}

/// What the cycle asks of its shell, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write one of the daemon's PVs (unprefixed name).
    Set(&'static str, Value),
    /// Log a line.
    Log(Level, String),
    /// Autosave an input.
    Save(String, Value),
    /// Start a sequence, with the inputs refused so far; it sees the
    /// directive of the last [`Action::Direct`] (RESUME before any).
    Start(RefusedInputs),
    /// The running (or next) sequence's directive, seen at once.
    Direct(Directive),
    /// Tell the watchdog the loop is alive.
    Beat,
    /// The loop ends on purpose: the watchdog stands down.
    StandDown,
    /// Wait this long for the running sequence to end, then send
    /// [`Event::GraceOver`].
    AwaitEnd(Duration),
    /// Drop the sequence's task.
    DropTask,
    /// Apply LogLevel (0..3).
    SetLogLevel(i64),
    /// Apply SilencedLoggers (its text).
    Silence(String),
    /// Give memory back to the system (after a sequence).
    GiveBack,
}

/// The control cycle's state.
pub struct Cycle {
    /// When the running sequence started.
    running: Option<Instant>,
    /// Shutting down: only inputs are still saved.
    stopping: bool,
    /// The directive the sequence sees.
    control: Directive,
    refused: RefusedInputs,
    /// What clients cause is said once per kind and window, then counted.
    throttle: Throttle,
    heartbeat: i64,
}

impl Default for Cycle {
    /// Idle, RESUME, no input refused.
    fn default() -> Self {
        Self {
            running: None,
            stopping: false,
            control: Directive::Resume,
            refused: RefusedInputs::default(),
            throttle: Throttle::default(),
            heartbeat: 0,
        }
    }
}

impl Cycle {
    /// A sequence is running.
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// The directive the sequence sees.
    #[cfg(test)]
    pub fn control(&self) -> Directive {
        self.control
    }

    /// What to do about `event`, which happened at `now`.
    pub fn on(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Wrote {
                name,
                value,
                client,
            } => self.wrote(name, value, &client, now, &mut out),
            Event::Refused {
                name,
                sent,
                reason,
                client,
            } if !self.stopping => {
                let message = format!("{name}: the write of {sent} was refused ({reason})");
                let said = format!("{message} [from {client}]");
                // Held back when the same sort of write is refused again (a
                // flood, whatever values it sends); another sort of mistake
                // is told at once.
                let key = format!("refused:{name}:{}", throttle::kind_of(&reason));
                self.say(Level::Error, &key, said, now, &mut out);
                if INPUTS.contains(&name.as_str()) {
                    self.refused.refused(&name, message);
                }
            }
            Event::Refused { .. } => {}
            Event::Tick { tripped } if !self.stopping => {
                // From the loop itself: a stalled loop stops the heartbeat.
                if !tripped {
                    self.heartbeat ^= 1;
                    out.push(Action::Beat);
                    out.push(Action::Set("Heartbeat", Value::Long(self.heartbeat)));
                }
                for summary in self.throttle.due(now) {
                    out.push(Action::Log(Level::Warn, summary));
                }
            }
            Event::Tick { .. } => {}
            Event::Ended(ended) => self.ended(ended, now, &mut out),
            Event::Shutdown if !self.stopping => {
                self.stopping = true;
                out.push(Action::Log(Level::Info, "shutting down".into()));
                // No more beats from here: the watchdog must not take the
                // shutdown (waiting for an aborted sequence's file) for a
                // stall.
                out.push(Action::StandDown);
                if self.busy() {
                    // An abort, so the file is closed with its exit status.
                    out.push(Action::Log(
                        Level::Warn,
                        "shutdown: aborting the running sequence".into(),
                    ));
                    self.direct(Directive::Abort, &mut out);
                    out.push(Action::AwaitEnd(SHUTDOWN_GRACE));
                }
            }
            Event::Shutdown => {}
            Event::GraceOver => {
                if self.running.take().is_some() {
                    out.push(Action::DropTask);
                    out.push(Action::Log(
                        Level::Warn,
                        format!(
                            "the sequence did not end within {} s of the abort; \
                             its file keeps the completed steps",
                            SHUTDOWN_GRACE.as_secs()
                        ),
                    ));
                }
            }
        }
        out
    }

    fn wrote(
        &mut self,
        name: String,
        value: Value,
        client: &str,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if INPUTS.contains(&name.as_str()) {
            if !self.stopping {
                self.refused.accepted(&name);
            }
            // Inputs written just before a shutdown are saved too.
            out.push(Action::Save(name.clone(), value.clone()));
        }
        if self.stopping {
            return;
        }
        match (name.as_str(), value) {
            ("LogLevel", Value::Long(level)) => out.push(Action::SetLogLevel(level)),
            ("SilencedLoggers", Value::Text(text)) => {
                let (_, ignored) = logging::silenced_targets(&text);
                out.push(Action::Silence(text));
                if !ignored.is_empty() {
                    let said = format!(
                        "SilencedLoggers: {ignored:?} are not logger names \
                         (module paths such as runner::sequence); ignored"
                    );
                    self.say(Level::Warn, "silenced", said, now, out);
                }
            }
            ("ScanControl", Value::Long(value)) => self.scan_control(value, client, now, out),
            ("Trigger", Value::Long(1)) => self.trigger(client, now, out),
            _ => {}
        }
    }

    /// An operator's ScanControl write: the running sequence sees it at
    /// once; with none running, PAUSE holds the next one before its first
    /// step and STOP or ABORT have nothing to end.
    fn scan_control(&mut self, value: i64, client: &str, now: Instant, out: &mut Vec<Action>) {
        let Some(directive) = Directive::from_value(value) else {
            return;
        };
        if directive == self.control {
            // Nothing new (e.g. a site IOC echoing the daemon's own reset).
            return;
        }
        let running = self.busy();
        if !running && matches!(directive, Directive::Abort | Directive::Stop) {
            let said = format!(
                "ScanControl {} from {client}: no sequence is running; back to RESUME",
                directive.label()
            );
            self.say(Level::Warn, "control-idle", said, now, out);
            self.reset_control(out);
            return;
        }
        self.direct(directive, out);
        let said = match (directive, running) {
            (Directive::Pause, false) => format!(
                "ScanControl PAUSE from {client}: the next sequence will hold before its first step"
            ),
            _ => format!("ScanControl {} from {client}", directive.label()),
        };
        let key = format!("control:{}", directive.label());
        self.say(Level::Info, &key, said, now, out);
    }

    /// Trigger=1: a sequence starts at once, one at a time.
    fn trigger(&mut self, client: &str, now: Instant, out: &mut Vec<Action>) {
        if self.busy() {
            let said = format!("Trigger from {client} ignored: a sequence is running");
            self.say(Level::Warn, "trigger-busy", said, now, out);
            return;
        }
        // The last sequence's progress, file and ending must not read as
        // this one's (a Task Fail writes no file: FileName stays empty).
        out.extend([
            Action::Set("ScanCurrentStep", Value::Long(0)),
            Action::Set("ScanElapsedTime", Value::Double(0.0)),
            Action::Set("FileName", Value::Text(String::new())),
            Action::Set("ScanExitStatus", Value::Long(ExitStatus::Running as i64)),
            Action::Set("ScanExitReason", Value::Text(String::new())),
            Action::Set("Busy", Value::Long(1)),
            Action::Log(Level::Info, "sequence started".into()),
            Action::Start(self.refused.clone()),
        ]);
        self.running = Some(now);
    }

    fn ended(&mut self, ended: Result<TaskEnd, String>, now: Instant, out: &mut Vec<Action>) {
        let Some(started) = self.running.take() else {
            return;
        };
        let end = match ended {
            Ok(end) => end,
            Err(e) => {
                out.push(Action::Log(
                    Level::Error,
                    format!("the sequence task failed: {e}"),
                ));
                if self.stopping {
                    // On the way out: the log says it.
                    return;
                }
                TaskEnd {
                    status: TaskStatus::CodeCrash,
                    exit: ExitStatus::Failed,
                    reason: format!("internal error: the sequence task failed: {e}"),
                }
            }
        };
        let took = now.saturating_duration_since(started);
        let status = end.status;
        // A STOP or ABORT is spent with the sequence it ended: the next one
        // must not end at once.
        if matches!(self.control, Directive::Abort | Directive::Stop) {
            self.reset_control(out);
        }
        out.push(Action::Set("ScanExitStatus", Value::Long(end.exit as i64)));
        out.push(Action::Set("ScanExitReason", Value::Text(end.reason)));
        out.push(Action::Set("TaskStatus", Value::Long(status as i64)));
        if status != TaskStatus::Skipped {
            out.push(Action::Set(
                "TaskDuration",
                Value::Double(took.as_secs_f64()),
            ));
        }
        out.push(Action::Set("Busy", Value::Long(0)));
        out.push(Action::Set("Trigger", Value::Long(0)));
        // After the operator sees the end.
        out.push(Action::GiveBack);
        out.push(Action::Log(
            Level::Info,
            format!(
                "sequence ended: {status:?} ({}) after {:.3} s",
                end.exit.label(),
                took.as_secs_f64()
            ),
        ));
    }

    fn direct(&mut self, directive: Directive, out: &mut Vec<Action>) {
        self.control = directive;
        out.push(Action::Direct(directive));
    }

    /// Back to RESUME, on the PV too.
    fn reset_control(&mut self, out: &mut Vec<Action>) {
        self.direct(Directive::Resume, out);
        out.push(Action::Set(
            "ScanControl",
            Value::Long(Directive::Resume as i64),
        ));
    }

    /// A message a client caused, through the throttle.
    fn say(&mut self, level: Level, key: &str, said: String, now: Instant, out: &mut Vec<Action>) {
        if let Some(line) = self.throttle.pass(key, said, now) {
            out.push(Action::Log(level, line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ca::Write;

    const OPERATOR: &str = "op@console";

    /// A clock for the tests: milliseconds after a fixed start.
    struct Clock(Instant);

    impl Clock {
        fn new() -> Self {
            Self(Instant::now())
        }
        fn at(&self, ms: u64) -> Instant {
            self.0 + Duration::from_millis(ms)
        }
    }

    fn wrote(name: &str, value: Value) -> Event {
        Event::Wrote {
            name: name.into(),
            value,
            client: OPERATOR.into(),
        }
    }

    fn control(directive: Directive) -> Event {
        wrote("ScanControl", Value::Long(directive as i64))
    }

    fn trigger() -> Event {
        wrote("Trigger", Value::Long(1))
    }

    fn success() -> Event {
        Event::Ended(Ok(TaskEnd {
            status: TaskStatus::Success,
            exit: ExitStatus::Completed,
            reason: String::new(),
        }))
    }

    fn logs(actions: &[Action], level: Level) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(l, line) if *l == level => Some(line.as_str()),
                _ => None,
            })
            .collect()
    }

    fn sets(actions: &[Action]) -> Vec<(&'static str, Value)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Set(name, value) => Some((*name, value.clone())),
                _ => None,
            })
            .collect()
    }

    fn directs(actions: &[Action]) -> Vec<Directive> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Direct(d) => Some(*d),
                _ => None,
            })
            .collect()
    }

    fn started(actions: &[Action]) -> Option<&RefusedInputs> {
        actions.iter().find_map(|a| match a {
            Action::Start(refused) => Some(refused),
            _ => None,
        })
    }

    /// A cycle with a sequence running since `t.at(0)`.
    fn running(t: &Clock) -> Cycle {
        let mut cycle = Cycle::default();
        assert!(started(&cycle.on(trigger(), t.at(0))).is_some());
        cycle
    }

    #[test]
    fn trigger_starts_a_sequence_with_the_last_ones_ending_cleared() {
        let t = Clock::new();
        let mut cycle = Cycle::default();
        assert!(cycle
            .on(wrote("Trigger", Value::Long(0)), t.at(0))
            .is_empty());
        let actions = cycle.on(trigger(), t.at(1));
        assert_eq!(
            actions,
            [
                Action::Set("ScanCurrentStep", Value::Long(0)),
                Action::Set("ScanElapsedTime", Value::Double(0.0)),
                Action::Set("FileName", Value::Text(String::new())),
                Action::Set("ScanExitStatus", Value::Long(ExitStatus::Running as i64)),
                Action::Set("ScanExitReason", Value::Text(String::new())),
                Action::Set("Busy", Value::Long(1)),
                Action::Log(Level::Info, "sequence started".into()),
                Action::Start(RefusedInputs::default()),
            ]
        );
        assert!(cycle.busy());
    }

    #[test]
    fn trigger_while_busy_is_refused_and_throttled() {
        let t = Clock::new();
        let mut cycle = running(&t);
        let first = cycle.on(trigger(), t.at(10));
        assert_eq!(
            first,
            [Action::Log(
                Level::Warn,
                format!("Trigger from {OPERATOR} ignored: a sequence is running")
            )]
        );
        // A flood within the window: nothing said, nothing started.
        for ms in 11..1000 {
            assert!(cycle.on(trigger(), t.at(ms)).is_empty());
        }
        // The window passed: the heartbeat says how many were held back.
        let tick = cycle.on(Event::Tick { tripped: false }, t.at(6000));
        let warned = logs(&tick, Level::Warn);
        assert_eq!(warned.len(), 1);
        assert!(
            warned[0].contains("(repeated 989 times in 5 s)"),
            "{warned:?}"
        );
        assert!(cycle.busy());
    }

    #[test]
    fn a_spent_stop_or_abort_goes_back_to_resume() {
        for directive in [Directive::Stop, Directive::Abort] {
            let t = Clock::new();
            let mut cycle = running(&t);
            let asked = cycle.on(control(directive), t.at(5));
            assert_eq!(directs(&asked), [directive]);
            assert_eq!(
                logs(&asked, Level::Info),
                [format!("ScanControl {} from {OPERATOR}", directive.label())]
            );
            // Said once; the PV already holds the operator's value.
            assert!(sets(&asked).is_empty());
            let ended = cycle.on(success(), t.at(50));
            assert_eq!(directs(&ended), [Directive::Resume]);
            assert_eq!(
                sets(&ended)[0],
                ("ScanControl", Value::Long(Directive::Resume as i64))
            );
            assert_eq!(cycle.control(), Directive::Resume);
        }
    }

    #[test]
    fn an_idle_stop_or_abort_is_reset_at_once() {
        let t = Clock::new();
        let mut cycle = Cycle::default();
        let actions = cycle.on(control(Directive::Abort), t.at(0));
        assert_eq!(
            actions,
            [
                Action::Log(
                    Level::Warn,
                    format!(
                        "ScanControl ABORT from {OPERATOR}: no sequence is running; back to RESUME"
                    )
                ),
                Action::Direct(Directive::Resume),
                Action::Set("ScanControl", Value::Long(0)),
            ]
        );
        // The next sequence runs normally.
        let start = cycle.on(trigger(), t.at(1));
        assert!(started(&start).is_some());
        assert_eq!(cycle.control(), Directive::Resume);
    }

    #[test]
    fn pause_while_idle_holds_the_next_sequence() {
        let t = Clock::new();
        let mut cycle = Cycle::default();
        let paused = cycle.on(control(Directive::Pause), t.at(0));
        assert_eq!(
            paused,
            [
                Action::Direct(Directive::Pause),
                Action::Log(
                    Level::Info,
                    format!(
                        "ScanControl PAUSE from {OPERATOR}: the next sequence will hold \
                         before its first step"
                    )
                ),
            ]
        );
        // The sequence starts under PAUSE (it holds before its first step).
        let start = cycle.on(trigger(), t.at(1));
        assert!(started(&start).is_some());
        assert!(directs(&start).is_empty());
        assert_eq!(cycle.control(), Directive::Pause);
        // RESUME lets it go on.
        let resumed = cycle.on(control(Directive::Resume), t.at(2));
        assert_eq!(directs(&resumed), [Directive::Resume]);
        // A PAUSE is not spent with the sequence: it holds the one after.
        cycle.on(control(Directive::Pause), t.at(3));
        let ended = cycle.on(success(), t.at(4));
        assert!(directs(&ended).is_empty());
        assert_eq!(cycle.control(), Directive::Pause);
        // An idle STOP while paused: back to RESUME.
        let stopped = cycle.on(control(Directive::Stop), t.at(5));
        assert_eq!(directs(&stopped), [Directive::Resume]);
    }

    #[test]
    fn the_ioc_echo_of_scan_control_is_no_new_directive() {
        let t = Clock::new();
        let echo = || Event::Wrote {
            name: "ScanControl".into(),
            value: Value::Long(Directive::Resume as i64),
            client: crate::host::IOC_CLIENT.into(),
        };
        // The daemon's reset of an idle ABORT comes back from the IOC.
        let mut cycle = Cycle::default();
        let reset = cycle.on(control(Directive::Abort), t.at(0));
        assert!(sets(&reset).contains(&("ScanControl", Value::Long(0))));
        assert!(cycle.on(echo(), t.at(1)).is_empty());
        // And the reset after a spent STOP.
        let mut cycle = running(&t);
        cycle.on(control(Directive::Stop), t.at(1));
        let ended = cycle.on(success(), t.at(2));
        assert!(sets(&ended).contains(&("ScanControl", Value::Long(0))));
        assert!(cycle.on(echo(), t.at(3)).is_empty());
        assert_eq!(cycle.control(), Directive::Resume);
        // An operator's own repeat is nothing new either; a value that is
        // no directive is ignored.
        cycle.on(trigger(), t.at(4));
        cycle.on(control(Directive::Pause), t.at(5));
        assert!(cycle.on(control(Directive::Pause), t.at(6)).is_empty());
        assert!(cycle
            .on(wrote("ScanControl", Value::Long(7)), t.at(7))
            .is_empty());
        assert_eq!(cycle.control(), Directive::Pause);
    }

    #[test]
    fn a_refused_input_is_handed_to_the_next_sequence_until_rewritten() {
        let t = Clock::new();
        let mut cycle = Cycle::default();
        let refused = |sent: &str| Event::Refused {
            name: "NumScans".into(),
            sent: sent.into(),
            reason: format!("{sent} is not a number"),
            client: OPERATOR.into(),
        };
        let said = cycle.on(refused("\"a1\""), t.at(0));
        assert_eq!(
            logs(&said, Level::Error),
            [format!(
                "NumScans: the write of \"a1\" was refused (\"a1\" is not a number) [from {OPERATOR}]"
            )]
        );
        // The same sort of mistake again within the window: held back.
        assert!(cycle.on(refused("\"zz9\""), t.at(1)).is_empty());
        let start = cycle.on(trigger(), t.at(2));
        let handed = started(&start).expect("started");
        assert_eq!(
            handed.first(),
            Some("NumScans: the write of \"zz9\" was refused (\"zz9\" is not a number)")
        );
        cycle.on(success(), t.at(3));
        // A valid value clears it (and is autosaved).
        let fixed = cycle.on(wrote("NumScans", Value::Long(5)), t.at(4));
        assert_eq!(fixed, [Action::Save("NumScans".into(), Value::Long(5))]);
        let start = cycle.on(trigger(), t.at(5));
        assert_eq!(started(&start), Some(&RefusedInputs::default()));
        // A refused write to a PV that is no input is said, not remembered.
        cycle.on(success(), t.at(6));
        let said = cycle.on(
            Event::Refused {
                name: "Trigger".into(),
                sent: "5".into(),
                reason: "5 is not 0 or 1".into(),
                client: OPERATOR.into(),
            },
            t.at(7),
        );
        assert_eq!(logs(&said, Level::Error).len(), 1);
        let start = cycle.on(trigger(), t.at(8));
        assert_eq!(started(&start), Some(&RefusedInputs::default()));
    }

    #[test]
    fn the_sequence_end_publishes_the_exit_pvs() {
        let t = Clock::new();
        let mut cycle = running(&t);
        let ended = cycle.on(
            Event::Ended(Ok(TaskEnd {
                status: TaskStatus::IoFail,
                exit: ExitStatus::Failed,
                reason: "step 2: sweep failed".into(),
            })),
            t.at(1500),
        );
        assert_eq!(
            ended,
            [
                Action::Set("ScanExitStatus", Value::Long(ExitStatus::Failed as i64)),
                Action::Set("ScanExitReason", Value::Text("step 2: sweep failed".into())),
                Action::Set("TaskStatus", Value::Long(TaskStatus::IoFail as i64)),
                Action::Set("TaskDuration", Value::Double(1.5)),
                Action::Set("Busy", Value::Long(0)),
                Action::Set("Trigger", Value::Long(0)),
                Action::GiveBack,
                Action::Log(
                    Level::Info,
                    "sequence ended: IoFail (Failed) after 1.500 s".into()
                ),
            ]
        );
        assert!(!cycle.busy());

        // Nothing to do: no duration.
        cycle.on(trigger(), t.at(2000));
        let skipped = cycle.on(
            Event::Ended(Ok(TaskEnd {
                status: TaskStatus::Skipped,
                exit: ExitStatus::Completed,
                reason: "NumScans is 0: nothing to do".into(),
            })),
            t.at(2001),
        );
        assert!(sets(&skipped)
            .iter()
            .all(|(name, _)| *name != "TaskDuration"));
        assert!(sets(&skipped).contains(&("Busy", Value::Long(0))));

        // The task itself failed: Code Crash.
        cycle.on(trigger(), t.at(3000));
        let crashed = cycle.on(Event::Ended(Err("panicked".into())), t.at(3001));
        assert_eq!(
            logs(&crashed, Level::Error),
            ["the sequence task failed: panicked"]
        );
        let published = sets(&crashed);
        assert!(published.contains(&("TaskStatus", Value::Long(TaskStatus::CodeCrash as i64))));
        assert!(published.contains(&(
            "ScanExitReason",
            Value::Text("internal error: the sequence task failed: panicked".into())
        )));
        // A second end (none running) is nothing.
        assert!(cycle.on(success(), t.at(3002)).is_empty());
    }

    #[test]
    fn the_heartbeat_toggles_only_while_not_tripped() {
        let t = Clock::new();
        let mut cycle = Cycle::default();
        let mut beats = Vec::new();
        for s in 0..4 {
            let tick = cycle.on(Event::Tick { tripped: false }, t.at(s * 1000));
            assert_eq!(tick[0], Action::Beat);
            beats.extend(sets(&tick));
        }
        assert_eq!(
            beats,
            [1, 0, 1, 0].map(|v| ("Heartbeat", Value::Long(v))).to_vec()
        );
        assert!(cycle
            .on(Event::Tick { tripped: true }, t.at(5000))
            .is_empty());
        // Stopped: no more beats.
        cycle.on(Event::Shutdown, t.at(6000));
        assert!(cycle
            .on(Event::Tick { tripped: false }, t.at(7000))
            .is_empty());
    }

    #[test]
    fn shutdown_mid_sequence_aborts_then_waits_for_its_end() {
        let t = Clock::new();
        let mut cycle = running(&t);
        let down = cycle.on(Event::Shutdown, t.at(100));
        assert_eq!(
            down,
            [
                Action::Log(Level::Info, "shutting down".into()),
                Action::StandDown,
                Action::Log(
                    Level::Warn,
                    "shutdown: aborting the running sequence".into()
                ),
                Action::Direct(Directive::Abort),
                Action::AwaitEnd(SHUTDOWN_GRACE),
            ]
        );
        // Meanwhile: inputs are saved, nothing else happens.
        let late = cycle.on(wrote("ScanEnd", Value::Double(3.0)), t.at(101));
        assert_eq!(late, [Action::Save("ScanEnd".into(), Value::Double(3.0))]);
        assert!(cycle.on(trigger(), t.at(102)).is_empty());
        assert!(cycle.on(control(Directive::Resume), t.at(103)).is_empty());
        assert!(cycle.on(Event::Shutdown, t.at(104)).is_empty());
        // The aborted sequence ends: its ending is published as always.
        let ended = cycle.on(
            Event::Ended(Ok(TaskEnd {
                status: TaskStatus::Success,
                exit: ExitStatus::Aborted,
                reason: "ABORT by the operator".into(),
            })),
            t.at(600),
        );
        assert_eq!(directs(&ended), [Directive::Resume]);
        assert!(sets(&ended).contains(&("ScanExitStatus", Value::Long(ExitStatus::Aborted as i64))));
        assert!(sets(&ended).contains(&("Busy", Value::Long(0))));
        assert!(cycle.on(Event::GraceOver, t.at(700)).is_empty());

        // One that does not end in time is dropped.
        let mut cycle = running(&t);
        cycle.on(Event::Shutdown, t.at(100));
        let dropped = cycle.on(Event::GraceOver, t.at(10_100));
        assert_eq!(dropped[0], Action::DropTask);
        assert_eq!(
            logs(&dropped, Level::Warn),
            ["the sequence did not end within 10 s of the abort; its file keeps the completed steps"]
        );
        assert!(!cycle.busy());
        // A task failure on the way out is only logged.
        let mut cycle = running(&t);
        cycle.on(Event::Shutdown, t.at(100));
        let failed = cycle.on(Event::Ended(Err("panicked".into())), t.at(200));
        assert_eq!(
            failed,
            [Action::Log(
                Level::Error,
                "the sequence task failed: panicked".into()
            )]
        );
    }

    #[test]
    fn shutdown_while_idle_only_stands_the_watchdog_down() {
        let mut cycle = Cycle::default();
        let down = cycle.on(Event::Shutdown, Instant::now());
        assert_eq!(
            down,
            [
                Action::Log(Level::Info, "shutting down".into()),
                Action::StandDown
            ]
        );
    }

    #[test]
    fn log_level_and_silenced_loggers_apply_at_once() {
        let t = Clock::new();
        let mut cycle = Cycle::default();
        assert_eq!(
            cycle.on(wrote("LogLevel", Value::Long(2)), t.at(0)),
            [Action::SetLogLevel(2)]
        );
        assert_eq!(
            cycle.on(
                wrote("SilencedLoggers", Value::Text("runner.sequence".into())),
                t.at(1)
            ),
            [Action::Silence("runner.sequence".into())]
        );
        let bad = cycle.on(
            wrote(
                "SilencedLoggers",
                Value::Text("runner::sequence bad/name".into()),
            ),
            t.at(2),
        );
        assert_eq!(bad[0], Action::Silence("runner::sequence bad/name".into()));
        assert_eq!(
            logs(&bad, Level::Warn),
            [
                r#"SilencedLoggers: ["bad/name"] are not logger names (module paths such as runner::sequence); ignored"#
            ]
        );
    }

    #[test]
    fn writes_become_events_under_the_main_prefix() {
        let main = "Test:SCAN:DMN-";
        let accepted = |name: &str| {
            WriteEvent::Accepted(Write {
                name: name.into(),
                value: Value::Long(1),
                client: OPERATOR.into(),
            })
        };
        match Event::from_write(accepted("Test:SCAN:DMN-Trigger"), main) {
            Some(Event::Wrote { name, .. }) => assert_eq!(name, "Trigger"),
            other => panic!("{other:?}"),
        }
        // Another server's PV (the simulator's): not the cycle's.
        assert!(Event::from_write(accepted("Test:SCAN:RunHardScan"), main).is_none());
        // A refusal keeps a foreign PV's full name.
        let refused = WriteEvent::Refused {
            name: "Test:SCAN:PosToDelay".into(),
            sent: "x".into(),
            reason: "not a number".into(),
            client: OPERATOR.into(),
        };
        match Event::from_write(refused, main) {
            Some(Event::Refused { name, .. }) => assert_eq!(name, "Test:SCAN:PosToDelay"),
            other => panic!("{other:?}"),
        }
    }
}
