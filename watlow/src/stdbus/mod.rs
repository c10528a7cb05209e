//! Watlow Standard Bus, sans-I/O: the frame ([`frame`]), its CRCs
//! ([`crc`]), the attribute service carried inside ([`payload`]) and the
//! checks a client makes of a reply to its request ([`exchange`]); the
//! async shell around them ([`client`]).

pub mod client;
pub mod crc;
pub mod exchange;
pub mod frame;
pub mod payload;

pub use client::{StdBusClient, StdBusError};
pub use exchange::{check_reply, ReplyError};
pub use frame::{device_mac, Frame, FrameError, Receiver, HOST_MAC};
pub use payload::{Reply, Request, Selector, Typed};
