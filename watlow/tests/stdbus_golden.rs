//! Every captured Standard Bus frame of the spec (section 2.5, real device
//! traffic re-checked by three CRC implementations), byte for byte: what we
//! encode equals the capture, and what we decode from it is the value the
//! capture carries. Plus the header CRC of every address (section 2.2).
#![allow(clippy::unwrap_used)]

use watlow::stdbus::crc::header_crc;
use watlow::stdbus::{
    check_reply, device_mac, Frame, Receiver, Reply, ReplyError, Request, Selector, Typed,
};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// The one frame in `bytes`.
fn frame(bytes: &[u8]) -> Frame {
    let mut rx = Receiver::new();
    rx.push(bytes);
    let frame = rx.next_frame().unwrap().unwrap();
    assert_eq!(rx.buffered(), 0);
    frame
}

fn sel(id: u32) -> Selector {
    Selector::of(id, 1).unwrap()
}

/// `request` to address `address` encodes to `req`, and `rsp` (from
/// `rsp_address`) answers it with `value`; the reply also re-encodes.
fn exchange(address: u8, request: Request, req: &str, rsp_address: u8, rsp: &str, value: Typed) {
    let mac = device_mac(address).unwrap();
    assert_eq!(Frame::request(mac, request.encode()).encode(), hex(req));
    assert_eq!(Request::decode(&frame(&hex(req)).payload).unwrap(), request);
    let reply = frame(&hex(rsp));
    let rsp_mac = device_mac(rsp_address).unwrap();
    assert_eq!(check_reply(&request, rsp_mac, &reply).unwrap(), value);
    let decoded = Reply::decode(&reply.payload).unwrap();
    let again = Frame {
        frame_type: 0x06,
        dst: reply.dst,
        src: reply.src,
        payload: decoded.encode(),
    };
    assert_eq!(again.encode(), hex(rsp));
}

#[test]
fn reads_of_pv_sp_an_enum_and_the_hardware_id() {
    exchange(
        1,
        Request::Read(sel(4001)),
        "55 FF 05 10 00 00 06 E8 01 03 01 04 01 01 E3 99",
        1,
        "55 FF 06 00 10 00 0B 88 02 03 01 04 01 01 08 45 1E 3C D4 A7 28",
        Typed::F32(f32::from_bits(0x451E_3CD4)),
    );
    exchange(
        1,
        Request::Read(sel(7001)),
        "55 FF 05 10 00 00 06 E8 01 03 01 07 01 01 87 76",
        1,
        "55 FF 06 00 10 00 0B 88 02 03 01 07 01 01 08 43 C4 00 00 33 9A",
        Typed::F32(392.0),
    );
    exchange(
        1,
        Request::Read(sel(8003)),
        "55 FF 05 10 00 00 06 E8 01 03 01 08 03 01 F0 0F",
        1,
        "55 FF 06 00 10 00 0A 76 02 03 01 08 03 01 0F 01 00 47 C5 6B",
        Typed::enumeration(71),
    );
    exchange(
        1,
        Request::Read(sel(1001)),
        "55 FF 05 10 00 00 06 E8 01 03 01 01 01 01 5E A0",
        1,
        "55 FF 06 00 10 00 0B 88 02 03 01 01 01 01 06 00 00 00 1C 56 66",
        Typed::S32(28),
    );
    assert_eq!(
        Frame::request(0x10, Request::Read(sel(4002)).encode()).encode(),
        hex("55 FF 05 10 00 00 06 E8 01 03 01 04 02 01 8B B3")
    );
    // PV at address 2: another MAC, the same data CRC rules.
    let reply = frame(&hex(
        "55 FF 06 00 11 00 0B 10 02 03 01 04 01 01 08 45 1E 40 B2 F3 77",
    ));
    let value = check_reply(&Request::Read(sel(4001)), 0x11, &reply).unwrap();
    assert_eq!(value, Typed::F32(f32::from_bits(0x451E_40B2)));
}

#[test]
fn setpoint_writes_are_echoed() {
    for (value, req, rsp_address, rsp) in [
        (
            392.0,
            "55 FF 05 10 00 00 0A EC 01 04 07 01 01 08 43 C4 00 00 EB 77",
            1,
            "55 FF 06 00 10 00 0A 76 02 04 07 01 01 08 43 C4 00 00 82 03",
        ),
        (
            81.0,
            "55 FF 05 10 00 00 0A EC 01 04 07 01 01 08 42 A2 00 00 C4 B8",
            16,
            "55 FF 06 00 1F 00 0A 77 02 04 07 01 01 08 42 A2 00 00 AD CC",
        ),
        (
            75.0,
            "55 FF 05 10 00 00 0A EC 01 04 07 01 01 08 42 96 00 00 0B 5D",
            1,
            "55 FF 06 00 10 00 0A 76 02 04 07 01 01 08 42 96 00 00 62 29",
        ),
    ] {
        exchange(
            1,
            Request::Write(sel(7001), Typed::F32(value)),
            req,
            rsp_address,
            rsp,
            Typed::F32(value),
        );
    }
}

