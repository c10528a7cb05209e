//! User callbacks, always in a child process of their own (never in the
//! daemon's): `--custom-callback PATH` runs PATH (or, for a reference-style
//! `.py` file, the bundled adapter on it) and speaks the JSON-lines
//! protocol of [`protocol`] with it. A crash, hang, unreadable reply or
//! timeout is logged with the callback's stderr; the callback is restarted
//! once, then disabled for the rest of the sequence; the scan goes on.

mod process;
pub mod protocol;

pub use process::{CallbackProcess, CommandSpec, ExchangeError};
pub use protocol::{ExtraValue, ProtocolError, Reply, Session};

use async_trait::async_trait;
use runner::{CallbackError, PvRecord, SequenceReport, StepCallback, StepContext, StepData};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// The adapter that runs a reference fws-daemon custom-callback file
/// (`get_pre_callback` / `get_post_callback`) unchanged under the protocol.
pub const ADAPTER_SOURCE: &str = include_str!("fws_callback_adapter.py");
/// The step group extras are stored in.
pub const EXTRA_GROUP: &str = "custom";
/// How long a callback may take to end after `sequence_end`.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What `--custom-callback PATH` runs: a `.py` file is a reference-style
/// callback file, run through the adapter by `python`; anything else is a
/// program speaking the protocol itself.
pub fn command_for(path: &Path, python: OsString) -> CommandSpec {
    if path.extension().is_some_and(|e| e == "py") {
        CommandSpec {
            program: python.into(),
            args: vec![
                "-c".into(),
                ADAPTER_SOURCE.into(),
                path.to_string_lossy().into_owned(),
            ],
        }
    } else {
        CommandSpec {
            program: path.to_path_buf(),
            args: Vec::new(),
        }
    }
}

/// One sequence's custom callback.
pub struct CustomCallback {
    command: CommandSpec,
    timeout: Duration,
    session: Session,
    process: Option<CallbackProcess>,
    /// Waveforms in post_step (the callback's hello reply asks).
    arrays: bool,
    /// A call was dropped part-way (an abort): its reply may still come.
    in_flight: bool,
    restarted: bool,
    disabled: bool,
}

impl CustomCallback {
    /// A callback running `command`, each call answered within `timeout`;
    /// started at the first call.
    pub fn new(command: CommandSpec, timeout: Duration, session: Session) -> Self {
        Self {
            command,
            timeout,
            session,
            process: None,
            arrays: false,
            in_flight: false,
            restarted: false,
            disabled: false,
        }
    }

