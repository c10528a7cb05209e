//! Watlow's attribute service, the payload of a Standard Bus frame:
//!
//! ```text
//! read  request : 01 03 01 CC MM II
//! read  reply   : 02 03 01 CC MM II <typed value>
//! write request : 01 04 CC MM II <typed value>
//! write reply   : 02 04 CC MM II <typed value>   (the value accepted)
//! error reply   : 02 EE                          (EE with bit 7 set)
//! ```

/// A request's first byte.
const REQUEST: u8 = 0x01;
/// A reply's first byte.
const REPLY: u8 = 0x02;
/// The read service.
const READ: u8 = 0x03;
/// The write service.
const WRITE: u8 = 0x04;
/// A read's mode byte: one attribute (block reads are undecoded).
const SINGLE: u8 = 0x01;

/// Which parameter and instance: class, member, instance, one byte each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selector {
    /// The parameter id's thousands (4001 -> 4).
    pub class: u8,
    /// The parameter id's remainder (4001 -> 1).
    pub member: u8,
    /// Loop or channel, 1-based.
    pub instance: u8,
}

impl Selector {
    /// The selector of parameter `id` (as printed in Watlow's manuals) at
    /// `instance`; `None` when the id does not fit a class and member byte.
    pub fn of(id: u32, instance: u8) -> Option<Self> {
        let class = u8::try_from(id / 1000).ok()?;
        let member = u8::try_from(id % 1000).ok()?;
        Some(Self {
            class,
            member,
            instance,
        })
    }

    /// The parameter id back (`class * 1000 + member`).
    pub fn id(&self) -> u32 {
        u32::from(self.class) * 1000 + u32::from(self.member)
    }

    fn at(class: u8, member: u8, instance: u8) -> Self {
        Self {
            class,
            member,
            instance,
        }
    }

    fn bytes(&self) -> [u8; 3] {
        [self.class, self.member, self.instance]
    }
}

/// A value with its type tag, as the wire carries it (big-endian).
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Tag 08: IEEE-754 single.
    F32(f32),
    /// Tag 0F: an enumeration, a count then that many 16-bit words (one in
    /// every capture).
    Enum(Vec<u16>),
    /// Tag 01.
    U8(u8),
    /// Tag 03.
    U16(u16),
    /// Tag 05.
    U32(u32),
    /// Tag 06.
    S32(i32),
    /// Tag 09: a length byte, then ASCII padded with NULs (trimmed here).
    Str(String),
}

impl Typed {
    /// An enumeration of one word, the usual form.
    pub fn enumeration(value: u16) -> Self {
        Self::Enum(vec![value])
    }

    /// Its tag byte.
    pub fn tag(&self) -> u8 {
        match self {
            Self::F32(_) => 0x08,
            Self::Enum(_) => 0x0F,
            Self::U8(_) => 0x01,
            Self::U16(_) => 0x03,
            Self::U32(_) => 0x05,
            Self::S32(_) => 0x06,
            Self::Str(_) => 0x09,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            Self::F32(v) => out.extend_from_slice(&v.to_be_bytes()),
            Self::Enum(words) => {
                out.push(words.len().min(255) as u8);
                for w in words.iter().take(255) {
                    out.extend_from_slice(&w.to_be_bytes());
                }
            }
            Self::U8(v) => out.push(*v),
            Self::U16(v) => out.extend_from_slice(&v.to_be_bytes()),
            Self::U32(v) => out.extend_from_slice(&v.to_be_bytes()),
            Self::S32(v) => out.extend_from_slice(&v.to_be_bytes()),
            Self::Str(s) => {
                let bytes: Vec<u8> = s.bytes().take(254).collect();
                // NUL-terminated, as the device sends it.
                out.push(bytes.len() as u8 + 1);
                out.extend_from_slice(&bytes);
                out.push(0);
            }
        }
    }

    /// Decodes a tagged value that fills `bytes` exactly.
    fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        let (&tag, rest) = bytes.split_first().ok_or(PayloadError::Short)?;
        let exact = |n: usize| -> Result<&[u8], PayloadError> {
            if rest.len() == n {
                Ok(rest)
            } else {
                Err(PayloadError::Length {
                    tag,
                    expected: n,
                    got: rest.len(),
                })
            }
        };
        let be4 = |b: &[u8]| [b[0], b[1], b[2], b[3]];
        Ok(match tag {
            0x08 => Self::F32(f32::from_be_bytes(be4(exact(4)?))),
            0x01 => Self::U8(exact(1)?[0]),
            0x03 => {
                let b = exact(2)?;
                Self::U16(u16::from_be_bytes([b[0], b[1]]))
            }
            0x05 => Self::U32(u32::from_be_bytes(be4(exact(4)?))),
            0x06 => Self::S32(i32::from_be_bytes(be4(exact(4)?))),
            0x0F => {
                let count = usize::from(*rest.first().ok_or(PayloadError::Short)?);
                let words = exact(1 + 2 * count)?;
                Self::Enum(
                    words[1..]
                        .chunks_exact(2)
                        .map(|w| u16::from_be_bytes([w[0], w[1]]))
                        .collect(),
                )
            }
            0x09 => {
                let len = usize::from(*rest.first().ok_or(PayloadError::Short)?);
                let text = exact(1 + len)?;
                let text = &text[1..];
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                Self::Str(String::from_utf8_lossy(&text[..end]).into_owned())
            }
            other => return Err(PayloadError::UnknownTag(other)),
        })
    }
}

