//! The Standard Bus client: the thin async shell around the codec, over
//! any byte stream (a serial port, a pty, a test's duplex pipe). One
//! exchange at a time (the port's owner serialises them): stale input
//! dropped, the frame written, the reply framed and checked, all under one
//! deadline (spec 2.6). A read that gets no reply or a garbled one is asked
//! once more; a write never is (the first may have been applied).

use super::exchange::{check_reply, ReplyError};
use super::frame::{device_mac, Frame, FrameError, Receiver};
use super::payload::{Request, Typed};
use crate::registry::{DataType, ParamSpec, Refusal};
use crate::value::Value;
use futures::FutureExt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a Standard Bus exchange failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StdBusError {
    /// Refused before any I/O.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Nothing within the deadline: no device at the address, a frame the
    /// device dropped (bad CRC, other framing), or a device too slow.
    #[error("no response within {0:?}")]
    NoResponse(Duration),
    /// Bytes that are no frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame that does not answer the request, or the device's refusal.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The line itself failed (unplugged, closed): reconnect.
    #[error("port error: {0}")]
    Transport(String),
}

impl StdBusError {
    /// The port is gone: the batch stops and the port is reopened.
    pub fn is_connection(&self) -> bool {
        matches!(self, Self::Transport(_))
    }

    fn retryable_read(&self) -> bool {
        matches!(
            self,
            Self::NoResponse(_) | Self::Frame(_) | Self::Reply(ReplyError::Payload(_))
        )
    }
}

/// Default deadline of one exchange (watlowlib's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The controllers on one Standard Bus line.
pub struct StdBusClient<T> {
    io: T,
    receiver: Receiver,
    timeout: Duration,
}

impl<T: AsyncRead + AsyncWrite + Unpin> StdBusClient<T> {
    /// A client on `io`, each exchange within `timeout`.
    pub fn new(io: T, timeout: Duration) -> Self {
        Self {
            io,
            receiver: Receiver::new(),
            timeout,
        }
    }

    /// Reads `spec` at `instance` from the controller at `address` (1..16).
    pub async fn read(
        &mut self,
        address: u8,
        spec: &ParamSpec,
        instance: u8,
    ) -> Result<Value, StdBusError> {
        let request = Request::Read(spec.selector(instance)?);
        let typed = match self.exchange(address, &request).await {
            Err(e) if e.retryable_read() => self.exchange(address, &request).await,
            other => other,
        }?;
        Ok(value_of(&typed))
    }

    /// Writes `value` to `spec` at `instance` with the parameter's own type
    /// tag, once; returns the value the controller says it stored.
    pub async fn write(
        &mut self,
        address: u8,
        spec: &ParamSpec,
        instance: u8,
        value: f64,
    ) -> Result<Value, StdBusError> {
        spec.check_write(instance, value)?;
        let typed = match spec.dtype {
            DataType::F32 => Typed::F32(value as f32),
            DataType::Enum => Typed::enumeration(value as u16),
            DataType::U8 => Typed::U8(value as u8),
            DataType::U16 => Typed::U16(value as u16),
            DataType::S32 => Typed::S32(value as i32),
            DataType::S16 | DataType::Str => {
                return Err(Refusal::NotRepresentable {
                    name: spec.name,
                    value,
                }
                .into())
            }
        };
        let request = Request::Write(spec.selector(instance)?, typed);
        Ok(value_of(&self.exchange(address, &request).await?))
    }

    /// One request and its checked reply, under one deadline.
    async fn exchange(&mut self, address: u8, request: &Request) -> Result<Typed, StdBusError> {
        let mac = device_mac(address).ok_or(Refusal::Address { address, max: 16 })?;
        self.drop_stale_input().await?;
        let limit = self.timeout;
        let frame = Frame::request(mac, request.encode()).encode();
        // A frame that answers someone else (a late reply to an earlier
        // request, another host's) is passed over, not taken for ours.
        let mut stray = None;
        let answer = tokio::time::timeout(limit, async {
            self.io.write_all(&frame).await.map_err(transport)?;
            self.io.flush().await.map_err(transport)?;
            let mut buf = [0u8; 256];
            loop {
                while let Some(frame) = self.receiver.next_frame() {
                    match check_reply(request, mac, &frame?) {
                        Err(e) if e.stray() => stray = Some(e),
                        other => return other.map_err(StdBusError::from),
                    }
                }
                let n = self.io.read(&mut buf).await.map_err(transport)?;
                if n == 0 {
                    return Err(StdBusError::Transport("the port closed".into()));
                }
                self.receiver.push(&buf[..n]);
            }
        })
        .await;
        match answer {
            Ok(result) => result,
            Err(_) => Err(stray.map_or(StdBusError::NoResponse(limit), StdBusError::Reply)),
        }
    }

    /// Bytes already waiting belong to an earlier exchange (a late reply).
    async fn drop_stale_input(&mut self) -> Result<(), StdBusError> {
        self.receiver.clear();
        let mut buf = [0u8; 256];
        // Polled once: what is there now, never a wait (a zero timeout
        // would wait for the timer's next millisecond tick).
        while let Some(read) = self.io.read(&mut buf).now_or_never() {
            match read.map_err(transport)? {
                0 => return Err(StdBusError::Transport("the port closed".into())),
                _ => continue,
            }
        }
        Ok(())
    }
}

fn transport(e: std::io::Error) -> StdBusError {
    StdBusError::Transport(e.to_string())
}

/// A wire value as the crate's value.
fn value_of(typed: &Typed) -> Value {
    match typed {
        Typed::F32(v) => Value::F64(f64::from(*v)),
        Typed::Enum(words) => Value::I64(words.first().copied().map_or(0, i64::from)),
        Typed::U8(v) => Value::I64(i64::from(*v)),
        Typed::U16(v) => Value::I64(i64::from(*v)),
        Typed::U32(v) => Value::I64(i64::from(*v)),
        Typed::S32(v) => Value::I64(i64::from(*v)),
        Typed::Str(s) => Value::Str(s.clone()),
    }
}
