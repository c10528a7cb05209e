//! The window on a real file, under Xvfb with Mesa's software OpenGL
//! (Debian's xvfb and libgl1-mesa-dri, installed by
//! scripts/install-deps.sh): it opens, draws both views, and its
//! screenshot has the window's size and the views' colours. Without a
//! display it fails with a message instead of a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/simulated.rs"]
mod simulated;

use std::path::Path;
use std::process::Command;

fn pixels(png_path: &Path) -> ((u32, u32), Vec<[u8; 4]>) {
    let file = std::io::BufReader::new(std::fs::File::open(png_path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    let px = buf[..info.buffer_size()]
        .chunks(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    ((info.width, info.height), px)
}

#[test]
fn the_window_opens_under_xvfb_and_its_screenshot_shows_both_views() {
    assert!(
        Command::new("xvfb-run").arg("--help").output().is_ok(),
        "xvfb-run is missing: scripts/install-deps.sh installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = simulated::daemon_file(dir.path(), 21);
    let shot = dir.path().join("window.png");
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1920x1080x24"])
        .arg(env!("CARGO_BIN_EXE_fws-plot"))
        .arg(&file)
        .args(["PDB", "--deselect", "10", "--screenshot"])
        .arg(&shot)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fws-plot under xvfb failed: {stderr}");
    let ((w, h), px) = pixels(&shot);
    let [ww, wh] = plot_cli::gui::WINDOW_SIZE;
    assert_eq!((w, h), (ww as u32, wh as u32), "the window's size");
    let near =
        |p: &[u8; 4], c: [u8; 3]| (0..3).all(|i| (i32::from(p[i]) - i32::from(c[i])).abs() <= 12);
    let count = |c: [u8; 3]| px.iter().filter(|p| near(p, c)).count();
    let background = px
        .iter()
        .filter(|p| p[0] > 240 && p[1] > 240 && p[2] > 240)
        .count();
    assert!(background < px.len() * 97 / 100, "not blank");
    use plot_cli::palette;
    assert!(count(palette::SELECTED) > 200, "the selected points");
    assert!(
        count(palette::DESELECTED) > 20,
        "the point toggled off (its ring)"
    );
    assert!(count(palette::FIT) > 200, "the fit curve");
    assert!(
        count(palette::trace_colour(10, 21)) > 50,
        "ROI traces (the middle step's shade)"
    );
    let colours: std::collections::HashSet<[u8; 4]> = px.iter().copied().collect();
    assert!(colours.len() > 100, "{} colours", colours.len());
}

#[test]
fn without_a_display_the_window_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = simulated::daemon_file(dir.path(), 6);
    let out = Command::new(env!("CARGO_BIN_EXE_fws-plot"))
        .arg(&file)
        .arg("PDB")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot open the window"), "{stderr}");
    assert!(stderr.contains("--save"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
