//! The I/O shell of a custom callback: a child process spoken to over its
//! stdin/stdout one line at a time, its stderr kept (the last lines) for
//! the operator's error messages.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Longest reply line read; a longer one is a protocol failure (a runaway
/// child cannot fill the daemon's memory).
pub const MAX_REPLY_BYTES: u64 = 1 << 20;
/// stderr lines kept.
const STDERR_LINES: usize = 20;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// One request that did not get a reply.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExchangeError {
    /// No full reply line in time.
    #[error("no reply within {0:.1} s")]
    Timeout(f64),
    /// The process ended (its exit status, if known).
    #[error("the process ended ({0})")]
    Exited(String),
    /// The reply line was too long.
    #[error("a reply longer than {MAX_REPLY_BYTES} bytes")]
    TooLong,
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

/// A running callback process.
pub struct CallbackProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: tokio::task::JoinHandle<()>,
}

impl CallbackProcess {
    /// Starts `spec` with piped stdin/stdout/stderr and no other descriptor
    /// of the daemon's (an open HDF5 file would keep its lock in the child);
    /// it is killed when dropped.
    pub fn spawn(spec: &CommandSpec) -> std::io::Result<Self> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cloexec::child::inherit_nothing(command.as_std_mut());
        let mut child = command.spawn()?;
        let missing = |what: &str| std::io::Error::other(format!("no {what} pipe"));
        let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
        let stderr = child.stderr.take().ok_or_else(|| missing("stderr"))?;
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let keep = Arc::clone(&tail);
        let stderr_reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "custom_callback", "{line}");
                if let Ok(mut t) = keep.lock() {
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            stderr: tail,
            stderr_reader,
        })
    }

    /// Sends `line` (newline-terminated) and reads one reply line, all
    /// within `timeout`.
    pub async fn exchange(
        &mut self,
        line: &str,
        timeout: Duration,
    ) -> Result<String, ExchangeError> {
        match tokio::time::timeout(timeout, self.send_and_read(line)).await {
            Ok(result) => result,
            Err(_) => Err(ExchangeError::Timeout(timeout.as_secs_f64())),
        }
    }

    async fn send_and_read(&mut self, line: &str) -> Result<String, ExchangeError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(ExchangeError::Io("stdin is closed".into()));
        };
        let written = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        }
        .await;
        if let Err(e) = written {
            return Err(match e.kind() {
                std::io::ErrorKind::BrokenPipe => self.ended().await,
                _ => ExchangeError::Io(format!("writing: {e}")),
            });
        }
        let mut reply = String::new();
        let read = (&mut self.stdout)
            .take(MAX_REPLY_BYTES)
            .read_line(&mut reply)
            .await
            .map_err(|e| ExchangeError::Io(format!("reading: {e}")))?;
        if read == 0 {
            return Err(self.ended().await);
        }
        if !reply.ends_with('\n') {
            return Err(if read as u64 >= MAX_REPLY_BYTES {
                ExchangeError::TooLong
            } else {
                self.ended().await
            });
        }
        Ok(reply)
    }

    /// The exit status of a process whose pipes closed (it may take a
    /// moment to be reaped).
    async fn ended(&mut self) -> ExchangeError {
        match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(status)) => ExchangeError::Exited(status.to_string()),
            _ => ExchangeError::Exited("its output closed".into()),
        }
    }

    /// Kills the process and returns the last lines it wrote to stderr
    /// (all of them: the reader is given a moment to reach the end).
    pub async fn kill(mut self) -> String {
        let _ = self.child.kill().await;
        let _ = tokio::time::timeout(Duration::from_millis(500), &mut self.stderr_reader).await;
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Closes stdin (the callback's cue to end) and waits up to `grace`,
    /// then kills it.
    pub async fn close(mut self, grace: Duration) {
        self.stdin.take();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