    /// Spawns the process and exchanges `hello`.
    async fn start(&mut self) -> Result<(), String> {
        let mut process = CallbackProcess::spawn(&self.command)
            .map_err(|e| format!("cannot start {}: {e}", self.command.program.display()))?;
        let reply = match process
            .exchange(&protocol::hello(&self.session), self.timeout)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                let stderr = process.kill().await;
                return Err(with_stderr(format!("hello: {e}"), &stderr));
            }
        };
        match protocol::decode_reply(&reply) {
            Ok(Reply::Ok(_)) => {
                self.arrays = protocol::wants_arrays(&reply);
                self.process = Some(process);
                Ok(())
            }
            Ok(Reply::Error(m)) => {
                let stderr = process.kill().await;
                Err(with_stderr(
                    format!("hello: the callback reports: {m}"),
                    &stderr,
                ))
            }
            Err(e) => {
                let stderr = process.kill().await;
                Err(with_stderr(format!("hello: {e}"), &stderr))
            }
        }
    }

    /// Sends one message and returns the extras of an `ok` reply.
    async fn call(
        &mut self,
        what: &str,
        line: String,
    ) -> Result<Vec<(String, ExtraValue)>, CallbackError> {
        if self.disabled {
            return Ok(Vec::new());
        }
        if self.in_flight {
            if let Some(stale) = self.process.take() {
                stale.kill().await;
            }
            self.in_flight = false;
        }
        if self.process.is_none() {
            if let Err(problem) = self.start().await {
                return Err(self.failed(what, problem).await);
            }
        }
        let Some(process) = self.process.as_mut() else {
            return Err(self.failed(what, "not running".into()).await);
        };
        self.in_flight = true;
        let result = process.exchange(&line, self.timeout).await;
        self.in_flight = false;
        let reply = result
            .map_err(|e| e.to_string())
            .and_then(|l| protocol::decode_reply(&l).map_err(|e| e.to_string()));
        match reply {
            Ok(Reply::Ok(extra)) => Ok(extra),
            Ok(Reply::Error(m)) => Err(CallbackError(format!("{what}: the callback reports: {m}"))),
            Err(problem) => Err(self.failed(what, problem).await),
        }
    }

    /// A broken callback: stop it, keep its stderr for the message, restart
    /// it once, else disable it for the rest of the sequence.
    async fn failed(&mut self, what: &str, problem: String) -> CallbackError {
        let stderr = match self.process.take() {
            Some(p) => p.kill().await,
            None => String::new(),
        };
        let mut message = with_stderr(format!("{what}: {problem}"), &stderr);
        if self.restarted {
            self.disabled = true;
            message.push_str(
                "\nfailed again after its restart: disabled for the rest of this sequence",
            );
        } else {
            self.restarted = true;
            match self.start().await {
                Ok(()) => message.push_str("\nrestarted"),
                Err(e) => {
                    self.disabled = true;
                    message.push_str(&format!(
                        "\nthe restart failed too ({e}): disabled for the rest of this sequence"
                    ));
                }
            }
        }
        CallbackError(message)
    }

    /// Whether a failure disabled it for the rest of the sequence.
    pub fn disabled(&self) -> bool {
        self.disabled
    }
}

fn with_stderr(message: String, stderr: &str) -> String {
    if stderr.trim().is_empty() {
        message
    } else {
        format!("{message}; its stderr ends with:\n{stderr}")
    }
}

#[async_trait]
impl StepCallback for CustomCallback {
    fn name(&self) -> &str {
        "custom-callback"
    }

    /// A call cut short by an ABORT is recovered (the process is replaced).
    fn interruptible(&self) -> bool {
        true
    }

    async fn pre_step(&mut self, ctx: &StepContext) -> Result<(), CallbackError> {
        let line = protocol::pre_step(ctx, &self.session.file_path);
        self.call(&format!("pre_step of step {}", ctx.index + 1), line)
            .await
            .map(|_| ())
    }

    async fn post_step(
        &mut self,
        ctx: &StepContext,
        data: &mut StepData,
    ) -> Result<(), CallbackError> {
        let line = protocol::post_step(ctx, &self.session.file_path, data, self.arrays);
        let extra = self
            .call(&format!("post_step of step {}", ctx.index + 1), line)
            .await?;
        for (name, value) in extra {
            data.push(
                EXTRA_GROUP,
                PvRecord {
                    name,
                    value: value.into(),
                    egu: None,
                },
            );
        }
        Ok(())
    }

    async fn sequence_end(&mut self, report: &SequenceReport) -> Result<(), CallbackError> {
        if self.process.is_none() && !self.in_flight && report.completed_steps == 0 {
            // Never started (nothing ran): nothing to tell.
            return Ok(());
        }
        if self.in_flight {
            // An abort cut a call short: the process is mid-reply. Stop it
            // rather than restart it just to say goodbye (the file waits).
            if let Some(process) = self.process.take() {
                process.kill().await;
            }
            self.in_flight = false;
            return Err(CallbackError(
                "an abort cut a call short: stopped without sequence_end".into(),
            ));
        }
        let line = protocol::sequence_end(
            report.outcome.exit_status().label(),
            report.outcome.reason(),
            report.completed_steps,
            &self.session.file_path,
        );
        // A failure now is not worth a restart: the process ends anyway.
        self.restarted = true;
        let result = self.call("sequence_end", line).await.map(|_| ());
        if let Some(process) = self.process.take() {
            process.close(CLOSE_GRACE).await;
        }
        result
    }
}
