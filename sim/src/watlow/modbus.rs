//! A Modbus RTU line of simulated EZ-ZONE PMs, sans I/O: bytes in, each
//! request framed by its function code and its CRC checked, the reply's
//! bytes out (spec 6). FC03 reads, FC06 and FC16 write, on the register map
//! of the registry (Map 1); other functions get exception 01, unmapped
//! registers 02, a bad count or a write to a read-only register 03. A float
//! is written whole (both words) or not at all. A bad CRC, another slave's
//! frame and a broadcast (address 0) get silence.

use super::controller::Controller;
use std::collections::{BTreeMap, HashMap};
use watlow::modbus::WordOrder;
use watlow::registry::{DataType, PM};
use watlow::stdbus::{Reply, Request, Selector, Typed};

const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);

/// Where a register belongs: parameter, instance, type, which word.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u32,
    instance: u8,
    dtype: DataType,
    word: u16,
}

/// One PM on the line with the word order it is set to.
pub struct ModbusDevice {
    controller: Controller,
    order: WordOrder,
}

impl ModbusDevice {
    /// `controller`, its floats in `order` (and register 2488 saying so).
    pub fn new(mut controller: Controller, order: WordOrder) -> Self {
        let sel = Selector::of(17043, 1)
            .map(|s| Request::Write(s, Typed::enumeration(order.register_value())));
        if let Some(write) = sel {
            controller.answer(&write);
        }
        Self { controller, order }
    }

    /// The controller behind it.
    pub fn controller(&mut self) -> &mut Controller {
        &mut self.controller
    }
}

/// What a Modbus line does wrong, on purpose.
#[derive(Debug, Clone, Default)]
pub struct ModbusFaults {
    /// Every request answered with this exception code instead.
    pub exception: Option<u8>,
    /// No reply at all.
    pub silent: bool,
    /// The reply's CRC flipped.
    pub bad_crc: bool,
    /// Waited before each reply.
    pub latency: std::time::Duration,
}

/// Several PMs on one Modbus line.
pub struct ModbusLine {
    devices: BTreeMap<u8, ModbusDevice>,
    map: HashMap<u16, Slot>,
    buffer: Vec<u8>,
    /// Faults applied to every reply.
    pub faults: ModbusFaults,
}

impl Default for ModbusLine {
    fn default() -> Self {
        Self::new()
    }
}

fn reply_frame(mut pdu: Vec<u8>) -> Vec<u8> {
    let crc = CRC.checksum(&pdu);
    pdu.extend_from_slice(&crc.to_le_bytes());
    pdu
}

impl ModbusLine {
    /// An empty line with the PM register map.
    pub fn new() -> Self {
        let mut map = HashMap::new();
        for spec in PM {
            for instance in 1..=spec.instances {
                let Ok(register) = spec.pm_register(instance) else {
                    continue;
                };
                for word in 0..spec.dtype.registers() {
                    map.insert(
                        register + word,
                        Slot {
                            id: spec.id,
                            instance,
                            dtype: spec.dtype,
                            word,
                        },
                    );
                }
            }
        }
        Self {
            devices: BTreeMap::new(),
            map,
            buffer: Vec::new(),
            faults: ModbusFaults::default(),
        }
    }

    /// Puts `device` at slave address `address` (1..247).
    pub fn add(&mut self, address: u8, device: ModbusDevice) {
        if (1..=247).contains(&address) {
            self.devices.insert(address, device);
        }
    }

    /// The device at `address`.
    pub fn device(&mut self, address: u8) -> Option<&mut ModbusDevice> {
        self.devices.get_mut(&address)
    }

    /// Lets plant time pass on every controller.
    pub fn advance(&mut self, dt: std::time::Duration) {
        for d in self.devices.values_mut() {
            d.controller.advance(dt);
        }
    }

