//! The BACnet MS/TP frame around every Standard Bus message:
//! `55 FF | type | dst | src | len (BE) | header CRC | payload | data CRC (LE)`.

use super::crc::{data_crc, header_crc};

/// The two bytes every frame starts with.
pub const PREAMBLE: [u8; 2] = [0x55, 0xFF];
/// BACnet "Data Expecting Reply": every request.
pub const FT_REQUEST: u8 = 0x05;
/// BACnet "Data Not Expecting Reply": every reply.
pub const FT_REPLY: u8 = 0x06;
/// The host's MAC in the frames we send (pywatlow's integer writes used
/// 0x03; a controller answers whichever it is sent).
pub const HOST_MAC: u8 = 0x00;
/// Longest payload taken as a frame: a longer length field is corruption.
pub const MAX_PAYLOAD: usize = 512;
/// Bytes skipped looking for a preamble before the receive fails.
pub const MAX_GARBAGE: usize = 256;
/// Preamble, type, destination, source, length and header CRC.
pub const HEADER_LEN: usize = 8;

/// The MAC of the controller at Standard Bus address `address` (1..16):
/// `0x0F + address`; `None` outside the range.
pub fn device_mac(address: u8) -> Option<u8> {
    (1..=16).contains(&address).then(|| 0x0F + address)
}

/// One frame, decoded (its CRCs checked) or to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// [`FT_REQUEST`] or [`FT_REPLY`] (others are BACnet's, never answered).
    pub frame_type: u8,
    /// Destination MAC.
    pub dst: u8,
    /// Source MAC.
    pub src: u8,
    /// The attribute-service message.
    pub payload: Vec<u8>,
}

impl Frame {
    /// A request from the host to the controller at `mac`.
    pub fn request(mac: u8, payload: Vec<u8>) -> Self {
        Self {
            frame_type: FT_REQUEST,
            dst: mac,
            src: HOST_MAC,
            payload,
        }
    }

    /// The bytes on the wire. A payload is at most [`MAX_PAYLOAD`] bytes
    /// (every message of the attribute service is far shorter).
    pub fn encode(&self) -> Vec<u8> {
        let len = self.payload.len().min(MAX_PAYLOAD) as u16;
        let [hi, lo] = len.to_be_bytes();
        let header = [self.frame_type, self.dst, self.src, hi, lo];
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len() + 2);
        out.extend_from_slice(&PREAMBLE);
        out.extend_from_slice(&header);
        out.push(header_crc(&header));
        if len > 0 {
            let data = &self.payload[..usize::from(len)];
            out.extend_from_slice(data);
            out.extend_from_slice(&data_crc(data).to_le_bytes());
        }
        out
    }
}

/// Why bytes did not make a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// No preamble within [`MAX_GARBAGE`] bytes.
    #[error("no frame start (55 FF) in {skipped} bytes")]
    NoPreamble {
        /// Bytes skipped.
        skipped: usize,
    },
    /// The header's CRC-8 does not match.
    #[error("header CRC {got:02X}, expected {expected:02X}")]
    HeaderCrc {
        /// Computed over the header.
        expected: u8,
        /// On the wire.
        got: u8,
    },
    /// The length field is over [`MAX_PAYLOAD`].
    #[error("payload length {len} over {MAX_PAYLOAD}")]
    TooLong {
        /// The length field.
        len: usize,
    },
    /// The payload's CRC-16 does not match.
    #[error("data CRC {got:04X}, expected {expected:04X}")]
    DataCrc {
        /// Computed over the payload.
        expected: u16,
        /// On the wire.
        got: u16,
    },
}

/// Frames out of a byte stream, pushed in as it arrives (fragments,
/// garbage before a frame, several frames at once). After an error the
/// receiver has dropped the bad start and looks for the next preamble, so a
/// server can stay silent and go on; a client fails its exchange instead.
#[derive(Debug, Default)]
pub struct Receiver {
    buffer: Vec<u8>,
    skipped: usize,
}

