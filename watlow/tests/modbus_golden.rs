//! The client's frames against the spec's Modbus examples (section 3.4,
//! checked there against pymodbus' RTU server), byte for byte, over a pipe
//! whose other end plays the controller; and the retry rules: a read that
//! gets no reply is asked once more, a write never.
#![allow(clippy::unwrap_used)]

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use watlow::modbus::{ModbusClient, ModbusError, WordOrder, WordOrderSetting};
use watlow::registry::{find, Family};
use watlow::Value;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// `body` with its CRC-16/MODBUS, low byte first.
fn with_crc(body: &str) -> Vec<u8> {
    let mut bytes = hex(body);
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS).checksum(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// The controller: for each (request, reply), reads exactly the request,
/// checks it, sends the reply (none: stays silent).
fn device(
    mut end: DuplexStream,
    script: Vec<(Vec<u8>, Option<Vec<u8>>)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for (request, reply) in script {
            let mut got = vec![0; request.len()];
            end.read_exact(&mut got).await.unwrap();
            assert_eq!(got, request, "request");
            if let Some(reply) = reply {
                end.write_all(&reply).await.unwrap();
            }
        }
        // Anything more sent is a test failure: nothing may follow.
        let mut extra = [0u8; 1];
        let more = tokio::time::timeout(Duration::from_secs(5), end.read(&mut extra)).await;
        assert!(!matches!(more, Ok(Ok(1))), "an unexpected frame");
    })
}

fn client(address: u8, family: Family) -> (ModbusClient, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(256);
    (
        ModbusClient::attach(ours, address, family, Duration::from_secs(1)),
        theirs,
    )
}

#[tokio::test(start_paused = true)]
async fn pm_reads_and_writes_are_the_documented_frames() {
    let (mut c, end) = client(1, Family::Pm);
    let peer = device(
        end,
        vec![
            (
                hex("01 03 09 B8 00 01 07 B3"),
                Some(hex("01 03 02 05 33 FB 01")),
            ),
            (
                hex("01 03 01 68 00 02 44 2B"),
                Some(hex("01 03 04 97 7D 42 9C 76 96")),
            ),
            (
                hex("01 03 08 70 00 02 C7 B0"),
                Some(hex("01 03 04 00 00 42 96 4A FD")),
            ),
            (
                hex("01 10 08 70 00 02 04 00 00 42 96 23 85"),
                Some(hex("01 10 08 70 00 02 42 73")),
            ),
            (
                hex("01 03 01 B8 00 02 45 D2"),
                Some(with_crc("01 03 04 00 00 42 96")),
            ),
            (hex("01 03 01 68 00 02 44 2B"), Some(hex("01 83 02 C0 F1"))),
        ],
    );
    assert_eq!(
        c.detect_word_order(WordOrderSetting::Auto).await,
        WordOrder::LowHigh
    );
    let pv = c.read(find("pv").unwrap(), 1).await.unwrap();
    assert!((pv.as_f64().unwrap() - 78.2959).abs() < 1e-4, "{pv:?}");
    assert_eq!(c.read(find("sp").unwrap(), 1).await, Ok(Value::F64(75.0)));
    c.write(find("sp").unwrap(), 1, 75.0).await.unwrap();
    assert_eq!(c.read(find("pv").unwrap(), 2).await, Ok(Value::F64(75.0)));
    let refused = c.read(find("pv").unwrap(), 1).await.unwrap_err();
    assert_eq!(refused, ModbusError::IllegalDataAddress);
    assert!(refused.unsupported());
    drop(c);
    peer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn high_word_first_when_register_2488_says_so() {
    let (mut c, end) = client(1, Family::Pm);
    let peer = device(
        end,
        vec![
            (
                hex("01 03 09 B8 00 01 07 B3"),
                Some(with_crc("01 03 02 05 32")),
            ),
            (
                hex("01 10 08 70 00 02 04 42 96 00 00 67 1F"),
                Some(hex("01 10 08 70 00 02 42 73")),
            ),
        ],
    );
    assert_eq!(
        c.detect_word_order(WordOrderSetting::Auto).await,
        WordOrder::HighLow
    );
    c.write(find("setpoint").unwrap(), 1, 75.0).await.unwrap();
    drop(c);
    peer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_f4_scales_by_a_tenth() {
    let (mut c, end) = client(1, Family::F4);
    let peer = device(
        end,
        vec![
            (
                hex("01 03 00 64 00 01 C5 D5"),
                Some(with_crc("01 03 02 00 FB")),
            ),
            (
                hex("01 06 01 2C 00 FA C9 BC"),
                Some(hex("01 06 01 2C 00 FA C9 BC")),
            ),
        ],
    );
    let pv = c
        .read(find("pv").unwrap(), 1)
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((pv - 25.1).abs() < 1e-9, "{pv}");
    c.write(find("sp").unwrap(), 1, 25.0).await.unwrap();
    drop(c);
    peer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_read_without_reply_is_asked_once_more_a_write_never() {
    let (mut c, end) = client(1, Family::Pm);
    let read = hex("01 03 08 70 00 02 C7 B0");
    let peer = device(
        end,
        vec![
            (read.clone(), None),
            (read.clone(), Some(hex("01 03 04 00 00 42 96 4A FD"))),
            (hex("01 10 08 70 00 02 04 00 00 42 96 23 85"), None),
        ],
    );
    assert_eq!(c.read(find("sp").unwrap(), 1).await, Ok(Value::F64(75.0)));
    let write = c.write(find("sp").unwrap(), 1, 75.0).await;
    assert_eq!(write, Err(ModbusError::Timeout(Duration::from_secs(1))));
    drop(c);
    peer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn refused_writes_send_nothing() {
    let (mut c, end) = client(1, Family::F4p);
    let peer = device(end, vec![]);
    for (name, value) in [("pv", 20.0), ("sp", 20.0)] {
        let e = c.write(find(name).unwrap(), 1, value).await.unwrap_err();
        assert!(matches!(e, ModbusError::Refused(_)), "{name}: {e}");
    }
    let (mut pm, end) = client(1, Family::Pm);
    let peer2 = device(end, vec![]);
    let e = pm
        .write(find("sp").unwrap(), 1, 12_000.0)
        .await
        .unwrap_err();
    assert!(matches!(e, ModbusError::Refused(_)), "{e}");
    let e = pm.read(find("part_number").unwrap(), 1).await.unwrap_err();
    assert!(matches!(e, ModbusError::Refused(_)), "{e}");
    drop((c, pm));
    peer.await.unwrap();
    peer2.await.unwrap();
}
