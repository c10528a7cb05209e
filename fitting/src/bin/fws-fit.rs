//! `fws-fit`: fit one data set read as JSON from stdin and print the result
//! as JSON, so that any tool can cross-check our numbers.
//!
//! Input: `{"model": "gaussian" | "erfc", "x": [...], "y": [...], "p0": [a, b, c, d]}`
//! (`p0` only for erfc, optional). `--repeat N` fits N times and reports the
//! median wall time of one fit.

use clap::Parser;
use fitting::{fit_erfc, fit_gaussian, FitError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(version, about = "Fit a Gaussian or erfc model to JSON data on stdin")]
struct Args {
    /// Fit this many times and add the median seconds per fit to the output.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    repeat: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    model: Model,
    x: Vec<f64>,
    y: Vec<f64>,
    #[serde(default)]
    p0: Option<[f64; 4]>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Model {
    Gaussian,
    Erfc,
}

fn fit_once(request: &Request) -> Result<Value, FitError> {
    Ok(match request.model {
        Model::Gaussian => {
            if request.p0.is_some() {
                return Err(FitError::InvalidArgument(
                    "p0 applies to erfc only; the Gaussian uses the reference's start point".into(),
                ));
            }
            json!(fit_gaussian(&request.x, &request.y)?)
        }
        Model::Erfc => json!(fit_erfc(&request.x, &request.y, request.p0)?),
    })
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("fws-fit: {message}");
    println!("{}", json!({ "ok": false, "error": message }));
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return fail(format!("cannot read stdin: {e}"));
    }
    let request: Request = match serde_json::from_str(&input) {
        Ok(r) => r,
        Err(e) => return fail(format!("bad input JSON: {e}")),
    };
    let mut seconds = Vec::with_capacity(args.repeat as usize);
    let mut result = None;
    for _ in 0..args.repeat {
        let started = Instant::now();
        let outcome = fit_once(&request);
        seconds.push(started.elapsed().as_secs_f64());
        match outcome {
            Ok(value) => result = Some(value),
            Err(e) => return fail(e.to_string()),
        }
    }
    let mut output = json!({ "ok": true, "fit": result });
    if args.repeat > 1 {
        output["repeat"] = json!(args.repeat);
        output["median_seconds_per_fit"] = json!(median(seconds));
    }
    println!("{output}");
    ExitCode::SUCCESS
}
