//! Demo of the foundation crates: validate operator inputs into a scan,
//! plan its steps, sample a simulated Gaussian beam at each position (with
//! seeded noise), and fit the profile as the live fit will.
//!
//! `cargo run --release -p planner --example scan_demo -- --num 21 --sigma 1.7`

use clap::Parser;
use planner::{
    RawInput, RawScanInputs, ScanConfig, ScanLimits, ScannerIndex, StepCosts, WithinDataRoot,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Plan a wire scan, simulate a beam profile, fit it")]
struct Args {
    /// ScanStart, mm.
    #[arg(long, default_value = "-5", allow_hyphen_values = true)]
    start: String,
    /// ScanEnd, mm.
    #[arg(long, default_value = "5", allow_hyphen_values = true)]
    end: String,
    /// NumScans: steps.
    #[arg(long, default_value = "21", allow_hyphen_values = true)]
    num: String,
    /// Simulated beam centre, mm.
    #[arg(long, default_value_t = 0.3, allow_hyphen_values = true)]
    mean: f64,
    /// Simulated beam sigma, mm.
    #[arg(long, default_value_t = 1.7)]
    sigma: f64,
    /// Relative noise of each point.
    #[arg(long, default_value_t = 0.02)]
    noise: f64,
    /// Scanner index for the file name.
    #[arg(long, default_value_t = 1)]
    scanner: i64,
}

/// Deterministic noise in [-1, 1] (xorshift), so the demo repeats exactly.
fn noise(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn main() -> ExitCode {
    let args = Args::parse();
    let raw = RawScanInputs {
        num_scans: RawInput::Text(args.num),
        relative_scan: RawInput::Integer(0),
        center_position: RawInput::Number(0.0),
        scan_start: RawInput::Text(args.start),
        scan_end: RawInput::Text(args.end),
        output_path: "demo".to_string(),
    };
    let limits = ScanLimits::default();
    let rule = WithinDataRoot {
        root: PathBuf::from("/data"),
    };
    let config = match ScanConfig::from_raw(&raw, &limits, &rule) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Task Fail: {e}");
            return ExitCode::FAILURE;
        }
    };
    let plan = match config.plan(None, &limits) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Task Fail: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(scanner) = ScannerIndex::try_from(args.scanner) else {
        eprintln!("scanner index {} is outside 0..99", args.scanner);
        return ExitCode::FAILURE;
    };
    let stamp = chrono::NaiveDate::from_ymd_opt(2025, 2, 17)
        .and_then(|d| d.and_hms_opt(14, 30, 0))
        .unwrap_or_default();
    println!("file: {}", config.file_path(scanner, stamp).display());
    let costs = StepCosts {
        per_step: Duration::from_millis(200),
        first_step_extra: Duration::from_secs(2),
        per_unit_travel: Duration::from_millis(50),
    };
    println!(
        "{} steps, estimated {:.1} s",
        plan.len(),
        plan.estimate_duration(&costs).as_secs_f64()
    );

    let mut state = 0x2545_F491_4F6C_DD1D;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for step in plan.steps() {
        let position = step.positions[0];
        let signal = fitting::gaussian(position, 100.0, args.mean, args.sigma, 2.0);
        let measured = signal * (1.0 + args.noise * noise(&mut state));
        println!(
            "step {:>3}  position {:>9.4} mm  integral {:>9.4}",
            step.index + 1,
            position,
            measured
        );
        x.push(position);
        y.push(measured);
    }
    match fitting::fit_gaussian(&x, &y) {
        Ok(fit) => {
            let err = |e: Option<f64>| e.map_or("n/a".to_string(), |v| format!("{v:.4}"));
            println!(
                "fit: Amp {:.4} ± {}  Mean {:.4} ± {} mm  Sigma {:.4} ± {} mm  FWHM {:.4} mm  \
                 reduced chi2 {:.4e}  R² {:.6}  ({} evaluations{})",
                fit.params.amplitude,
                err(fit.errors.amplitude),
                fit.params.mean,
                err(fit.errors.mean),
                fit.params.sigma,
                err(fit.errors.sigma),
                fit.fwhm,
                fit.quality.reduced_chi_square.unwrap_or(f64::NAN),
                fit.quality.r_squared.unwrap_or(f64::NAN),
                fit.evaluations,
                if fit.converged { "" } else { ", NOT converged" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("no fit: {e}");
            ExitCode::SUCCESS
        }
    }
}
