//! Reading and writing Watlow parameters over Modbus RTU with tokio-modbus,
//! over any byte stream (a serial port, a pty, a test's duplex pipe).
//! Every call has a deadline; a read that times out or comes back garbled
//! is asked once more; a write never is (the first may have been applied).

use super::words::{WordOrder, WordOrderSetting, WORD_ORDER_REGISTER};
use crate::registry::{family_place, DataType, Family, ParamSpec, Refusal, Scale};
use crate::value::Value;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::slave::SlaveContext;
use tokio_modbus::{ExceptionCode, Slave};

/// Why a Modbus exchange failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModbusError {
    /// Refused before any I/O.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Exception 01: the device has no such function.
    #[error("illegal function (exception 01)")]
    IllegalFunction,
    /// Exception 02: no such register.
    #[error("illegal data address (exception 02)")]
    IllegalDataAddress,
    /// Exception 03: a value the device will not take.
    #[error("illegal data value (exception 03)")]
    IllegalDataValue,
    /// Exception 04.
    #[error("slave device failure (exception 04)")]
    SlaveFailure,
    /// Another exception.
    #[error("exception {0}")]
    Exception(String),
    /// No reply within the deadline.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// A reply that did not decode (CRC, length, another slave).
    #[error("bad reply: {0}")]
    Protocol(String),
    /// The line itself failed (unplugged, closed): reconnect.
    #[error("port error: {0}")]
    Transport(String),
}

impl ModbusError {
    /// The parameter is not on this device: cache it, ask no more.
    pub fn unsupported(&self) -> bool {
        matches!(self, Self::IllegalFunction | Self::IllegalDataAddress)
    }

    /// The port is gone: the batch stops and the port is reopened.
    pub fn is_connection(&self) -> bool {
        matches!(self, Self::Transport(_))
    }

    fn retryable_read(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Protocol(_))
    }
}

fn exception(code: ExceptionCode) -> ModbusError {
    match code {
        ExceptionCode::IllegalFunction => ModbusError::IllegalFunction,
        ExceptionCode::IllegalDataAddress => ModbusError::IllegalDataAddress,
        ExceptionCode::IllegalDataValue => ModbusError::IllegalDataValue,
        ExceptionCode::ServerDeviceFailure => ModbusError::SlaveFailure,
        other => ModbusError::Exception(format!("{other:?}")),
    }
}

fn flatten<T>(
    result: Result<tokio_modbus::Result<T>, tokio::time::error::Elapsed>,
    limit: Duration,
) -> Result<T, ModbusError> {
    match result {
        Err(_) => Err(ModbusError::Timeout(limit)),
        Ok(Err(tokio_modbus::Error::Transport(e))) => Err(ModbusError::Transport(e.to_string())),
        Ok(Err(tokio_modbus::Error::Protocol(e))) => Err(ModbusError::Protocol(e.to_string())),
        Ok(Ok(Err(code))) => Err(exception(code)),
        Ok(Ok(Ok(value))) => Ok(value),
    }
}

/// One controller on a Modbus line.
pub struct ModbusClient {
    ctx: Context,
    family: Family,
    order: WordOrder,
    timeout: Duration,
}

