//! Opening a serial port for either protocol: Standard Bus is 38400 8N1
//! always; Modbus takes the device's baud and parity (None by default: the
//! register list's; some PMs are set to Even).

use std::path::Path;
use tokio_serial::{DataBits, FlowControl, Parity, SerialPortBuilderExt, SerialStream, StopBits};

/// Which protocol a port speaks (one per line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Watlow Standard Bus (38400 8N1).
    StdBus,
    /// Modbus RTU.
    ModbusRtu,
}

/// Modbus parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModbusParity {
    /// None (the register list's default).
    #[default]
    None,
    /// Even.
    Even,
    /// Odd.
    Odd,
}

/// How to open a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSettings {
    /// The protocol.
    pub protocol: Protocol,
    /// Modbus only: 9600, 19200 or 38400 (Standard Bus is 38400).
    pub baud: u32,
    /// Modbus only.
    pub parity: ModbusParity,
}

impl PortSettings {
    /// Standard Bus: 38400 8N1.
    pub fn stdbus() -> Self {
        Self {
            protocol: Protocol::StdBus,
            baud: 38_400,
            parity: ModbusParity::None,
        }
    }

    /// Modbus RTU at `baud`, 8 data bits, `parity`, 1 stop bit.
    pub fn modbus(baud: u32, parity: ModbusParity) -> Self {
        Self {
            protocol: Protocol::ModbusRtu,
            baud,
            parity,
        }
    }
}

/// Opens `path` (a device or a link to one: followed each time, so a
/// re-plugged adapter's new node is found) as `settings` say, no flow
/// control, exclusive.
pub fn open(path: &Path, settings: PortSettings) -> std::io::Result<SerialStream> {
    let baud = match settings.protocol {
        Protocol::StdBus => 38_400,
        Protocol::ModbusRtu => settings.baud,
    };
    let parity = match (settings.protocol, settings.parity) {
        (Protocol::StdBus, _) | (_, ModbusParity::None) => Parity::None,
        (_, ModbusParity::Even) => Parity::Even,
        (_, ModbusParity::Odd) => Parity::Odd,
    };
    let mut port = tokio_serial::new(path.to_string_lossy(), baud)
        .data_bits(DataBits::Eight)
        .parity(parity)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native_async()
        .map_err(std::io::Error::from)?;
    port.set_exclusive(true).map_err(std::io::Error::from)?;
    Ok(port)
}
