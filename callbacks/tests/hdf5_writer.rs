//! The writer through the step loop's callback interface: layout, flush per
//! step (a reader sees every completed step while the file is still open),
//! exit status, and FileName published once.
#![allow(clippy::unwrap_used)]
// The tests hold one lock for their whole run (see ONE_TEST_AT_A_TIME), on
// runtimes of their own: no other task waits on it.
#![allow(clippy::await_holding_lock)]

use callbacks::{Durability, Hdf5Writer, Publish, RootAttributes};
use hdf5::types::VarLenUnicode;
use runner::Value;
use runner::{
    Analysis, PvRecord, Quantity, SequenceOutcome, SequenceReport, StepCallback, StepContext,
    StepData,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tests of this binary one at a time: one spawns a child the old way
/// on purpose, which would inherit another test's file in the instant
/// before that test marks it close-on-exec.
static ONE_TEST_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_TEST_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Published(Mutex<Vec<(String, Value)>>);

impl Publish for Published {
    fn publish(&self, name: &str, value: Value) {
        self.0.lock().unwrap().push((name.to_string(), value));
    }
}

fn step(i: usize) -> StepData {
    let mut data = StepData::default();
    data.push(
        "scan",
        PvRecord {
            name: "Test:SCAN:PosToDelay".into(),
            value: Value::Double(i as f64),
            egu: Some("mm".into()),
        },
    );
    data.push(
        "struck",
        PvRecord {
            name: "Test:STRUCK:H-PDB-TRC2-ArrayData".into(),
            value: Value::Doubles(vec![0.5; 10]),
            egu: None,
        },
    );
    data.metadata
        .insert("Test:SCAN:ScanStatus".into(), Value::Long(0));
    data
}

/// A writer for `path` (its folder opened as a data root).
async fn open_writer(
    path: &std::path::Path,
    published: Arc<Published>,
) -> Result<Hdf5Writer, runner::CallbackError> {
    let folder = dataroot::DataRoot::open(path.parent().unwrap())
        .unwrap()
        .folder(std::path::Path::new(""), false)
        .unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    Hdf5Writer::open(Arc::new(folder), name, root(), published).await
}

fn root() -> RootAttributes {
    RootAttributes {
        num_scans: 3,
        position_scan: Some((-1.0, 1.0)),
        relative_scan: false,
        start_time: "2026-11-22T10:00:00+00:00".into(),
        username: "op".into(),
        daemon_version: "fws-daemon test".into(),
        plan: vec![-1.0, 0.0, 1.0],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_are_readable_as_they_complete_and_the_exit_is_recorded() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FWS01_-1_1_n3_20261122-1000.h5");
    let published = Arc::new(Published::default());
    let mut writer = open_writer(&path, published.clone())
        .await
        .unwrap()
        .with_durability(Durability::Step);
    assert_eq!(writer.path(), path);
    assert!(writer.required());
    for i in 0..2 {
        let ctx = StepContext {
            index: i,
            total: 3,
            positions: vec![i as f64],
            elapsed: Duration::ZERO,
        };
        writer.record(&ctx, Arc::new(step(i))).await.unwrap();
        // Flushed: another handle sees the step now.
        let file = cloexec::h5::open_read(&path).unwrap();
        assert_eq!(file.member_names().unwrap().len(), i + 1);
    }
    let report = SequenceReport {
        outcome: SequenceOutcome::IoFail("step 3: the sweep failed".into()),
        completed_steps: 2,
        sweep_retries: 2,
        timed_out: vec![],
        callback_failures: vec![],
        phases: Default::default(),
    };
    writer.sequence_end(&report).await.unwrap();
    drop(writer);

    let file = cloexec::h5::open_read(&path).unwrap();
    assert_eq!(file.member_names().unwrap(), vec!["scan_001", "scan_002"]);
    let pos = file.dataset("scan_002/scan/Test:SCAN:PosToDelay").unwrap();
    assert_eq!(pos.read_scalar::<f64>().unwrap(), 1.0);
    let egu: VarLenUnicode = pos.attr("egu").unwrap().read_scalar().unwrap();
    assert_eq!(egu.as_str(), "mm");
    let trace = file
        .dataset("scan_001/struck/Test:STRUCK:H-PDB-TRC2-ArrayData")
        .unwrap();
    assert_eq!(trace.read_raw::<f64>().unwrap(), vec![0.5; 10]);
    assert!(trace.attr("egu").is_err());
    let status: i64 = file
        .group("scan_001")
        .unwrap()
        .attr("Test:SCAN:ScanStatus")
        .unwrap()
        .read_scalar()
        .unwrap();
    assert_eq!(status, 0);
    let exit: VarLenUnicode = file.attr("exit_status").unwrap().read_scalar().unwrap();
    assert_eq!(exit.as_str(), "Failed");
    let range = file
        .attr("position_scan")
        .unwrap()
        .read_raw::<f64>()
        .unwrap();
    assert_eq!(range, vec![-1.0, 1.0]);
    assert!(file
        .attr("relative_scan")
        .unwrap()
        .read_scalar::<bool>()
        .is_ok());
    let names: Vec<String> = published
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(names, vec!["FileName"]);
}

/// Pipelined: `record` returns while the step is written, but the step
/// before is on disk by then (at most one in flight), and `drain` puts the
/// last one there. Until its first step is whole the file is its hidden
/// part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_steps_are_on_disk_one_step_behind_and_drained_at_the_end() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FWS01_-1_1_n3_20261122-1001.h5");
    let mut writer = open_writer(&path, Arc::new(Published::default()))
        .await
        .unwrap();
    for i in 0..3 {
        writer.record(&at(i), Arc::new(step(i))).await.unwrap();
        let on_disk = if path.exists() {
            let file = cloexec::h5::open_read(&path).unwrap();
            file.member_names().unwrap().len()
        } else {
            let part = dir.path().join(callbacks::part_name(
                &path.file_name().unwrap().to_string_lossy(),
            ));
            assert!(part.exists(), "after step {}: no file, no part", i + 1);
            0
        };
        assert!(
            on_disk == i || on_disk == i + 1,
            "after step {}: {on_disk} groups",
            i + 1
        );
    }
    writer.drain().await.unwrap();
    let file = cloexec::h5::open_read(&path).unwrap();
    assert_eq!(
        file.member_names().unwrap(),
        vec!["scan_001", "scan_002", "scan_003"]
    );
    let done: u64 = file.attr("completed_steps").unwrap().read_scalar().unwrap();
    assert_eq!(done, 3);
}

/// Issue 11, A8: a folder that cannot take the file says why, as the
/// operating system said it (not "it and 999 variants exist"), and leaves
/// nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_that_cannot_take_the_file_says_why_and_leaves_nothing() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("gone")).unwrap();
    let folder = dataroot::DataRoot::open(&dir.path().join("gone"))
        .unwrap()
        .folder(std::path::Path::new(""), false)
        .unwrap();
    std::fs::remove_dir(dir.path().join("gone")).unwrap();
    let published = Arc::new(Published::default());
    let err = Hdf5Writer::open(Arc::new(folder), "x.h5".into(), root(), published.clone())
        .await
        .err()
        .unwrap();
    assert!(
        err.0.contains("x.h5") && err.0.contains("creating the file"),
        "{err}"
    );
    assert!(err.0.contains("(os error 2)"), "the OS error: {err}");
    assert!(!err.0.contains("variants"), "{err}");
    assert!(published.0.lock().unwrap().is_empty(), "no FileName");
}

