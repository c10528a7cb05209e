//! Serves a few typed PVs (`<prefix>D`, `L`, `E`, `S`, `W`, `RO`) until
//! killed, printing accepted writes: for trying clients by hand.
//!
//! `cargo run -p ca --example serve_demo -- Test:CA: 5064`

#[path = "support/demo_pvs.rs"]
mod demo_pvs;

use ca::{PvServer, WriteEvent};
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
    let specs = demo_pvs::demo_pvs(&prefix);
    let (server, mut writes) = match PvServer::start(specs, port, 64) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving on port {}", server.port());
    while let Some(event) = writes.blocking_recv() {
        match event {
            WriteEvent::Accepted(w) => {
                println!("write {} = {:?} from {}", w.name, w.value, w.client)
            }
            WriteEvent::Refused {
                name, sent, reason, ..
            } => println!("refused {name} = {sent}: {reason}"),
        }
    }
    ExitCode::SUCCESS
}