impl Receiver {
    /// An empty receiver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Drops everything buffered (a client flushing stale input).
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.skipped = 0;
    }

    /// Bytes waiting.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next frame, an error, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        // A 55 not followed by FF is garbage, but the byte after it is
        // looked at again: it may start the preamble.
        let start = self.buffer.windows(2).position(|w| w == PREAMBLE);
        let garbage = match start {
            Some(at) => at,
            // Keep a trailing 55: its FF may be on the way.
            None => self.buffer.len() - usize::from(self.buffer.last() == Some(&0x55)),
        };
        if garbage > 0 {
            self.skip(garbage);
            if self.skipped > MAX_GARBAGE {
                let skipped = self.skipped;
                self.skipped = 0;
                return Some(Err(FrameError::NoPreamble { skipped }));
            }
        }
        if start.is_none() || self.buffer.len() < HEADER_LEN {
            return None;
        }
        let header = [
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
            self.buffer[5],
            self.buffer[6],
        ];
        let expected = header_crc(&header);
        if expected != self.buffer[7] {
            let got = self.buffer[7];
            self.resync();
            return Some(Err(FrameError::HeaderCrc { expected, got }));
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len > MAX_PAYLOAD {
            self.resync();
            return Some(Err(FrameError::TooLong { len }));
        }
        // MS/TP: a frame without data (a token, a poll) has no data CRC.
        let total = HEADER_LEN + if len > 0 { len + 2 } else { 0 };
        if self.buffer.len() < total {
            return None;
        }
        let payload = self.buffer[HEADER_LEN..HEADER_LEN + len].to_vec();
        if len > 0 {
            let got = u16::from_le_bytes([self.buffer[total - 2], self.buffer[total - 1]]);
            let expected = data_crc(&payload);
            if expected != got {
                self.resync();
                return Some(Err(FrameError::DataCrc { expected, got }));
            }
        }
        self.buffer.drain(..total);
        self.skipped = 0;
        Some(Ok(Frame {
            frame_type: header[0],
            dst: header[1],
            src: header[2],
            payload,
        }))
    }

    fn skip(&mut self, n: usize) {
        self.buffer.drain(..n);
        self.skipped += n;
    }

    /// Past a bad frame start: its preamble's first byte.
    fn resync(&mut self) {
        self.buffer.drain(..1);
        self.skipped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_pv() -> Vec<u8> {
        Frame::request(0x10, vec![0x01, 0x03, 0x01, 0x04, 0x01, 0x01]).encode()
    }

    #[test]
    fn a_frame_in_fragments_after_garbage_is_found_once_whole() {
        let bytes = read_pv();
        let mut rx = Receiver::new();
        rx.push(&[0x00, 0x55, 0x13, 0x55]);
        assert_eq!(rx.next_frame(), None);
        for chunk in bytes.chunks(3) {
            assert_eq!(rx.next_frame(), None);
            rx.push(chunk);
        }
        let frame = rx.next_frame().unwrap().unwrap();
        assert_eq!((frame.dst, frame.payload.len()), (0x10, 6));
        assert_eq!(rx.buffered(), 0);
    }

    #[test]
    fn a_55_before_the_preamble_does_not_hide_it() {
        let mut bytes = vec![0x55];
        bytes.extend(read_pv());
        let mut rx = Receiver::new();
        rx.push(&bytes);
        assert!(rx.next_frame().unwrap().is_ok());
    }

    #[test]
    fn bad_crcs_are_errors_and_the_next_frame_is_still_found() {
        let good = read_pv();
        let mut bad_header = good.clone();
        bad_header[7] ^= 1;
        let mut bad_data = good.clone();
        *bad_data.last_mut().unwrap() ^= 1;
        let mut rx = Receiver::new();
        rx.push(&bad_header);
        rx.push(&bad_data);
        rx.push(&good);
        assert!(matches!(
            rx.next_frame(),
            Some(Err(FrameError::HeaderCrc { .. }))
        ));
        assert!(matches!(
            rx.next_frame(),
            Some(Err(FrameError::DataCrc { .. }))
        ));
        assert!(rx.next_frame().unwrap().is_ok());
        assert_eq!(rx.next_frame(), None);
    }

    #[test]
    fn too_much_garbage_or_a_huge_length_is_an_error() {
        let mut rx = Receiver::new();
        rx.push(&[0xAA; 300]);
        assert!(matches!(
            rx.next_frame(),
            Some(Err(FrameError::NoPreamble { skipped: 300 }))
        ));
        let header = [FT_REPLY, 0x00, 0x10, 0x02, 0x01];
        let mut long = PREAMBLE.to_vec();
        long.extend_from_slice(&header);
        long.push(header_crc(&header));
        rx.push(&long);
        assert!(matches!(
            rx.next_frame(),
            Some(Err(FrameError::TooLong { len: 513 }))
        ));
    }

    /// BACnet's own frames (a poll-for-master here) have no data and no
    /// data CRC: the next frame's bytes are not taken for one.
    #[test]
    fn a_frame_without_data_has_no_data_crc() {
        let poll = [0x55, 0xFF, 0x01, 0x10, 0x00, 0x00, 0x00, 0xF4];
        let mut rx = Receiver::new();
        rx.push(&poll);
        rx.push(&read_pv());
        let first = rx.next_frame().unwrap().unwrap();
        assert_eq!((first.frame_type, first.payload.len()), (0x01, 0));
        assert_eq!(first.encode(), poll);
        assert_eq!(rx.next_frame().unwrap().unwrap().payload.len(), 6);
    }

    #[test]
    fn macs_cover_addresses_1_to_16() {
        assert_eq!(device_mac(1), Some(0x10));
        assert_eq!(device_mac(16), Some(0x1F));
        assert_eq!(device_mac(0), None);
        assert_eq!(device_mac(17), None);
    }
}
