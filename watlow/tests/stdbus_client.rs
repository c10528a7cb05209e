//! The Standard Bus client over a pipe whose far end plays controllers
//! with the spec's captured replies: reads and echoed writes, a reply in
//! fragments after garbage, a late reply of an earlier exchange dropped, an
//! absent address asked twice then "no response", and refusals that send
//! nothing.
#![allow(clippy::unwrap_used)]

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use watlow::registry::find;
use watlow::stdbus::{ReplyError, StdBusClient, StdBusError};
use watlow::Value;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

const READ_PV: &str = "55 FF 05 10 00 00 06 E8 01 03 01 04 01 01 E3 99";
const PV_REPLY: &str = "55 FF 06 00 10 00 0B 88 02 03 01 04 01 01 08 45 1E 3C D4 A7 28";
const READ_SP: &str = "55 FF 05 10 00 00 06 E8 01 03 01 07 01 01 87 76";
const SP_REPLY: &str = "55 FF 06 00 10 00 0B 88 02 03 01 07 01 01 08 43 C4 00 00 33 9A";

enum Answer {
    Bytes(Vec<Vec<u8>>),
    Silence,
}

fn device(mut end: DuplexStream, script: Vec<(Vec<u8>, Answer)>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for (request, answer) in script {
            let mut got = vec![0; request.len()];
            end.read_exact(&mut got).await.unwrap();
            assert_eq!(got, request);
            if let Answer::Bytes(chunks) = answer {
                for chunk in chunks {
                    end.write_all(&chunk).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        let mut extra = [0u8; 1];
        let more = tokio::time::timeout(Duration::from_secs(5), end.read(&mut extra)).await;
        assert!(!matches!(more, Ok(Ok(1))), "an unexpected frame");
    })
}

fn client() -> (StdBusClient<DuplexStream>, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(512);
    (StdBusClient::new(ours, Duration::from_secs(1)), theirs)
}

#[tokio::test(start_paused = true)]
async fn reads_and_an_echoed_write() {
    let (mut c, end) = client();
    let mut fragmented = vec![0x00, 0x55, 0x13];
    fragmented.extend(hex(SP_REPLY));
    let chunks: Vec<Vec<u8>> = fragmented.chunks(4).map(<[u8]>::to_vec).collect();
    let peer = device(
        end,
        vec![
            (hex(READ_PV), Answer::Bytes(vec![hex(PV_REPLY)])),
            (hex(READ_SP), Answer::Bytes(chunks)),
            (
                hex("55 FF 05 10 00 00 0A EC 01 04 07 01 01 08 43 C4 00 00 EB 77"),
                Answer::Bytes(vec![hex(
                    "55 FF 06 00 10 00 0A 76 02 04 07 01 01 08 43 C4 00 00 82 03",
                )]),
            ),
        ],
    );
    let pv = c.read(1, find("pv").unwrap(), 1).await.unwrap();
    assert_eq!(pv, Value::F64(f64::from(f32::from_bits(0x451E_3CD4))));
    assert_eq!(
        c.read(1, find("sp").unwrap(), 1).await,
        Ok(Value::F64(392.0))
    );
    let echo = c.write(1, find("sp").unwrap(), 1, 392.0).await.unwrap();
    assert_eq!(echo, Value::F64(392.0));
    drop(c);
    peer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_absent_address_is_asked_twice_then_no_response() {
    let (mut c, end) = client();
    let read_addr2 = hex("55 FF 05 11 00 00 06 61 01 03 01 04 01 01 E3 99");
    let peer = device(
        end,
        vec![
            (read_addr2.clone(), Answer::Silence),
            (read_addr2, Answer::Silence),
        ],
    );
    let e = c.read(2, find("pv").unwrap(), 1).await.unwrap_err();
    assert_eq!(e, StdBusError::NoResponse(Duration::from_secs(1)));
    drop(c);
    peer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_late_reply_is_not_taken_for_the_next() {
    let (mut c, end) = client();
    // The PV reply arrives after the client gave up on it (and on its
    // retry); the SP read that follows must not take it.
    let peer = tokio::spawn(async move {
        let mut end = end;
        let mut got = vec![0; 16];
        end.read_exact(&mut got).await.unwrap();
        end.read_exact(&mut got).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        end.write_all(&hex(PV_REPLY)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        end.read_exact(&mut got).await.unwrap();
        assert_eq!(got, hex(READ_SP));
        end.write_all(&hex(SP_REPLY)).await.unwrap();
        end
    });
    let e = c.read(1, find("pv").unwrap(), 1).await.unwrap_err();
    assert!(matches!(e, StdBusError::NoResponse(_)), "{e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        c.read(1, find("sp").unwrap(), 1).await,
        Ok(Value::F64(392.0))
    );
    drop(peer.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn device_errors_are_typed_and_refusals_send_nothing() {
    let (mut c, end) = client();
    let peer = device(
        end,
        vec![(
            hex(READ_PV),
            Answer::Bytes(vec![hex("55 FF 06 00 10 00 02 8F 02 84 DB FE")]),
        )],
    );
    assert_eq!(
        c.read(1, find("pv").unwrap(), 1).await,
        Err(StdBusError::Reply(ReplyError::NoSuchInstance))
    );
    for e in [
        c.write(1, find("pv").unwrap(), 1, 1.0).await.unwrap_err(),
        c.write(1, find("sp").unwrap(), 1, 1e6).await.unwrap_err(),
        c.read(17, find("pv").unwrap(), 1).await.unwrap_err(),
        c.read(1, find("pv").unwrap(), 3).await.unwrap_err(),
    ] {
        assert!(matches!(e, StdBusError::Refused(_)), "{e}");
    }
    drop(c);
    peer.await.unwrap();
}