    /// Takes bytes from the line; returns the replies they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buffer.extend_from_slice(bytes);
        let mut replies = Vec::new();
        while let Some(len) = self.frame_len() {
            if self.buffer.len() < len {
                break;
            }
            let frame: Vec<u8> = self.buffer.drain(..len).collect();
            let (body, crc) = frame.split_at(len - 2);
            if CRC.checksum(body).to_le_bytes() != crc {
                // A real device waits for the line to go quiet: drop it all.
                self.buffer.clear();
                break;
            }
            if self.faults.silent {
                continue;
            }
            let reply = match (self.faults.exception, body) {
                (Some(code), [slave, fc, ..])
                    if *slave != 0 && self.devices.contains_key(slave) =>
                {
                    Some(reply_frame(vec![*slave, fc | 0x80, code]))
                }
                _ => self.answer(body),
            };
            if let Some(mut reply) = reply {
                if self.faults.bad_crc {
                    if let Some(last) = reply.last_mut() {
                        *last ^= 0xFF;
                    }
                }
                replies.push(reply);
            }
        }
        replies
    }

    /// The length of the frame at the buffer's start, when known yet.
    fn frame_len(&self) -> Option<usize> {
        let fc = *self.buffer.get(1)?;
        match fc {
            0x03 | 0x06 => Some(8),
            0x10 => self.buffer.get(6).map(|&n| 9 + usize::from(n)),
            // Another function: its length is unknown here; a frame of 8
            // (the common request size) is taken to answer exception 01.
            _ => Some(8),
        }
    }

    fn answer(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        let (&slave, rest) = body.split_first()?;
        let (&fc, data) = rest.split_first()?;
        if slave == 0 {
            return None;
        }
        let map = &self.map;
        let device = self.devices.get_mut(&slave)?;
        let exception = |code: u8| Some(reply_frame(vec![slave, fc | 0x80, code]));
        let word = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
        match fc {
            0x03 => {
                let (start, count) = (word(0), word(2));
                if !(1..=125).contains(&count) {
                    return exception(0x03);
                }
                let mut out = vec![slave, fc, (count * 2) as u8];
                for register in start..start.saturating_add(count) {
                    let Some(slot) = map.get(&register) else {
                        return exception(0x02);
                    };
                    out.extend_from_slice(&device.read_word(*slot).to_be_bytes());
                }
                Some(reply_frame(out))
            }
            0x06 => {
                let (register, value) = (word(0), word(2));
                match map.get(&register) {
                    None => exception(0x02),
                    Some(slot) if slot.dtype.registers() != 1 => exception(0x02),
                    Some(slot) => match device.write(*slot, &[value]) {
                        true => Some(reply_frame(body[..6].to_vec())),
                        false => exception(0x03),
                    },
                }
            }
            0x10 => {
                let (start, count) = (word(0), word(2));
                let bytes = usize::from(*data.get(4)?);
                if count == 0 || count > 123 || bytes != usize::from(count) * 2 {
                    return exception(0x03);
                }
                let words: Vec<u16> = data[5..5 + bytes]
                    .chunks_exact(2)
                    .map(|w| u16::from_be_bytes([w[0], w[1]]))
                    .collect();
                // Whole parameters only: a float's two words together.
                let mut at = 0usize;
                while at < words.len() {
                    let register = start + at as u16;
                    let Some(slot) = map.get(&register).copied() else {
                        return exception(0x02);
                    };
                    let n = usize::from(slot.dtype.registers());
                    if slot.word != 0 || at + n > words.len() {
                        return exception(0x02);
                    }
                    if !device.write(slot, &words[at..at + n]) {
                        return exception(0x03);
                    }
                    at += n;
                }
                Some(reply_frame(body[..6].to_vec()))
            }
            _ => exception(0x01),
        }
    }
}

impl ModbusDevice {
    fn read_word(&mut self, slot: Slot) -> u16 {
        let Some(sel) = Selector::of(slot.id, slot.instance) else {
            return 0;
        };
        let value = match self.controller.answer(&Request::Read(sel)) {
            Reply::Read(_, value) => value,
            _ => return 0,
        };
        let bits = match value {
            Typed::F32(v) => v.to_bits(),
            Typed::S32(v) => v as u32,
            Typed::U32(v) => v,
            Typed::U8(v) => u32::from(v),
            Typed::U16(v) => u32::from(v),
            Typed::Enum(words) => u32::from(words.first().copied().unwrap_or(0)),
            Typed::Str(_) => 0,
        };
        if slot.dtype.registers() == 2 {
            self.order.split(bits)[usize::from(slot.word)]
        } else {
            bits as u16
        }
    }

