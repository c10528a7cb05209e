//! The two CRCs of a BACnet MS/TP frame.

/// The data CRC: CRC-16/IBM-SDLC, sent low byte first.
const DATA: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);

/// The header CRC over frame type, destination, source and length:
/// BACnet's CRC-8 (polynomial x^8 + x^7 + 1 reflected, init 0xFF,
/// complemented). Not a catalogue entry of the `crc` crate.
pub fn header_crc(bytes: &[u8]) -> u8 {
    let mut crc: u8 = 0xFF;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x81
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The data CRC over the payload.
pub fn data_crc(payload: &[u8]) -> u16 {
    DATA.checksum(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_match_the_catalogue() {
        assert_eq!(header_crc(b"123456789"), 0x89);
        assert_eq!(data_crc(b"123456789"), 0x906E);
    }

    /// The receiver's shortcut of the standard: the un-complemented
    /// register over the header and its CRC leaves 0x55.
    #[test]
    fn the_header_and_its_crc_leave_the_residue() {
        let header = [0x05, 0x10, 0x00, 0x00, 0x06];
        let mut all = header.to_vec();
        all.push(header_crc(&header));
        assert_eq!(!header_crc(&all), 0x55);
    }
}
