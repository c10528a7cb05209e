//! A Standard Bus line of simulated controllers, sans I/O: a request frame
//! in, the reply's bytes out, or silence where a real PM is silent (a frame
//! that is no request, an address nobody has, a message it does not know).

use super::controller::Controller;
use std::collections::BTreeMap;
use std::time::Duration;
use watlow::stdbus::frame::FT_REQUEST;
use watlow::stdbus::{device_mac, Frame, Receiver, Request};

/// What the line does wrong, on purpose.
#[derive(Debug, Clone, Default)]
pub struct LineFaults {
    /// Waited before each reply.
    pub latency: Duration,
    /// No reply at all (a dropped frame).
    pub silent: bool,
    /// Bytes sent before each reply.
    pub garbage_prefix: Vec<u8>,
    /// The reply's data CRC flipped.
    pub bad_data_crc: bool,
    /// The reply claims another source MAC.
    pub wrong_source: bool,
    /// Replies sent in pieces of this many bytes, this far apart.
    pub fragment: Option<(usize, Duration)>,
    /// Only this many bytes of each reply are sent (then the line stalls).
    pub truncate: Option<usize>,
}

/// Several controllers on one line, by address.
#[derive(Default)]
pub struct StdBusLine {
    controllers: BTreeMap<u8, Controller>,
    receiver: Receiver,
    /// Faults applied to every reply.
    pub faults: LineFaults,
    /// Write requests answered (a test's count of EEPROM writes).
    pub writes: u64,
}

impl StdBusLine {
    /// An empty line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `controller` at `address` (1..16); false when out of range.
    pub fn add(&mut self, address: u8, controller: Controller) -> bool {
        let ok = device_mac(address).is_some();
        if ok {
            self.controllers.insert(address, controller);
        }
        ok
    }

    /// The controller at `address`.
    pub fn controller(&mut self, address: u8) -> Option<&mut Controller> {
        self.controllers.get_mut(&address)
    }

    /// Lets plant time pass on every controller.
    pub fn advance(&mut self, dt: Duration) {
        for c in self.controllers.values_mut() {
            c.advance(dt);
        }
    }

    /// Takes bytes from the line; returns the replies the frames they
    /// complete get (a frame that is no frame gets silence, as on a line).
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.receiver.push(bytes);
        let mut replies = Vec::new();
        while let Some(item) = self.receiver.next_frame() {
            if let Some(reply) = item.ok().and_then(|frame| self.handle(&frame)) {
                replies.push(reply);
            }
        }
        replies
    }

    /// The bytes answering `frame`, faults applied; `None` for silence.
    pub fn handle(&mut self, frame: &Frame) -> Option<Vec<u8>> {
        if frame.frame_type != FT_REQUEST || self.faults.silent {
            return None;
        }
        let address = frame.dst.checked_sub(0x0F)?;
        device_mac(address)?;
        let controller = self.controllers.get_mut(&address)?;
        let request = Request::decode(&frame.payload).ok()?;
        if matches!(request, Request::Write(..)) {
            self.writes += 1;
        }
        let reply = controller.answer(&request);
        let src = if self.faults.wrong_source {
            frame.dst ^ 0x01
        } else {
            frame.dst
        };
        let mut bytes = self.faults.garbage_prefix.clone();
        let mut encoded = Frame {
            frame_type: 0x06,
            dst: frame.src,
            src,
            payload: reply.encode(),
        }
        .encode();
        if self.faults.bad_data_crc {
            if let Some(last) = encoded.last_mut() {
                *last ^= 0xFF;
            }
        }
        bytes.extend(encoded);
        if let Some(n) = self.faults.truncate {
            bytes.truncate(n);
        }
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watlow::controller::Plant;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap_or(0))
            .collect()
    }

    fn frame(bytes: &[u8]) -> Frame {
        let mut rx = watlow::stdbus::Receiver::new();
        rx.push(bytes);
        match rx.next_frame() {
            Some(Ok(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    fn line() -> StdBusLine {
        let mut line = StdBusLine::new();
        line.add(
            1,
            Controller::pm(1, 75.0, Plant::new(Duration::from_secs(30), 0.0, 1)),
        );
        line.add(
            16,
            Controller::pm(16, 75.0, Plant::new(Duration::from_secs(30), 0.0, 2)),
        );
        line
    }

    /// The spec's captured replies, byte for byte, from the simulator.
    #[test]
    fn the_captured_replies_come_back() {
        let mut line = line();
        let write = line.handle(&frame(&hex(
            "55 FF 05 10 00 00 0A EC 01 04 07 01 01 08 43 C4 00 00 EB 77",
        )));
        assert_eq!(
            write,
            Some(hex(
                "55 FF 06 00 10 00 0A 76 02 04 07 01 01 08 43 C4 00 00 82 03"
            ))
        );
        let read = line.handle(&frame(&hex(
            "55 FF 05 10 00 00 06 E8 01 03 01 07 01 01 87 76",
        )));
        assert_eq!(
            read,
            Some(hex(
                "55 FF 06 00 10 00 0B 88 02 03 01 07 01 01 08 43 C4 00 00 33 9A"
            ))
        );
        let alg = line.handle(&frame(&hex(
            "55 FF 05 10 00 00 06 E8 01 03 01 08 03 01 F0 0F",
        )));
        assert_eq!(
            alg,
            Some(hex(
                "55 FF 06 00 10 00 0A 76 02 03 01 08 03 01 0F 01 00 47 C5 6B"
            ))
        );
        let hw = line.handle(&frame(&hex(
            "55 FF 05 10 00 00 06 E8 01 03 01 01 01 01 5E A0",
        )));
        assert_eq!(
            hw,
            Some(hex(
                "55 FF 06 00 10 00 0B 88 02 03 01 01 01 01 06 00 00 00 1C 56 66"
            ))
        );
        let at16 = line.handle(&frame(&hex(
            "55 FF 05 1F 00 00 0A 12 01 04 07 01 01 08 42 A2 00 00 C4 B8",
        )));
        assert_eq!(
            at16,
            Some(hex(
                "55 FF 06 00 1F 00 0A 77 02 04 07 01 01 08 42 A2 00 00 AD CC"
            ))
        );
    }

    #[test]
    fn silence_where_a_pm_is_silent() {
        let mut line = line();
        // Poll-for-master, an address nobody has, an unknown service.
        assert_eq!(line.handle(&frame(&hex("55 FF 01 10 00 00 00 F4"))), None);
        let absent = Frame::request(0x11, vec![0x01, 0x03, 0x01, 0x04, 0x01, 0x01]);
        assert_eq!(line.handle(&absent), None);
        let unknown = Frame::request(0x10, vec![0x01, 0x07, 0x01]);
        assert_eq!(line.handle(&unknown), None);
        line.faults.silent = true;
        let read = Frame::request(0x10, vec![0x01, 0x03, 0x01, 0x04, 0x01, 0x01]);
        assert_eq!(line.handle(&read), None);
    }
}