    /// Stores the words of one whole parameter; false when refused.
    fn write(&mut self, slot: Slot, words: &[u16]) -> bool {
        let Some(sel) = Selector::of(slot.id, slot.instance) else {
            return false;
        };
        let value = match (slot.dtype, words) {
            (DataType::F32, [a, b]) => Typed::F32(self.order.words_f32([*a, *b])),
            (DataType::S32, [a, b]) => Typed::S32(self.order.join([*a, *b]) as i32),
            (DataType::Enum, [w]) => Typed::enumeration(*w),
            (DataType::U8, [w]) => match u8::try_from(*w) {
                Ok(v) => Typed::U8(v),
                Err(_) => return false,
            },
            (DataType::U16, [w]) => Typed::U16(*w),
            _ => return false,
        };
        matches!(
            self.controller.answer(&Request::Write(sel, value)),
            Reply::Write(..)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watlow::controller::Plant;
    use std::time::Duration;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap_or(0))
            .collect()
    }

    fn line(order: WordOrder) -> ModbusLine {
        let mut line = ModbusLine::new();
        let pm = Controller::pm(1, 75.0, Plant::new(Duration::ZERO, 0.0, 1));
        line.add(1, ModbusDevice::new(pm, order));
        line
    }

    /// The spec's frames (3.4, checked there against pymodbus' server).
    #[test]
    fn the_documented_exchanges() {
        let mut line = line(WordOrder::LowHigh);
        assert_eq!(
            line.push(&hex("01 03 09 B8 00 01 07 B3")),
            vec![hex("01 03 02 05 33 FB 01")]
        );
        assert_eq!(
            line.push(&hex("01 03 08 70 00 02 C7 B0")),
            vec![hex("01 03 04 00 00 42 96 4A FD")]
        );
        assert_eq!(
            line.push(&hex("01 10 08 70 00 02 04 00 00 42 96 23 85")),
            vec![hex("01 10 08 70 00 02 42 73")]
        );
        // Unmapped: exception 02, as pymodbus answered.
        let unmapped = reply_frame(hex("01 03 00 05 00 01"));
        assert_eq!(line.push(&unmapped), vec![hex("01 83 02 C0 F1")]);
        // In fragments, after another slave's frame and a broadcast (both
        // unanswered; a broadcast is not applied either).
        let mut got = line.push(&reply_frame(hex("02 03 01 68 00 02")));
        got.extend(line.push(&reply_frame(hex("00 06 07 5C 00 3E"))));
        got.extend(line.push(&hex("01 03 01")));
        got.extend(line.push(&hex("68 00 02 44 2B")));
        assert_eq!(got, vec![hex("01 03 04 00 00 42 96 4A FD")]);
    }

    #[test]
    fn floats_follow_the_word_order_and_half_writes_are_refused() {
        let mut line = line(WordOrder::HighLow);
        assert_eq!(line.push(&hex("01 03 09 B8 00 01 07 B3")).len(), 1);
        let sp = line.push(&hex("01 03 08 70 00 02 C7 B0"));
        assert_eq!(sp[0][3..7], [0x42, 0x96, 0x00, 0x00]);
        // FC06 on half a float, FC16 starting in a float's middle.
        let half = reply_frame(hex("01 06 08 70 42 96"));
        assert_eq!(line.push(&half)[0][1], 0x86);
        let middle = reply_frame(hex("01 10 08 71 00 01 02 00 00"));
        assert_eq!(line.push(&middle)[0][1..3], [0x90, 0x02]);
        // Read-only PV: exception 03.
        let pv = reply_frame(hex("01 10 01 68 00 02 04 42 96 00 00"));
        assert_eq!(line.push(&pv)[0][1..3], [0x90, 0x03]);
        // A bad CRC: silence.
        assert!(line.push(&hex("01 03 08 70 00 02 C7 B1")).is_empty());
        // Another function: 01.
        assert_eq!(
            line.push(&reply_frame(hex("01 04 00 00 00 01")))[0][1..3],
            [0x84, 0x01]
        );
    }
}
