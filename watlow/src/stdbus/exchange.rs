//! What a client checks of a reply before it believes it (spec 2.6, step
//! 5): the frame type, both MACs, the service and the echoed selector.
//! watlowlib skips the address checks; a reply from the wrong controller on
//! a shared line must not pass for the right one.

use super::frame::{Frame, FT_REPLY, HOST_MAC};
use super::payload::{PayloadError, Reply, Request, Selector, Typed};

/// Why a reply does not answer the request, or the controller's refusal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplyError {
    /// Not a reply frame.
    #[error("frame type {0:02X}, not a reply (06)")]
    FrameType(u8),
    /// From another controller than the one asked.
    #[error("reply from MAC {got:02X}, asked {expected:02X}")]
    WrongSource {
        /// The MAC asked.
        expected: u8,
        /// The reply's source.
        got: u8,
    },
    /// Addressed to someone else than this host.
    #[error("reply to MAC {0:02X}, not this host")]
    WrongDestination(u8),
    /// Not an attribute-service reply.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A reply of the other service (a write answered as a read).
    #[error("a {got} reply to a {asked} request")]
    WrongService {
        /// "read" or "write".
        asked: &'static str,
        /// What came.
        got: &'static str,
    },
    /// The echo names another parameter or instance.
    #[error("reply for {got:?}, asked {asked:?}")]
    WrongSelector {
        /// The request's.
        asked: Selector,
        /// The reply's.
        got: Selector,
    },
    /// 0x81: no such class (the parameter is not on this device).
    #[error("no such object (error 81)")]
    NoSuchObject,
    /// 0x83: no such member.
    #[error("no such attribute (error 83)")]
    NoSuchAttribute,
    /// 0x84: no such instance (a loop the device does not have).
    #[error("no such instance (error 84)")]
    NoSuchInstance,
    /// 0x80: refused write (seen writing a read-only parameter).
    #[error("write refused (error 80)")]
    Refused,
    /// Another code.
    #[error("device error {0:02X}")]
    Device(u8),
}

impl ReplyError {
    /// A frame that answers another request or host: not ours to take.
    pub fn stray(&self) -> bool {
        matches!(
            self,
            Self::FrameType(_)
                | Self::WrongSource { .. }
                | Self::WrongDestination(_)
                | Self::WrongService { .. }
                | Self::WrongSelector { .. }
        )
    }

    /// The parameter is not on this device: cache it, ask no more.
    pub fn unsupported(&self) -> bool {
        matches!(self, Self::NoSuchObject | Self::NoSuchAttribute)
    }
}

/// The value a reply carries for `request`, sent to the controller at
/// `mac`: the read value, or the value a write stored.
pub fn check_reply(request: &Request, mac: u8, reply: &Frame) -> Result<Typed, ReplyError> {
    if reply.frame_type != FT_REPLY {
        return Err(ReplyError::FrameType(reply.frame_type));
    }
    if reply.src != mac {
        return Err(ReplyError::WrongSource {
            expected: mac,
            got: reply.src,
        });
    }
    if reply.dst != HOST_MAC {
        return Err(ReplyError::WrongDestination(reply.dst));
    }
    let (asked, selector, value) = match (request, Reply::decode(&reply.payload)?) {
        (_, Reply::Error(code)) => {
            return Err(match code {
                0x81 => ReplyError::NoSuchObject,
                0x83 => ReplyError::NoSuchAttribute,
                0x84 => ReplyError::NoSuchInstance,
                0x80 => ReplyError::Refused,
                other => ReplyError::Device(other),
            })
        }
        (Request::Read(asked), Reply::Read(got, value)) => (*asked, got, value),
        (Request::Write(asked, _), Reply::Write(got, value)) => (*asked, got, value),
        (Request::Read(_), Reply::Write(..)) => {
            return Err(ReplyError::WrongService {
                asked: "read",
                got: "write",
            })
        }
        (Request::Write(..), Reply::Read(..)) => {
            return Err(ReplyError::WrongService {
                asked: "write",
                got: "read",
            })
        }
    };
    if selector != asked {
        return Err(ReplyError::WrongSelector {
            asked,
            got: selector,
        });
    }
    Ok(value)
}