fn at(index: usize) -> StepContext {
    StepContext {
        index,
        total: 3,
        positions: vec![index as f64],
        elapsed: Duration::ZERO,
    }
}

fn text_attr(file: &hdf5::File, name: &str) -> String {
    let value: VarLenUnicode = file.attr(name).unwrap().read_scalar().unwrap();
    value.as_str().to_string()
}

/// The reference's names have minutes: a second scan of the same range in
/// the same minute must not overwrite the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_the_same_name_is_never_overwritten() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FWS01_-1_1_n3_20261122-1000.h5");
    let expected = [
        "FWS01_-1_1_n3_20261122-1000.h5",
        "FWS01_-1_1_n3_20261122-1000_2.h5",
        "FWS01_-1_1_n3_20261122-1000_3.h5",
    ];
    let mut names = Vec::new();
    for (run, wanted) in expected.iter().enumerate() {
        let published = Arc::new(Published::default());
        let mut writer = open_writer(&path, published.clone()).await.unwrap();
        assert_eq!(writer.path(), dir.path().join(wanted));
        for i in 0..=run {
            writer.record(&at(i), Arc::new(step(i))).await.unwrap();
        }
        writer.drain().await.unwrap();
        drop(writer);
        let name = match &published.0.lock().unwrap()[0] {
            (pv, Value::Text(name)) if pv == "FileName" => name.clone(),
            other => panic!("{other:?}"),
        };
        names.push(name);
    }
    assert_eq!(names, expected);
    for (run, name) in names.iter().enumerate() {
        let real = dir.path().join(name);
        let file = cloexec::h5::open_read(&real).unwrap();
        assert_eq!(file.member_names().unwrap().len(), run + 1, "{name} intact");
        assert_eq!(text_attr(&file, "file_path"), real.to_string_lossy());
    }
}

