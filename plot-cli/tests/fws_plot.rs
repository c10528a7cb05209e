//! `fws-plot` headless, on two files: one written by this daemon's HDF5
//! writer (simulated sweeps), one written with h5py in the reference
//! daemon's layout and names. The CSV must equal what the `fitting` crate
//! computes from the same datasets read here independently; the images
//! must have the expected size and content; bad input must fail clearly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/loopback.rs"]
mod loopback;
#[path = "support/simulated.rs"]
mod simulated;

use callbacks::{ExitAttributes, ScanFile};
use fitting::{fit_gaussian, normalize, step_metrics, RoiMode};
use simulated::{daemon_file, daemon_step, root, BCM};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file in the reference daemon's layout, written by h5py.
fn reference_file(dir: &Path, steps: usize) -> PathBuf {
    let path = dir.join(format!("FWS01_-6_6_n{steps}_20250217-1430.h5"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference_file.py");
    // Children inherit nothing: another test's HDF5 file, in the instant
    // before it is marked close-on-exec, would stay locked while they live.
    let status = cloexec::child::inherit_nothing(
        Command::new(loopback::python())
            .arg(script)
            .arg(&path)
            .arg(steps.to_string()),
    )
    .status()
    .unwrap();
    assert!(status.success());
    path
}

fn fws_plot(args: &[&str]) -> (Option<i32>, String) {
    let out =
        cloexec::child::inherit_nothing(Command::new(env!("CARGO_BIN_EXE_fws-plot")).args(args))
            .output()
            .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Csv {
    points: Vec<(usize, f64, f64, bool)>,
    params: Vec<(String, f64, Option<f64>)>,
    curve: Vec<(f64, f64)>,
}

fn read_csv(path: &Path) -> Csv {
    let text = std::fs::read_to_string(path).unwrap();
    let mut csv = Csv {
        points: vec![],
        params: vec![],
        curve: vec![],
    };
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("# fws-plot "));
    assert_eq!(lines.next().unwrap(), "kind,label,x,y,z");
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let num = |s: &str| s.parse::<f64>().unwrap();
        match f[0] {
            "point" => csv
                .points
                .push((f[1].parse().unwrap(), num(f[2]), num(f[3]), f[4] == "1")),
            "param" => csv.params.push((
                f[1].to_string(),
                num(f[2]),
                (!f[3].is_empty()).then(|| num(f[3])),
            )),
            "curve" => csv.curve.push((num(f[2]), num(f[3]))),
            other => panic!("unknown row kind {other}"),
        }
    }
    csv
}

fn param(csv: &Csv, name: &str) -> f64 {
    csv.params.iter().find(|p| p.0 == name).unwrap().1
}

/// The expected profile, computed here from the datasets read directly.
fn expected(path: &Path, x_name: &str, trace_name: &str, norm: bool) -> Vec<(usize, f64, f64)> {
    let file = cloexec::h5::open_read(path).unwrap();
    let mut groups = file.member_names().unwrap();
    groups.sort();
    groups
        .iter()
        .map(|g| {
            let x = file
                .dataset(&format!("{g}/scan/{x_name}"))
                .unwrap()
                .read_raw::<f64>()
                .unwrap();
            let mut y = file
                .dataset(&format!("{g}/struck/{trace_name}"))
                .unwrap()
                .read_raw::<f64>()
                .unwrap();
            if norm {
                let bcm = file
                    .dataset(&format!("{g}/beam/{BCM}"))
                    .unwrap()
                    .read_scalar::<f64>()
                    .unwrap();
                y = normalize(&y, bcm).unwrap();
            }
            let m = step_metrics(&x, &y, RoiMode::Dynamic).unwrap();
            (g[5..].parse().unwrap(), m.centroid, m.integral)
        })
        .collect()
}

fn check_against_fitting(csv: &Csv, want: &[(usize, f64, f64)]) {
    let got: Vec<(usize, f64, f64)> = csv.points.iter().map(|p| (p.0, p.1, p.2)).collect();
    assert_eq!(got, want, "points = the fitting crate's, to the bit");
    let (x, y): (Vec<f64>, Vec<f64>) = want.iter().map(|p| (p.1, p.2)).unzip();
    let fit = fit_gaussian(&x, &y).unwrap();
    assert_eq!(param(csv, "amplitude"), fit.params.amplitude);
    assert_eq!(param(csv, "mean"), fit.params.mean);
    assert_eq!(param(csv, "sigma"), fit.params.sigma);
    assert_eq!(param(csv, "fwhm"), fit.fwhm);
    let sigma_err = csv.params.iter().find(|p| p.0 == "sigma").unwrap().2;
    assert_eq!(sigma_err, fit.errors.sigma);
    assert_eq!(csv.curve.len(), fitting::CURVE_POINTS);
}

#[test]
fn csv_equals_the_fitting_crate_on_a_daemon_file_and_a_reference_file() {
    let dir = tempfile::tempdir().unwrap();
    for (path, x, trace, sigma) in [
        (
            daemon_file(dir.path(), 21),
            "Test:SCAN:InterpolatedPosCh1",
            "Test:STRUCK:H-PDB-TRC2-ArrayData",
            sim::SimConfig::default().beam.sigma,
        ),
        (
            reference_file(dir.path(), 21),
            "PBI-WS06:Ctrl-SCAN-001:InterpolatedPosCh1",
            "PBI-WS06:Ctrl-AMC-110:H-PDB-TRC2-ArrayData",
            1.7,
        ),
    ] {
        let out = dir.path().join("out.csv");
        let (code, err) = fws_plot(&[
            path.to_str().unwrap(),
            "pdb",
            "--export",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        let csv = read_csv(&out);
        assert_eq!(csv.points.len(), 21);
        check_against_fitting(&csv, &expected(&path, x, trace, false));
        let fitted = param(&csv, "sigma");
        assert!(
            (fitted - sigma).abs() < 0.01 * sigma,
            "sigma {fitted} vs {sigma}"
        );

        // Norm divides each trace by its step's BCM current.
        let (code, err) = fws_plot(&[
            path.to_str().unwrap(),
            "PDB",
            "--norm",
            "--export",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        check_against_fitting(&read_csv(&out), &expected(&path, x, trace, true));
    }
}

#[test]
fn controls_select_steps_and_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = reference_file(dir.path(), 21);
    let out = dir.path().join("c.csv");
    let p = path.to_str().unwrap();
    let o = out.to_str().unwrap();
    let all = {
        fws_plot(&[p, "PDB", "--export", o]);
        read_csv(&out)
    };
    // First/last step.
    fws_plot(&[p, "PDB", "--first", "5", "--last", "15", "--export", o]);
    let some = read_csv(&out);
    let steps: Vec<usize> = some.points.iter().map(|p| p.0).collect();
    assert_eq!(steps, (5..=15).collect::<Vec<_>>());
    // Points toggled off stay shown, out of the fit.
    let (code, err) = fws_plot(&[p, "PDB", "--deselect", "10,11,12", "--export", o]);
    assert_eq!(code, Some(0), "{err}");
    let toggled = read_csv(&out);
    let off: Vec<usize> = toggled
        .points
        .iter()
        .filter(|p| !p.3)
        .map(|p| p.0)
        .collect();
    assert_eq!(off, [10, 11, 12]);
    assert_ne!(param(&toggled, "amplitude"), param(&all, "amplitude"));
    // A fixed ROI and the other position channel change the numbers.
    fws_plot(&[p, "PDB", "--roi-percent", "2", "--export", o]);
    assert_ne!(read_csv(&out).points[10].2, all.points[10].2);
    fws_plot(&[p, "PDB", "-ic", "CH2", "--export", o]);
    let ch2 = read_csv(&out);
    assert!((ch2.points[10].1 - all.points[10].1 - 0.001).abs() < 1e-9);
    // Offset: positions less the first BPM's reading (0.05 mm x step index).
    fws_plot(&[p, "PDB", "--offset", "-si", "1", "--export", o]);
    let shifted = read_csv(&out);
    assert!((all.points[4].1 - shifted.points[4].1 - 0.05 * 4.0).abs() < 1e-9);
    // Filter: the k-means signal cluster only (the tails of the profile go).
    fws_plot(&[p, "PDB", "--filter", "--export", o]);
    let filtered = read_csv(&out);
    assert!(filtered.points.len() < 21 && filtered.points.len() >= 5);
    let lowest_kept = filtered
        .points
        .iter()
        .map(|p| p.2)
        .fold(f64::INFINITY, f64::min);
    let dropped_max = all
        .points
        .iter()
        .filter(|a| !filtered.points.iter().any(|f| f.0 == a.0))
        .map(|p| p.2)
        .fold(0.0, f64::max);
    assert!(dropped_max < lowest_kept, "noise below signal");
}

#[test]
fn png_and_svg_have_the_size_and_are_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let path = daemon_file(dir.path(), 21);
    let png = dir.path().join("both.png");
    let svg = dir.path().join("both.svg");
    let (code, err) = fws_plot(&[
        path.to_str().unwrap(),
        "PDB",
        "--save",
        png.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), plot_cli::export::IMAGE_SIZE);
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(
        inked * 100 > pixels.len() * 2,
        "{inked} of {} pixels drawn",
        pixels.len()
    );
    assert!(colours.len() > 50, "{} colours", colours.len());

    fws_plot(&[
        path.to_str().unwrap(),
        "PDB",
        "--save",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("width=\"1800\""));
    assert!(text.contains("Intensity Profile: H-PDB") && text.contains("ROI Waveforms: H-PDB"));
    // 21 markers and the legend's.
    assert_eq!(
        text.matches("fill=\"#0072B2\"").count(),
        22,
        "one marker per step"
    );
    assert!(text.matches("<polyline").count() >= 21, "a trace per step");
    assert!(text.contains("Sigma"), "the parameter box");
}

#[test]
fn bad_input_is_a_clear_message_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text_file = d.join("notes.h5");
    std::fs::write(&text_file, "not hdf5").unwrap();
    let empty = d.join("FWS01_empty.h5");
    hdf5::File::create(&empty).unwrap();
    let short = daemon_file(d, 3);
    let good = daemon_file(d, 21);
    let csv = d.join("x.csv");
    let c = csv.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["/nonexistent/FWS01_x.h5", "PDB", "--export", c], 1, "no such file"),
        (&[text_file.to_str().unwrap(), "PDB", "--export", c], 1, "not an HDF5 file"),
        (
            &[good.to_str().unwrap(), "XYZ", "--export", c],
            2,
            "channel \"XYZ\" not found; the file has: H-APDL, H-APDR, H-PDB, H-PDT, V-APDB, V-APDT, V-PDL, V-PDR; give one of them",
        ),
        (&[empty.to_str().unwrap(), "PDB", "--export", c], 1, "no scans"),
        (
            &[short.to_str().unwrap(), "PDB", "--export", c],
            1,
            "3 selected points: a Gaussian fit needs at least 5",
        ),
        (&[good.to_str().unwrap(), "PDB", "--save", "x.pdf"], 2, ".png or .svg"),
        (&[good.to_str().unwrap(), "PDB", "-ic", "CH3", "--export", c], 2, "CH1 or CH2"),
    ];
    for (args, code, says) in cases {
        let (got, err) = fws_plot(args);
        assert_eq!(got, Some(*code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Too few points: the outputs are still written, without a fit.
    let points = read_csv(&csv);
    assert_eq!(points.points.len(), 3);
    assert!(points.params.is_empty());
}

#[test]
fn follow_refreshes_while_the_file_is_written_and_ends_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FWS01_-6_6_n9_20261122-1300.h5");
    let out = dir.path().join("live.csv");
    let file = ScanFile::create(&path, &root(9)).unwrap();
    for i in 0..5 {
        file.write_step(i, &daemon_step(i, 9)).unwrap();
    }
    let mut follower = cloexec::child::inherit_nothing(
        Command::new(env!("CARGO_BIN_EXE_fws-plot"))
            .args([path.to_str().unwrap(), "PDB", "--follow", "--export"])
            .arg(&out)
            .stderr(std::process::Stdio::null()),
    )
    .spawn()
    .unwrap();
    let wait_for = |n: usize| {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(30) {
            if out.exists() && read_csv(&out).points.len() == n {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    };
    assert!(wait_for(5), "the first five steps");
    assert!(follower.try_wait().unwrap().is_none(), "still following");
    for i in 5..9 {
        file.write_step(i, &daemon_step(i, 9)).unwrap();
    }
    assert!(wait_for(9), "refreshed with the new steps");
    file.finish(&ExitAttributes {
        exit_status: "Completed".into(),
        exit_reason: String::new(),
        completed_steps: 9,
    })
    .unwrap();
    drop(file);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = follower.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "did not end"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success());
}

#[test]
fn a_channel_name_matching_several_channels_is_refused_with_the_matches() {
    let dir = tempfile::tempdir().unwrap();
    let good = daemon_file(dir.path(), 6);
    let out = dir.path().join("pd.csv");
    let (code, err) = fws_plot(&[
        good.to_str().unwrap(),
        "PD",
        "--export",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "channel \"PD\" matches 8 channels: H-APDL, H-APDR, H-PDB, H-PDT, V-APDB, V-APDT, \
             V-PDL, V-PDR; give one of them"
        ),
        "{err}"
    );
    assert!(!out.exists(), "nothing written for a refused channel");
    // APD: four of them.
    let (code, err) = fws_plot(&[
        good.to_str().unwrap(),
        "apd",
        "--export",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("matches 4 channels: H-APDL, H-APDR, V-APDB, V-APDT"),
        "{err}"
    );
}

#[test]
fn steps_and_roi_outside_their_range_are_refused_with_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let good = daemon_file(dir.path(), 21);
    let out = dir.path().join("r.csv");
    let (f, o) = (good.to_str().unwrap(), out.to_str().unwrap());
    let cases: &[(&[&str], &str)] = &[
        (
            &["--deselect", "99"],
            "--deselect 99: the file's steps are 1 to 21",
        ),
        (
            &["--deselect", "3,22"],
            "--deselect 22: the file's steps are 1 to 21",
        ),
        (&["--deselect", "0"], "steps are numbered from 1"),
        (&["--first", "0"], "steps are numbered from 1"),
        (
            &["--first", "30"],
            "--first 30: the file's steps are 1 to 21",
        ),
        (&["--last", "22"], "--last 22: the file's steps are 1 to 21"),
        (
            &["--first", "15", "--last", "5"],
            "--first 15 is after --last 5",
        ),
        (
            &["--roi-percent", "150"],
            "from 0 to 100 (0 = automatic ROI)",
        ),
        (&["--roi-percent=-1"], "from 0 to 100 (0 = automatic ROI)"),
        (
            &["--roi-percent", "nan"],
            "from 0 to 100 (0 = automatic ROI)",
        ),
    ];
    for (extra, says) in cases {
        let mut args = vec![f, "PDB", "--export", o];
        args.extend_from_slice(extra);
        let (code, err) = fws_plot(&args);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
        assert!(!out.exists(), "{extra:?}: nothing written");
    }
    // The bounds themselves are fine.
    let (code, err) = fws_plot(&[
        f,
        "PDB",
        "--export",
        o,
        "--first",
        "1",
        "--last",
        "21",
        "--deselect",
        "21",
        "--roi-percent",
        "100",
    ]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_missing_output_folder_is_named_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = daemon_file(dir.path(), 6);
    let missing = dir.path().join("no-such-folder");
    for (option, name) in [
        ("--save", "p.png"),
        ("--save", "p.svg"),
        ("--export", "p.csv"),
    ] {
        let target = missing.join(name);
        let (code, err) = fws_plot(&[
            good.to_str().unwrap(),
            "PDB",
            option,
            target.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "{option} {}: the folder {} does not exist; create it or write elsewhere",
                target.display(),
                missing.display()
            )),
            "{err}"
        );
        assert!(
            !err.contains("Os {") && !err.contains("backend error"),
            "raw: {err}"
        );
    }
    // Even for a file that is not there yet: the output is checked first.
    let (code, err) = fws_plot(&[
        "/nonexistent/FWS01_x.h5",
        "PDB",
        "--export",
        "/nonexistent/x.csv",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the folder /nonexistent does not exist"),
        "{err}"
    );
}

#[test]
fn too_few_points_is_said_once_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let short = daemon_file(dir.path(), 3);
    let out = dir.path().join("s.csv");
    let (code, err) = fws_plot(&[
        short.to_str().unwrap(),
        "PDB",
        "--export",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.matches("needs").count(), 1, "said once: {err}");
    assert!(err.contains("show more steps (--first/--last)"), "{err}");
    assert!(out.exists(), "the points are written without a fit");
}

/// `fws-plot --follow` on `path`, its stderr collected line by line.
fn follower(path: &Path, out: &Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = cloexec::child::inherit_nothing(
        Command::new(env!("CARGO_BIN_EXE_fws-plot"))
            .arg(path)
            .args(["PDB", "--follow", "--export"])
            .arg(out)
            .stderr(std::process::Stdio::piped()),
    )
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[test]
fn follow_retries_quietly_while_the_file_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    // The file exists but cannot be read yet (as mid-write), then the
    // finished file takes its place.
    let path = dir.path().join("FWS01_-6_6_n9_20261122-1400.h5");
    std::fs::write(&path, b"not yet an HDF5 file").unwrap();
    let out = dir.path().join("live.csv");
    let (mut child, lines) = follower(&path, &out);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "still following");
    std::fs::create_dir(dir.path().join("done")).unwrap();
    let done = daemon_file(&dir.path().join("done"), 9);
    std::fs::rename(&done, &path).unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed().as_secs() < 30, "did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let said: Vec<String> = lines.try_iter().collect();
    assert!(status.success(), "{said:?}");
    assert_eq!(read_csv(&out).points.len(), 9);
    for line in &said {
        assert!(
            !line.contains("HDF5") && !line.contains("H5F") && !line.contains("unable to"),
            "a passing read failure printed: {said:?}"
        );
    }
}

#[test]
fn follow_reports_a_lasting_read_failure_once_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("FWS01_-6_6_n9_20261122-1500.h5");
    std::fs::write(&path, b"garbage that stays garbage").unwrap();
    let out = dir.path().join("live.csv");
    let (mut child, lines) = follower(&path, &out);
    let start = std::time::Instant::now();
    let mut said = Vec::new();
    while start.elapsed().as_secs() < 20 && !said.iter().any(|l: &String| l.contains("unreadable"))
    {
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(200)) {
            said.push(line);
        }
    }
    // A little longer: the report is not repeated.
    std::thread::sleep(std::time::Duration::from_secs(2));
    said.extend(lines.try_iter());
    child.kill().unwrap();
    child.wait().unwrap();
    let reports: Vec<&String> = said.iter().filter(|l| l.contains("unreadable")).collect();
    assert_eq!(reports.len(), 1, "{said:?}");
    let report = reports[0];
    assert!(
        report.contains(&format!("{} has been unreadable for 5 s", path.display())),
        "{report}"
    );
    assert!(
        report.contains("still retrying") && report.contains("Ctrl-C"),
        "{report}"
    );
    assert_eq!(said.len(), 1, "nothing else said: {said:?}");
}

/// The step labels of the SVG's profile: (step, x, y) of their top left.
fn svg_labels(svg: &str, fill: &str) -> Vec<(String, f64, f64)> {
    svg.split("<text ")
        .skip(1)
        .filter(|t| t.contains(&format!("fill=\"{fill}\"")))
        .filter_map(|t| {
            let attr = |name: &str| -> Option<f64> {
                let at = t.find(&format!(" {name}=\""))? + name.len() + 3;
                t[at..].split('"').next()?.parse().ok()
            };
            let x = attr("x").or_else(|| {
                t.strip_prefix("x=\"")
                    .and_then(|r| r.split('"').next())
                    .and_then(|v| v.parse().ok())
            })?;
            let body = t.split('>').nth(1)?.split('<').next()?.trim().to_string();
            Some((body, x, attr("y")?))
        })
        .collect()
}

fn svg_circles(svg: &str) -> Vec<(f64, f64, f64)> {
    svg.split("<circle ")
        .skip(1)
        .filter_map(|c| {
            let attr = |name: &str| -> Option<f64> {
                let at = c.find(&format!("{name}=\""))? + name.len() + 2;
                c[at..].split('"').next()?.parse().ok()
            };
            Some((attr("cx")?, attr("cy")?, attr("r")?))
        })
        .collect()
}

#[test]
fn svg_step_labels_sit_beside_their_markers_in_one_text_run_each() {
    let dir = tempfile::tempdir().unwrap();
    for steps in [21, 150] {
        let path = daemon_file(dir.path(), steps);
        let svg = dir.path().join(format!("p{steps}.svg"));
        let (code, err) = fws_plot(&[
            path.to_str().unwrap(),
            "PDB",
            "--save",
            svg.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        let text = std::fs::read_to_string(&svg).unwrap();
        let labels = svg_labels(&text, "#3C3C3C");
        let circles: Vec<(f64, f64, f64)> = svg_circles(&text)
            .into_iter()
            .filter(|c| c.0 < f64::from(plot_cli::export::IMAGE_SIZE.0) / 2.0)
            .collect();
        if steps == 21 {
            assert_eq!(labels.len(), 21, "every step labelled: {labels:?}");
        } else {
            assert!(labels.len() >= 20, "{labels:?}");
            assert!(labels.iter().all(|l| {
                let n: usize = l.0.parse().unwrap();
                n.is_multiple_of(5) || n == 1
            }));
        }
        for (step, x, y) in &labels {
            // One run per label: the whole number, not digits apart.
            let n: usize = step.parse().unwrap_or_else(|_| panic!("label {step:?}"));
            assert!((1..=steps).contains(&n));
            let (w, h) = plot_cli::glyphs::text_size(plot_cli::glyphs::SANS, 14.0, step);
            let label = plot_cli::labels::Rect::from_min_size((*x, *y), (w, h));
            for (cx, cy, r) in &circles {
                assert!(
                    label.distance_to((*cx, *cy)) >= *r,
                    "{steps} steps: label {step} at ({x}, {y}) on the marker at ({cx}, {cy})"
                );
            }
        }
    }
}

#[test]
fn svg_colours_read_on_white_and_the_units_are_v_mm() {
    use plot_cli::palette::contrast_on_white;
    let dir = tempfile::tempdir().unwrap();
    let path = daemon_file(dir.path(), 21);
    let svg = dir.path().join("c.svg");
    let (code, err) = fws_plot(&[
        path.to_str().unwrap(),
        "PDB",
        "--save",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    let hex = |s: &str| -> [u8; 3] {
        let v = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).unwrap();
        [v(1), v(3), v(5)]
    };
    // Every trace, the fit and every label: no pastel on white.
    let half = f64::from(plot_cli::export::IMAGE_SIZE.0) / 2.0;
    let mut traces = 0;
    for line in text.split("<polyline ").skip(1) {
        let stroke = line
            .split("stroke=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let points = line
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let first_x: f64 = points.split(',').next().unwrap().trim().parse().unwrap();
        let many = points.split(' ').filter(|p| !p.is_empty()).count() > 10;
        if first_x > half && many {
            traces += 1;
            let c = hex(stroke);
            assert!(contrast_on_white(c) >= 3.0, "trace colour {stroke}");
        }
    }
    assert_eq!(traces, 21, "one trace per step");
    for fill in text
        .split("<text ")
        .skip(1)
        .filter_map(|t| t.split("fill=\"").nth(1))
    {
        let c = hex(fill.split('"').next().unwrap());
        assert!(contrast_on_white(c) >= 4.5, "text colour {c:?}");
    }
    assert!(text.contains("Profile Area (V*mm)"), "axis unit");
    assert!(
        text.contains("V*mm\n") || text.contains("V*mm<"),
        "Amp's unit"
    );
    let amp = text.split("Amp").nth(1).unwrap().split('<').next().unwrap();
    assert!(
        amp.contains('±') && amp.trim_end().ends_with("V*mm"),
        "{amp:?}"
    );
    assert!(!text.contains("-0.0000") && !text.contains("V·mm"));
    // The CSV states the units too.
    let csv = dir.path().join("u.csv");
    fws_plot(&[
        path.to_str().unwrap(),
        "PDB",
        "--export",
        csv.to_str().unwrap(),
    ]);
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert!(rows.lines().next().unwrap().contains("integral (V*mm)"));
    assert!(rows
        .lines()
        .any(|l| l.starts_with("param,amplitude,") && l.ends_with(",V*mm")));
    assert!(rows
        .lines()
        .any(|l| l.starts_with("param,sigma,") && l.ends_with(",mm")));
}

/// The export's own layout on real files: what it placed overlaps nothing.
#[test]
fn exported_labels_overlap_no_label_marker_box_or_fit_line() {
    use plot_cli::analysis::{analyse, Settings};
    let dir = tempfile::tempdir().unwrap();
    for steps in [21, 150] {
        let path = daemon_file(dir.path(), steps);
        let data = plot_cli::read_scan(&path, "PDB", plot_cli::IopsChannel::Ch1, None).unwrap();
        let settings = Settings::all(steps);
        let deselected = std::collections::BTreeSet::from([10]);
        let profile = analyse(&data, &settings, &deselected);
        for (what, drawn) in [
            (
                "svg",
                plot_cli::export::render_svg(&data, &profile, &settings)
                    .unwrap()
                    .1,
            ),
            (
                "png",
                plot_cli::export::render_png(&data, &profile, &settings)
                    .unwrap()
                    .1,
            ),
        ] {
            let legend = drawn.legend.unwrap();
            let plot = drawn.plot.unwrap();
            assert_eq!(drawn.markers.len(), steps);
            let min = if steps == 21 { 21 } else { 20 };
            assert!(
                drawn.labels.len() >= min,
                "{what} {steps}: {} labels",
                drawn.labels.len()
            );
            for (i, (a, ra)) in drawn.labels.iter().enumerate() {
                for (b, rb) in &drawn.labels[i + 1..] {
                    assert!(
                        !ra.intersects(rb),
                        "{what} {steps}: labels {a} and {b} overlap"
                    );
                }
                for (m, c) in &drawn.markers {
                    assert!(
                        ra.distance_to(*c) >= 3.0,
                        "{what} {steps}: label {a} on marker {m}"
                    );
                }
                assert!(
                    !ra.intersects(&legend),
                    "{what} {steps}: label {a} on the legend"
                );
                assert!(
                    plot.contains(ra),
                    "{what} {steps}: label {a} outside the plot"
                );
                assert!(
                    !drawn.curve.windows(2).any(|s| ra.crossed_by(s[0], s[1])),
                    "{what} {steps}: label {a} on the fit line"
                );
            }
            for (a, ra) in drawn.peak_labels.iter() {
                for (b, rb) in drawn.peak_labels.iter().filter(|(b, _)| b != a) {
                    assert!(
                        !ra.intersects(rb),
                        "{what} {steps}: peak labels {a} and {b}"
                    );
                }
            }
            assert!(!drawn.peak_labels.is_empty());
        }
    }
}
