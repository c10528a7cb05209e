//! The EPICS back end (runner) against the simulated IOC over real Channel
//! Access on loopback: moves, sweeps, the collector's groups and units,
//! injected faults, and the step loop's retries on top of them.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;

use ca::{PvClient, PvServer, Value};
use epics::{EpicsHardScan, EpicsRig, HardScanPvs, PvCollector};
use planner::{Plan, ScannerIndex};
use runner::{
    run_sequence, Detector, Limit, Positioner, RetryPolicy, Rig, SequenceOutcome, SweepOutcome,
    Trigger,
};
use sim::{SimConfig, SimIoc};
use station::{Naming, Prefixes, PvGroups};
use std::sync::{Arc, Once};
use std::time::Duration;

static ENV: Once = Once::new();

impl Drop for Bench {
    /// The driver holds the server: stopping it frees the port and names.
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The server side of epics-ca-rs reads the environment once per process;
/// each scenario's client searches only its own server's port. Scenarios
/// run one after another (they serve the same PV names).
fn loopback(port: u16) {
    ENV.call_once(|| {
        for (k, v) in loopback::loopback_env(0) {
            if k != "EPICS_CA_SERVER_PORT" {
                std::env::set_var(k, v);
            }
        }
    });
    std::env::set_var("EPICS_CA_ADDR_LIST", format!("127.0.0.1:{port}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_scan_against_the_simulated_ioc() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("info")
        .try_init();
    a_sweep_records_the_beam_at_the_interaction_position().await;
    failing_and_hanging_sweeps_are_retried_then_end_the_sequence().await;
    instant_sweeps_never_lose_their_end().await;
}

struct Bench {
    driver: tokio::task::JoinHandle<()>,
    ioc: Arc<SimIoc>,
    client: Arc<PvClient>,
    prefixes: Prefixes,
    data: PvGroups,
    metadata: PvGroups,
}

async fn start(config: SimConfig) -> Bench {
    let prefixes = Prefixes::new(ScannerIndex::try_from(1).unwrap(), Naming::Test).unwrap();
    let data = PvGroups::reference_data()
        .unwrap()
        .with_prefixes(&prefixes)
        .unwrap();
    let metadata = PvGroups::reference_metadata()
        .unwrap()
        .with_prefixes(&prefixes)
        .unwrap();
    let ioc = Arc::new(SimIoc::new(&prefixes, &data, &metadata, config));
    let port = loopback::free_port();
    loopback(port);
    let (server, writes) = PvServer::start(ioc.pv_specs(), port, 256).unwrap();
    let server = Arc::new(server);
    let driver = tokio::spawn(sim::drive(ioc.clone(), server, writes));
    let client = Arc::new(PvClient::new(Duration::from_secs(5)).await.unwrap());
    Bench {
        driver,
        ioc,
        client,
        prefixes,
        data,
        metadata,
    }
}

fn hard_scan(b: &Bench) -> EpicsHardScan {
    EpicsHardScan::new(
        b.client.clone(),
        HardScanPvs::new(&b.prefixes),
        Duration::from_secs(5),
        Duration::from_secs(2),
    )
}

async fn a_sweep_records_the_beam_at_the_interaction_position() {
    let mut config = SimConfig::default();
    config.beam.noise = 0.0;
    config.beam.mean = 0.5;
    let b = start(config.clone()).await;
    let mut scan = hard_scan(&b);
    scan.move_to(&[1.5]).await.unwrap();
    assert_eq!(scan.current().await.unwrap(), vec![1.5]);
    assert_eq!(scan.fire().await.unwrap(), SweepOutcome::Ok);
    assert_eq!(b.ioc.sweeps(), 1);
    let mut collector = PvCollector::new(
        b.client.clone(),
        b.data.clone(),
        b.metadata.clone(),
        Duration::from_secs(2),
    );
    let step = collector.read().await.unwrap();
    assert!(step.missing.is_empty(), "{:?}", step.missing);
    assert_eq!(
        step.groups.values().map(Vec::len).sum::<usize>(),
        b.data.len()
    );
    let x = step.find("scan", "Test:SCAN:InterpolatedPosCh1").unwrap();
    assert_eq!(x.egu.as_deref(), Some("mm"));
    let y = step
        .find("struck", "Test:STRUCK:H-PDB-TRC2-ArrayData")
        .unwrap();
    assert_eq!(y.egu.as_deref(), Some("V"));
    let (runner::Value::Doubles(x), runner::Value::Doubles(y)) = (&x.value, &y.value) else {
        panic!("waveforms expected");
    };
    assert_eq!(x.len(), config.trace_samples);
    let peak = y.iter().cloned().fold(f64::MIN, f64::max);
    let expected = sim::profile(&config, 1.5) * (1.0 - 0.04 * 3.0);
    assert!(
        (peak - expected).abs() < 1e-3 * expected,
        "{peak} vs {expected}"
    );
    assert_eq!(
        step.metadata.get("Test:SCAN:ScanStatus"),
        Some(&runner::Value::Long(0))
    );
    assert_eq!(step.metadata.len(), b.metadata.len());
}

async fn failing_and_hanging_sweeps_are_retried_then_end_the_sequence() {
    let mut config = SimConfig::default();
    config.sweep_seconds = 0.0;
    // Step 1 succeeds at the second try; step 2 hangs, then fails twice.
    config.faults.failing_sweeps = vec![1, 4, 5];
    config.faults.hanging_sweeps = vec![3];
    config.faults.unreachable_pvs = vec!["HEBT-160LWU:Vac-VGC-10000:PrsR".into()];
    let b = start(config).await;
    let collector = PvCollector::new(
        b.client.clone(),
        b.data.clone(),
        b.metadata.clone(),
        Duration::from_millis(300),
    );
    let plan = Plan::linspace(-1.0, 1.0, 3, 100).unwrap();
    let policy = RetryPolicy {
        acquiring: Limit {
            first: Duration::from_secs(5),
            later: Duration::from_millis(500),
        },
        ..RetryPolicy::default()
    };
    // One object moves, sweeps and reads: the IOC's handshake built once.
    let mut rig = EpicsRig::new(hard_scan(&b), collector);
    let report = run_sequence(
        &plan,
        false,
        &mut rig,
        &mut [],
        &policy,
        runner::Control::none(),
    )
    .await;
    assert_eq!(report.completed_steps, 1);
    assert_eq!(report.sweep_retries, 3);
    match &report.outcome {
        SequenceOutcome::IoFail(reason) => {
            assert!(reason.contains("step 2"), "{reason}");
            assert!(reason.contains("IOPS Failure Detected"), "{reason}");
        }
        other => panic!("expected an I/O failure, got {other:?}"),
    }
    assert_eq!(b.ioc.sweeps(), 5);
    let step = rig.read().await.unwrap();
    assert_eq!(
        step.missing,
        vec!["HEBT-160LWU:Vac-VGC-10000:PrsR".to_string()]
    );
}

/// Zero-length sweeps: the simulator resets RunHardScan as soon as it sees
/// the write. The server once stored the written 1 after queueing the write,
/// so the reset could land first and the 1 stay: about one sweep in fifty
/// then hung until its timeout.
async fn instant_sweeps_never_lose_their_end() {
    const SWEEPS: usize = 300;
    let mut config = SimConfig::default();
    config.sweep_seconds = 0.0;
    config.trace_samples = 2;
    let b = start(config).await;
    let mut trigger = hard_scan(&b);
    let pvs = HardScanPvs::new(&b.prefixes);
    let mut hung = Vec::new();
    for sweep in 1..=SWEEPS {
        match tokio::time::timeout(Duration::from_secs(2), trigger.fire()).await {
            Ok(outcome) => assert_eq!(outcome.unwrap(), SweepOutcome::Ok),
            Err(_) => hung.push(sweep),
        }
        // Ended means reset: the written 1 must not outlive the reset.
        let after = b.client.get(&pvs.run_hard_scan, Duration::from_secs(2));
        if after.await.unwrap().value != Value::Long(0) {
            hung.push(sweep);
        }
    }
    assert!(hung.is_empty(), "sweeps that never ended: {hung:?}");
    assert_eq!(b.ioc.sweeps(), SWEEPS as u64);
}