/// Issue 11, A0: a child started while the file is open (here by a plain
/// `std::process::Command`, as any library or test would) must not inherit
/// its descriptor: it would keep HDF5's exclusive lock after the writer
/// closed the file, and nobody could open it again while the child lives.
#[test]
fn a_child_started_while_the_file_is_open_does_not_keep_it_locked() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FWS01_-1_1_n3_20261122-1000.h5");
    let file = callbacks::ScanFile::create(&path, &root()).unwrap();
    file.write_step(0, &step(0)).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let held: Vec<_> = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .collect();
    drop(file);
    // HDF5's own file locking is on here: an inherited descriptor makes
    // this fail with "unable to lock file".
    let reopened = cloexec::h5::open_read(&path);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !held.iter().any(|p| p.ends_with(path.file_name().unwrap())),
        "the child inherited the file: {held:?}"
    );
    assert!(reopened.is_ok(), "{:?}", reopened.err());
}

/// A step of `step(i)` with two fit-like results (one filed in the scan
/// group, one in a group of its own).
fn step_with_results(i: usize) -> StepData {
    let mut data = step(i);
    let quantity = |name: &str, record: &str, value: Value, egu: Option<&str>| Quantity {
        name: name.into(),
        record: record.into(),
        value,
        egu: egu.map(str::to_string),
    };
    data.add_analysis(Analysis {
        source: "gauss-fit".into(),
        subject: "H-PDB".into(),
        group: "scan".into(),
        quantities: vec![
            quantity(
                "IntPos",
                "Test:SCAN:DMN-H-PDB-IntPos",
                Value::Doubles(vec![-0.5, 0.5]),
                Some("mm"),
            ),
            quantity(
                "Sigma",
                "Test:SCAN:DMN-H-PDB-Sigma",
                Value::Double(1.7),
                Some("mm"),
            ),
            quantity("FitOk", "Test:SCAN:DMN-H-PDB-FitOk", Value::Long(1), None),
        ],
    });
    data.add_analysis(Analysis {
        source: "other".into(),
        subject: "beam".into(),
        group: "derived".into(),
        quantities: vec![quantity(
            "Label",
            "beam-label",
            Value::Text("ok".into()),
            None,
        )],
    });
    data
}

/// The same step with the results as plain records, as the fit stored them
/// before it had typed results.
fn step_with_results_as_records(i: usize) -> StepData {
    let mut data = step(i);
    for analysis in step_with_results(i).analysis {
        for q in analysis.quantities {
            data.push(
                &analysis.group,
                PvRecord {
                    name: q.record,
                    value: q.value,
                    egu: q.egu,
                },
            );
        }
    }
    data
}

