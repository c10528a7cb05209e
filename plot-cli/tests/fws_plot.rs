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
    let status = Command::new(loopback::python())
        .arg(script)
        .arg(&path)
        .arg(steps.to_string())
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
    assert!(text.contains("<svg") && text.contains("width=\"1600\""));
    assert!(text.contains("Intensity Profile: H-PDB") && text.contains("ROI Waveforms: H-PDB"));
    assert_eq!(text.matches("<circle").count(), 21, "one marker per step");
    assert!(text.matches("<polyline").count() >= 21, "a trace per step");
    assert!(text.contains("Sig:"), "the parameter box");
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
            1,
            "channel \"XYZ\" not found; the file has: H-APDL, H-APDR, H-PDB, H-PDT, V-APDB, V-APDT, V-PDL, V-PDR",
        ),
        (&[empty.to_str().unwrap(), "PDB", "--export", c], 1, "no scans"),
        (
            &[short.to_str().unwrap(), "PDB", "--export", c],
            1,
            "3 selected points: a Gaussian fit needs at least 5",
        ),
        (&[good.to_str().unwrap(), "PDB", "--save", "x.pdf"], 1, ".png or .svg"),
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