#[test]
fn an_enum_write_from_host_mac_3() {
    let request = Request::Write(sel(8003), Typed::enumeration(71));
    let sent = Frame {
        frame_type: 0x05,
        dst: 0x10,
        src: 0x03,
        payload: request.encode(),
    };
    assert_eq!(
        sent.encode(),
        hex("55 FF 05 10 03 00 09 46 01 04 08 03 01 0F 01 00 47 8F ED")
    );
    let reply = frame(&hex(
        "55 FF 06 03 11 00 09 77 02 04 08 03 01 0F 01 00 47 88 3B",
    ));
    assert_eq!(
        Reply::decode(&reply.payload).unwrap(),
        Reply::Write(sel(8003), Typed::enumeration(71))
    );
    // Sent to host MAC 3, so not an answer to us (host MAC 0).
    assert_eq!(
        check_reply(&request, 0x11, &reply),
        Err(ReplyError::WrongDestination(0x03))
    );
}

#[test]
fn error_replies_are_typed() {
    let read = Request::Read(sel(4001));
    for (rsp, mac, error) in [
        (
            "55 FF 06 00 10 00 02 8F 02 83 64 8A",
            0x10,
            ReplyError::NoSuchAttribute,
        ),
        (
            "55 FF 06 00 11 00 02 17 02 80 FF B8",
            0x11,
            ReplyError::Refused,
        ),
        (
            "55 FF 06 00 10 00 02 8F 02 84 DB FE",
            0x10,
            ReplyError::NoSuchInstance,
        ),
    ] {
        let reply = frame(&hex(rsp));
        assert_eq!(check_reply(&read, mac, &reply), Err(error.clone()));
        assert_eq!(
            Frame {
                frame_type: 0x06,
                dst: 0x00,
                src: mac,
                payload: Reply::decode(&reply.payload).unwrap().encode(),
            }
            .encode(),
            hex(rsp)
        );
    }
    assert!(ReplyError::NoSuchObject.unsupported() && ReplyError::NoSuchAttribute.unsupported());
    assert!(!ReplyError::NoSuchInstance.unsupported());
}

#[test]
fn replies_from_another_device_or_for_another_parameter_are_refused() {
    let reply = frame(&hex(
        "55 FF 06 00 10 00 0B 88 02 03 01 07 01 01 08 43 C4 00 00 33 9A",
    ));
    assert!(matches!(
        check_reply(&Request::Read(sel(7001)), 0x11, &reply),
        Err(ReplyError::WrongSource {
            expected: 0x11,
            got: 0x10
        })
    ));
    assert!(matches!(
        check_reply(&Request::Read(sel(4001)), 0x10, &reply),
        Err(ReplyError::WrongSelector { .. })
    ));
    assert!(matches!(
        check_reply(&Request::Write(sel(7001), Typed::F32(1.0)), 0x10, &reply),
        Err(ReplyError::WrongService { .. })
    ));
}

/// Section 2.2's table: header CRCs of requests (length 6 and 10) and
/// replies (length 11 and 10) for every address.
#[test]
fn header_crcs_of_every_address() {
    let table = "
        1 E8 EC 88 76   2 61 65 10 EE   3 F9 FD BB 45   4 70 74 23 DD
        5 CA CE EE 10   6 43 47 76 88   7 DB DF DD 23   8 52 56 45 BB
        9 AC A8 44 BA  10 25 21 DC 22  11 BD B9 77 89  12 34 30 EF 11
       13 8E 8A 22 DC  14 07 03 BA 44  15 9F 9B 11 EF  16 16 12 89 77";
    let cells: Vec<&str> = table.split_whitespace().collect();
    for row in cells.chunks(5) {
        let address: u8 = row[0].parse().unwrap();
        let mac = device_mac(address).unwrap();
        let want: Vec<u8> = row[1..]
            .iter()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        let got = [
            header_crc(&[0x05, mac, 0x00, 0x00, 6]),
            header_crc(&[0x05, mac, 0x00, 0x00, 10]),
            header_crc(&[0x06, 0x00, mac, 0x00, 11]),
            header_crc(&[0x06, 0x00, mac, 0x00, 10]),
        ];
        assert_eq!(got.to_vec(), want, "address {address}");
    }
}
