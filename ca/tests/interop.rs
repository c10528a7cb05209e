//! Our server against clients we did not write: pyepics (the reference C
//! libca) and caproto, run by `ca_peer.py` in the project's Python venv, on
//! loopback with ports of this test's own.

#[path = "../examples/support/demo_pvs.rs"]
mod demo_pvs;
#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{PvServer, Value, WriteEvent};
use loopback::{free_port, loopback_env, python};
use serde_json::Value as Json;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` to completion, killing it (and failing) after `deadline`.
fn run_with_deadline(command: &mut Command, deadline: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let started = Instant::now();
    while child.try_wait().expect("poll the client").is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect the killed client");
            panic!(
                "the client did not finish within {deadline:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
        .wait_with_output()
        .expect("collect the client's output")
}

#[test]
fn c_libca_and_caproto_clients_see_native_types_and_refused_writes() {
    let port = free_port();
    let env = loopback_env(port);
    for (k, v) in &env {
        // Read once by epics-ca-rs when the first server starts; no other
        // thread of this test binary touches the environment.
        std::env::set_var(k, v);
    }
    let specs = demo_pvs::demo_pvs("Test:CA:");
    let wave = match specs
        .iter()
        .find(|s| s.name == "Test:CA:W")
        .map(|s| &s.initial)
    {
        Some(Value::Doubles(w)) => w.clone(),
        other => panic!("the demo set has no waveform W: {other:?}"),
    };
    let (server, mut writes) = PvServer::start(specs, port, 64).expect("server starts");
    assert_eq!(server.port(), port);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ca_peer.py");
    let output = run_with_deadline(
        Command::new(python())
            .arg(&script)
            .arg("Test:CA:")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Json =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("JSON from the client");

    assert_eq!(seen["double"], 1.5);
    assert_eq!(seen["units"], "mm");
    assert_eq!(
        seen["enum_labels"],
        serde_json::json!(["Success", "Task Fail", "IO Fail"])
    );
    assert_eq!(seen["enum_as_string"], "Success");
    assert_eq!(seen["wave_len"], 100_000);
    assert_eq!(seen["wave_sum"].as_f64(), Some(wave.iter().sum::<f64>()));
    // Native writes, and the refusal of an out-of-range one.
    assert_eq!(seen["after_put_native"], 7.25);
    assert_eq!(seen["after_put_out_of_range"], 7.25);
    // String writes, as C caput sends them.
    assert_eq!(seen["string_double"], "ok");
    assert_eq!(seen["after_string_double"], 3.5);
    assert_eq!(seen["string_garbage"], "ECA_PUTFAIL");
    assert_eq!(seen["after_string_garbage"], 3.5);
    assert_eq!(seen["string_enum_label"], "ok");
    assert_eq!(seen["after_enum_label"], "Task Fail");
    assert_eq!(seen["string_enum_unknown"], "ECA_PUTFAIL");
    assert_eq!(seen["string_long_fraction"], "ECA_PUTFAIL");
    assert_eq!(seen["after_long_fraction"], 4);
    assert_eq!(seen["string_read_only"], "ECA_NOWTACCESS");
    // Long strings: longer than a CA string, written as text or bytes.
    let long_path = format!("/data/{}", vec!["folder"; 20].join("/"));
    assert_eq!(
        seen["long_text"],
        "/data/a/folder/name/longer/than/a/ca/string"
    );
    assert_eq!(seen["after_long_put"], long_path.as_str());
    assert_eq!(seen["after_caproto_bytes"], "/short");
    assert_eq!(seen["long_dbr_string"], "ok");
    assert_eq!(seen["after_dbr_string"], "x".repeat(39).as_str());
    // No write changed a PV's type.
    assert_eq!(
        seen["native_types"],
        serde_json::json!({"D": "double", "L": "long", "E": "enum", "S": "string", "P": "char", "W": "double", "RO": "double"})
    );

    // Issue 11, A11: read-only at the access-rights level.
    assert_eq!(
        seen["write_access"],
        serde_json::json!({"D": true, "P": true, "RO": false})
    );
    assert_eq!(seen["read_access"], true);
    assert_eq!(seen["too_long"], "ECA_PUTFAIL");

    // The daemon sees exactly the accepted writes, converted, in order.
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    while let Ok(event) = writes.try_recv() {
        match event {
            WriteEvent::Accepted(w) => accepted.push((w.name, w.value)),
            WriteEvent::Refused {
                name, sent, reason, ..
            } => refused.push((name, sent, reason)),
        }
    }
    assert_eq!(
        accepted,
        vec![
            ("Test:CA:D".to_string(), Value::Double(7.25)),
            ("Test:CA:D".to_string(), Value::Double(3.5)),
            ("Test:CA:E".to_string(), Value::Long(1)),
            ("Test:CA:P".to_string(), Value::Text(long_path.clone())),
            ("Test:CA:P".to_string(), Value::Text("/short".into())),
            ("Test:CA:P".to_string(), Value::Text("x".repeat(39))),
        ]
    );
    // Refusals of unconvertible values are reported too (read-only is not
    // an input problem and is only logged).
    let refused_names: Vec<&str> = refused.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        refused_names,
        vec![
            "Test:CA:D",
            "Test:CA:D",
            "Test:CA:E",
            "Test:CA:L",
            "Test:CA:P"
        ],
        "{refused:?}"
    );
    assert!(refused[1].1.contains("abc"), "{refused:?}");
    // A10: what was sent is quoted text, cut, never a list of bytes.
    assert_eq!(
        refused[4].1,
        format!("\"{}…\"", "A".repeat(60)),
        "{refused:?}"
    );
    assert_eq!(refused[4].2, "300 bytes, longer than the 255 this PV holds");
    assert_eq!(server.get("Test:CA:D"), Some(Value::Double(3.5)));
    server
        .set("Test:CA:RO", Value::Double(9.0))
        .expect("the daemon may set read-only PVs");
    assert!(server.set("Test:CA:RO", Value::Double(11.0)).is_err());
    assert_eq!(server.get("Test:CA:RO"), Some(Value::Double(9.0)));
    drop(server);
    // After the drop the port is free again.
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
}
