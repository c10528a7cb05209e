//! Serves a few typed PVs (`<prefix>D`, `L`, `E`, `S`, `W`, `RO`) until
//! killed, printing accepted writes: for trying clients by hand.
//!
//! `cargo run -p ca --example serve_demo -- Test:CA: 5064`

use ca::{PvServer, PvSpec, PvType, Value};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let prefix = args.next().unwrap_or_else(|| "Test:CA:".into());
    let port = match args.next().map(|p| p.parse::<u16>()) {
        None => 5064,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("bad port: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pv = |name: &str, kind, initial, writable| PvSpec {
        name: format!("{prefix}{name}"),
        kind,
        initial,
        writable,
        units: Some("mm".into()),
        precision: 3,
    };
    let specs = vec![
        pv(
            "D",
            PvType::Double {
                min: -100.0,
                max: 100.0,
            },
            Value::Double(1.5),
            true,
        ),
        pv("L", PvType::Long { min: 0, max: 99 }, Value::Long(4), true),
        pv(
            "E",
            PvType::Enum {
                labels: vec!["Success".into(), "Task Fail".into(), "IO Fail".into()],
            },
            Value::Long(0),
            true,
        ),
        pv(
            "S",
            PvType::Text { max_len: 39 },
            Value::Text("hello".into()),
            true,
        ),
        pv(
            "W",
            PvType::Doubles { max_len: 100_000 },
            Value::Doubles((0..100_000).map(f64::from).collect()),
            false,
        ),
        pv(
            "RO",
            PvType::Double {
                min: 0.0,
                max: 10.0,
            },
            Value::Double(2.0),
            false,
        ),
    ];
    let (server, mut writes) = match PvServer::start(specs, port, 64) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving on port {}", server.port());
    while let Some(w) = writes.blocking_recv() {
        println!("write {} = {:?} from {}", w.name, w.value, w.client);
    }
    ExitCode::SUCCESS
}
