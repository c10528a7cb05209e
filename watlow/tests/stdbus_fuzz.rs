//! The decoders on arbitrary bytes: never a panic, and whatever the
//! receiver accepts re-encodes to the bytes it came from.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use watlow::stdbus::{Frame, Receiver, Reply, Request};

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                   cut in 0usize..2048) {
        let mut rx = Receiver::new();
        let cut = cut.min(bytes.len());
        rx.push(&bytes[..cut]);
        let mut frames = Vec::new();
        while let Some(item) = rx.next_frame() {
            frames.push(item);
        }
        rx.push(&bytes[cut..]);
        while let Some(item) = rx.next_frame() {
            frames.push(item);
        }
        for frame in frames.into_iter().flatten() {
            let _ = Reply::decode(&frame.payload);
            let _ = Request::decode(&frame.payload);
        }
    }

    #[test]
    fn any_payload_survives_framing(payload in proptest::collection::vec(any::<u8>(), 0..512),
                                    garbage in proptest::collection::vec(any::<u8>(), 0..200)) {
        let frame = Frame { frame_type: 0x06, dst: 0, src: 0x12, payload };
        let mut rx = Receiver::new();
        // Garbage that holds no preamble of its own.
        let garbage: Vec<u8> = garbage.into_iter().map(|b| if b == 0x55 { 0 } else { b }).collect();
        rx.push(&garbage);
        rx.push(&frame.encode());
        prop_assert_eq!(rx.next_frame(), Some(Ok(frame)));
    }
}