/// What a payload could not be decoded as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Shorter than its fixed part.
    #[error("payload too short")]
    Short,
    /// Not a request (01) or reply (02), or an unknown service.
    #[error("not an attribute-service message: {0:02X?}")]
    Unknown(Vec<u8>),
    /// A type tag this codec does not know.
    #[error("unknown type tag {0:02X}")]
    UnknownTag(u8),
    /// A value of the wrong length for its tag.
    #[error("tag {tag:02X} with {got} value bytes, expected {expected}")]
    Length {
        /// The tag.
        tag: u8,
        /// Bytes its type takes.
        expected: usize,
        /// Bytes there were.
        got: usize,
    },
}

/// What the host asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Read one attribute.
    Read(Selector),
    /// Write one attribute with the parameter's own type.
    Write(Selector, Typed),
}

impl Request {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Read(sel) => {
                let mut out = vec![REQUEST, READ, SINGLE];
                out.extend_from_slice(&sel.bytes());
                out
            }
            Self::Write(sel, value) => {
                let mut out = vec![REQUEST, WRITE];
                out.extend_from_slice(&sel.bytes());
                value.encode_into(&mut out);
                out
            }
        }
    }

    /// Decodes a request payload (the simulator's side).
    pub fn decode(payload: &[u8]) -> Result<Self, PayloadError> {
        match payload {
            [REQUEST, READ, SINGLE, class, member, instance] => {
                Ok(Self::Read(Selector::at(*class, *member, *instance)))
            }
            [REQUEST, WRITE, class, member, instance, value @ ..] => Ok(Self::Write(
                Selector::at(*class, *member, *instance),
                Typed::decode(value)?,
            )),
            [REQUEST, ..] if payload.len() < 6 => Err(PayloadError::Short),
            _ => Err(PayloadError::Unknown(payload.to_vec())),
        }
    }

    /// Which attribute.
    pub fn selector(&self) -> Selector {
        match self {
            Self::Read(sel) | Self::Write(sel, _) => *sel,
        }
    }
}

/// What the controller answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The value read.
    Read(Selector, Typed),
    /// The value the write stored (its echo).
    Write(Selector, Typed),
    /// An error code (bit 7 set): 0x81 no such class, 0x83 no such member,
    /// 0x84 no such instance, 0x80 read-only (inferred); others unknown.
    Error(u8),
}

impl Reply {
    /// The payload bytes (the simulator's side).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Read(sel, value) => {
                let mut out = vec![REPLY, READ, SINGLE];
                out.extend_from_slice(&sel.bytes());
                value.encode_into(&mut out);
                out
            }
            Self::Write(sel, value) => {
                let mut out = vec![REPLY, WRITE];
                out.extend_from_slice(&sel.bytes());
                value.encode_into(&mut out);
                out
            }
            Self::Error(code) => vec![REPLY, *code],
        }
    }

    /// Decodes a reply payload.
    pub fn decode(payload: &[u8]) -> Result<Self, PayloadError> {
        match payload {
            [REPLY, code] if code & 0x80 != 0 => Ok(Self::Error(*code)),
            [REPLY, READ, SINGLE, class, member, instance, value @ ..] => Ok(Self::Read(
                Selector::at(*class, *member, *instance),
                Typed::decode(value)?,
            )),
            [REPLY, WRITE, class, member, instance, value @ ..] => Ok(Self::Write(
                Selector::at(*class, *member, *instance),
                Typed::decode(value)?,
            )),
            _ => Err(PayloadError::Unknown(payload.to_vec())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_into_class_and_member() {
        let sel = Selector::of(26029, 1).unwrap();
        assert_eq!((sel.class, sel.member), (0x1A, 0x1D));
        assert_eq!(sel.id(), 26029);
        assert_eq!(Selector::of(4001, 2).unwrap().bytes(), [4, 1, 2]);
        assert_eq!(Selector::of(256_001, 1), None);
    }

    #[test]
    fn every_type_survives_the_round_trip() {
        let sel = Selector::of(1009, 1).unwrap();
        for value in [
            Typed::F32(-1999.5),
            Typed::enumeration(71),
            Typed::Enum(vec![1, 2, 3]),
            Typed::U8(2),
            Typed::U16(1449),
            Typed::U32(4_000_000_000),
            Typed::S32(-28),
            Typed::Str("PM3R1CA-AAAAAAA".into()),
        ] {
            let reply = Reply::Read(sel, value.clone());
            assert_eq!(Reply::decode(&reply.encode()).unwrap(), reply);
            let write = Request::Write(sel, value);
            assert_eq!(Request::decode(&write.encode()).unwrap(), write);
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert_eq!(
            Reply::decode(&[0x02, 0x03, 0x01, 4, 1, 1, 0x08, 0x45]),
            Err(PayloadError::Length {
                tag: 0x08,
                expected: 4,
                got: 1
            })
        );
        assert_eq!(
            Reply::decode(&[0x02, 0x03, 0x01, 4, 1, 1, 0x77, 0]),
            Err(PayloadError::UnknownTag(0x77))
        );
        // Observed on the wire and undecoded: not taken for anything.
        assert!(matches!(
            Reply::decode(&[0x02, 0x05, 0x08, 0x03, 0x00]),
            Err(PayloadError::Unknown(_))
        ));
        assert_eq!(Request::decode(&[0x01, 0x03]), Err(PayloadError::Short));
    }
}