/// Every group, dataset and attribute below `group`, with types, shapes and
/// values, one line each, in the order HDF5 lists them.
fn describe(group: &hdf5::Group, at: &str, out: &mut Vec<String>) {
    use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
    fn attrs(loc: &hdf5::Location, at: &str, out: &mut Vec<String>) {
        for name in loc.attr_names().unwrap() {
            let a = loc.attr(&name).unwrap();
            let v = match a.dtype().unwrap().to_descriptor().unwrap() {
                TypeDescriptor::VarLenUnicode => {
                    a.read_scalar::<VarLenUnicode>().unwrap().to_string()
                }
                TypeDescriptor::Integer(IntSize::U8) => format!("{:?}", a.read_raw::<i64>()),
                TypeDescriptor::Float(FloatSize::U8) => format!("{:?}", a.read_raw::<f64>()),
                other => format!("{other:?}"),
            };
            out.push(format!("{at}@{name} = {v}"));
        }
    }
    attrs(group, at, out);
    for name in group.member_names().unwrap() {
        let path = format!("{at}/{name}");
        if let Ok(sub) = group.group(&name) {
            out.push(format!("{path}/"));
            describe(&sub, &path, out);
            continue;
        }
        let d = group.dataset(&name).unwrap();
        let dtype = d.dtype().unwrap().to_descriptor().unwrap();
        let value = match dtype {
            TypeDescriptor::VarLenUnicode => d.read_scalar::<VarLenUnicode>().unwrap().to_string(),
            TypeDescriptor::Integer(_) => format!("{:?}", d.read_raw::<i64>().unwrap()),
            TypeDescriptor::Float(_) => format!("{:?}", d.read_raw::<f64>().unwrap()),
            ref other => format!("{other:?}"),
        };
        out.push(format!(
            "{path} {dtype:?} {:?} {value} layout={:?}",
            d.shape(),
            d.layout()
        ));
        attrs(&d, &path, out);
    }
}

fn file_lines(path: &std::path::Path) -> Vec<String> {
    let file = cloexec::h5::open_read(path).unwrap();
    let mut lines = Vec::new();
    describe(&file, "", &mut lines);
    lines
        .into_iter()
        .filter(|l| !l.starts_with("@file_path"))
        .collect()
}

/// Typed results are written as their group's datasets, named by their
/// record names, with their units: the file is the one the records made.
#[test]
fn analysis_results_are_datasets_of_their_group_with_units() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let typed = dir.path().join("typed.h5");
    let plain = dir.path().join("plain.h5");
    for (path, make) in [
        (&typed, step_with_results as fn(usize) -> StepData),
        (&plain, step_with_results_as_records),
    ] {
        let file = callbacks::ScanFile::create(path, &root()).unwrap();
        for i in 0..2 {
            file.write_step(i, &make(i)).unwrap();
        }
    }

    let file = cloexec::h5::open_read(&typed).unwrap();
    let scan = file.group("scan_002/scan").unwrap();
    let sigma = scan.dataset("Test:SCAN:DMN-H-PDB-Sigma").unwrap();
    assert_eq!(sigma.read_scalar::<f64>().unwrap(), 1.7);
    assert_eq!(sigma.shape(), Vec::<usize>::new());
    let egu: VarLenUnicode = sigma.attr("egu").unwrap().read_scalar().unwrap();
    assert_eq!(egu.as_str(), "mm");
    let history = scan.dataset("Test:SCAN:DMN-H-PDB-IntPos").unwrap();
    assert_eq!(history.read_raw::<f64>().unwrap(), vec![-0.5, 0.5]);
    let egu: VarLenUnicode = history.attr("egu").unwrap().read_scalar().unwrap();
    assert_eq!(egu.as_str(), "mm");
    let ok = scan.dataset("Test:SCAN:DMN-H-PDB-FitOk").unwrap();
    assert_eq!(ok.read_scalar::<i64>().unwrap(), 1);
    assert!(ok.attr_names().unwrap().is_empty(), "no unit, no egu");
    // Beside the step's PVs, which stay as they were.
    assert_eq!(
        scan.dataset("Test:SCAN:PosToDelay")
            .unwrap()
            .read_scalar::<f64>()
            .unwrap(),
        1.0
    );
    // A group only results are filed in is made for them.
    let label = file.dataset("scan_001/derived/beam-label").unwrap();
    assert_eq!(label.read_scalar::<VarLenUnicode>().unwrap().as_str(), "ok");
    drop(file);

    // The same objects written in the same order: the same size (the bytes
    // differ in the file's name and HDF5's modification times only).
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    assert_eq!(size(&typed), size(&plain));
    let (typed, plain) = (file_lines(&typed), file_lines(&plain));
    assert!(typed.len() > 20, "{typed:#?}");
    assert_eq!(typed, plain);
}
