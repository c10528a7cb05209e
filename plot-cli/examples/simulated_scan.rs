//! Writes a simulated scan (this daemon's writer, the simulator's beam:
//! sigma 1.7 mm; 21 steps unless told) to a folder, and prints its path.
//!
//! `cargo run -p plot-cli --example simulated_scan -- OUT_DIR [STEPS]`

#[path = "../tests/support/simulated.rs"]
mod simulated;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let steps = args.next().and_then(|s| s.parse().ok()).unwrap_or(21);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("simulated_scan: {}: {e}", dir.display());
        std::process::exit(1);
    }
    let path = simulated::daemon_file(&dir, steps);
    println!("{}", path.display());
}