impl ModbusClient {
    /// A client for the controller at `address` (1..247) of `family` on
    /// `transport`, low word first until [`ModbusClient::detect_word_order`].
    pub fn attach<T>(transport: T, address: u8, family: Family, timeout: Duration) -> Self
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self {
            ctx: tokio_modbus::client::rtu::attach_slave(transport, Slave(address)),
            family,
            order: WordOrder::LowHigh,
            timeout,
        }
    }

    /// The word order in use.
    pub fn word_order(&self) -> WordOrder {
        self.order
    }

    /// Talks to another controller on the same line from now on.
    pub fn select(&mut self, address: u8, family: Family, order: WordOrder) {
        self.ctx.set_slave(Slave(address));
        self.family = family;
        self.order = order;
    }

    /// Settles the word order: the configured one, or for `Auto` what the
    /// PM's register 2488 says (low word first when it cannot be read).
    pub async fn detect_word_order(&mut self, setting: WordOrderSetting) -> WordOrder {
        let detected = if setting == WordOrderSetting::Auto && self.family == Family::Pm {
            self.registers(WORD_ORDER_REGISTER, 1)
                .await
                .ok()
                .and_then(|w| w.first().copied())
        } else {
            None
        };
        self.order = setting.resolve(detected);
        self.order
    }

    async fn registers_once(&mut self, address: u16, count: u16) -> Result<Vec<u16>, ModbusError> {
        let limit = self.timeout;
        let words = flatten(
            tokio::time::timeout(limit, self.ctx.read_holding_registers(address, count)).await,
            limit,
        )?;
        if words.len() != usize::from(count) {
            return Err(ModbusError::Protocol(format!(
                "{} registers for {count}",
                words.len()
            )));
        }
        Ok(words)
    }

    /// FC03, asked once more after a timeout or a garbled reply.
    async fn registers(&mut self, address: u16, count: u16) -> Result<Vec<u16>, ModbusError> {
        match self.registers_once(address, count).await {
            Err(e) if e.retryable_read() => self.registers_once(address, count).await,
            other => other,
        }
    }

    async fn write_words(&mut self, address: u16, words: &[u16]) -> Result<(), ModbusError> {
        let limit = self.timeout;
        let call = async {
            match words {
                [one] => self.ctx.write_single_register(address, *one).await,
                many => self.ctx.write_multiple_registers(address, many).await,
            }
        };
        flatten(tokio::time::timeout(limit, call).await, limit)
    }

    /// The order of a 32-bit integer: the PM's setting; the SD's are high
    /// word first (spec 3.5).
    fn integer_order(&self) -> WordOrder {
        if self.family == Family::Pm {
            self.order
        } else {
            WordOrder::HighLow
        }
    }

    /// Where `spec` at `instance` sits on this family: register, type and
    /// scale.
    async fn place(
        &mut self,
        spec: &ParamSpec,
        instance: u8,
    ) -> Result<(u16, DataType, f64), ModbusError> {
        if self.family == Family::Pm {
            return Ok((spec.pm_register(instance)?, spec.dtype, 1.0));
        }
        let place =
            family_place(self.family, spec.id).ok_or(Refusal::NotOnModbus { name: spec.name })?;
        if instance != 1 {
            return Err(Refusal::NoInstance {
                name: spec.name,
                instance,
                instances: 1,
            }
            .into());
        }
        let scale = match place.scale {
            Scale::Fixed(factor) => factor,
            Scale::DecimalsAt(register) => {
                let decimals = self.registers(register, 1).await?[0].min(3);
                10f64.powi(-i32::from(decimals))
            }
        };
        Ok((place.register, place.dtype, scale))
    }

    /// Reads `spec` at `instance`.
    pub async fn read(&mut self, spec: &ParamSpec, instance: u8) -> Result<Value, ModbusError> {
        let (address, dtype, scale) = self.place(spec, instance).await?;
        let words = self.registers(address, dtype.registers()).await?;
        Ok(match dtype {
            DataType::F32 => Value::F64(f64::from(self.order.words_f32([words[0], words[1]]))),
            DataType::S32 => {
                let raw = self.integer_order().join([words[0], words[1]]) as i32;
                scaled(i64::from(raw), scale)
            }
            DataType::S16 => scaled(i64::from(words[0] as i16), scale),
            DataType::U8 | DataType::U16 | DataType::Enum => Value::I64(i64::from(words[0])),
            DataType::Str => return Err(Refusal::NotOnModbus { name: spec.name }.into()),
        })
    }

    /// Writes `value` to `spec` at `instance`: checked against the registry
    /// first, sent once, never retried.
    pub async fn write(
        &mut self,
        spec: &ParamSpec,
        instance: u8,
        value: f64,
    ) -> Result<(), ModbusError> {
        spec.check_write(instance, value)?;
        if self.family != Family::Pm {
            let rwes = family_place(self.family, spec.id).map(|p| p.rwes);
            if rwes.is_some_and(|r| !r.writable()) {
                return Err(Refusal::ReadOnly {
                    name: spec.name,
                    id: spec.id,
                }
                .into());
            }
        }
        let (address, dtype, scale) = self.place(spec, instance).await?;
        let raw = (value / scale).round();
        let words: Vec<u16> = match dtype {
            DataType::F32 => self.order.f32_words(value as f32).to_vec(),
            DataType::S32 => self.integer_order().split(raw as i32 as u32).to_vec(),
            DataType::S16 => vec![raw as i16 as u16],
            DataType::U8 | DataType::U16 | DataType::Enum => vec![value as u16],
            DataType::Str => return Err(Refusal::NotOnModbus { name: spec.name }.into()),
        };
        self.write_words(address, &words).await
    }
}

fn scaled(raw: i64, scale: f64) -> Value {
    if scale == 1.0 {
        Value::I64(raw)
    } else {
        Value::F64(raw as f64 * scale)
    }
}
