//! `fws-plot <file.h5> <struck_channel>`: the reference's command line,
//! plus headless export (`--save`, `--export`), `--follow` and
//! `--screenshot`. Without `--save`/`--export` it opens the window.

use clap::Parser;
use planner::ScannerIndex;
use plot_cli::analysis::{analyse, parameter_text, Settings};
use plot_cli::scan_file::{exit_status, read_scan, IopsChannel, PlotError};
use plot_cli::{export, gui};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// FWS HDF5 scan analysis: beam profile and ROI waveforms of one channel.
#[derive(Debug, Parser)]
#[command(name = "fws-plot", version)]
struct Args {
    /// The scan file (.h5).
    file_path: PathBuf,
    /// The struck channel, e.g. PDB (matches H-PDB, case-insensitive).
    struck_channel: String,
    /// Which interpolated positions are x: CH1 or CH2 (also -ic).
    #[arg(long, default_value = "ch1", value_parser = parse_iops)]
    iops_channel: IopsChannel,
    /// Scanner index (also -si); read from the file name when omitted.
    #[arg(long)]
    scanner_index: Option<i64>,
    /// Write both views to this .png or .svg instead of opening a window.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Write the profile points, selection and fit to this CSV.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Refresh while a daemon is still writing the file (headless: until
    /// its exit_status is no longer Running).
    #[arg(long)]
    follow: bool,
    /// Open the window, save a screenshot of it to this .png, and close.
    #[arg(long, value_name = "FILE")]
    screenshot: Option<PathBuf>,
    /// ROI half-width in % of the trace (0 = automatic).
    #[arg(long, default_value_t = 0.0)]
    roi_percent: f64,
    /// First step shown (1-based).
    #[arg(long, default_value_t = 1)]
    first: usize,
    /// Last step shown (default: the last).
    #[arg(long)]
    last: Option<usize>,
    /// Divide each trace by its step's BCM current.
    #[arg(long)]
    norm: bool,
    /// Subtract each step's first-BPM reading from its positions.
    #[arg(long)]
    offset: bool,
    /// Keep the k-means signal points only.
    #[arg(long)]
    filter: bool,
    /// Steps left out of the fit (comma-separated step numbers).
    #[arg(long, value_delimiter = ',')]
    deselect: Vec<usize>,
}

fn parse_iops(s: &str) -> Result<IopsChannel, String> {
    match s.to_uppercase().as_str() {
        "CH1" => Ok(IopsChannel::Ch1),
        "CH2" => Ok(IopsChannel::Ch2),
        other => Err(format!("{other:?}: CH1 or CH2")),
    }
}

/// The reference's short options are two letters (`-ic`, `-si`).
fn reference_spellings(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|a| match a.as_str() {
        "-ic" => "--iops-channel".to_string(),
        "-si" => "--scanner-index".to_string(),
        _ => a,
    })
    .collect()
}

fn main() -> ExitCode {
    // The daemon keeps the file open while it writes: read without HDF5's
    // file lock (before libhdf5 starts).
    if std::env::var_os("HDF5_USE_FILE_LOCKING").is_none() {
        std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE");
    }
    let args = Args::parse_from(reference_spellings(std::env::args()));
    let result = if args.save.is_none() && args.export.is_none() {
        window(&args)
    } else {
        run(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fws-plot: {e}");
            ExitCode::from(1)
        }
    }
}

fn scanner_index(args: &Args) -> Result<Option<ScannerIndex>, PlotError> {
    args.scanner_index
        .map(|i| ScannerIndex::try_from(i).map_err(|e| PlotError::ScannerIndex(e.to_string())))
        .transpose()
}

fn settings(args: &Args, steps: usize) -> (Settings, BTreeSet<usize>) {
    (
        Settings {
            roi_percent: args.roi_percent,
            first: args.first,
            last: args.last.unwrap_or(steps),
            normalize: args.norm,
            offset: args.offset,
            filter: args.filter,
        },
        args.deselect.iter().copied().collect(),
    )
}

/// The interactive window.
fn window(args: &Args) -> Result<(), PlotError> {
    let source = gui::Source {
        path: args.file_path.clone(),
        channel: args.struck_channel.clone(),
        iops: args.iops_channel,
        index: scanner_index(args)?,
    };
    let data = read_scan(&source.path, &source.channel, source.iops, source.index)?;
    let (settings, deselected) = settings(args, data.steps.len());
    gui::run(
        source,
        data,
        settings,
        deselected,
        gui::Options {
            follow: args.follow,
            screenshot: args.screenshot.clone(),
        },
    )
}

/// Headless: the image and/or the CSV.
fn run(args: &Args) -> Result<(), PlotError> {
    let index = scanner_index(args)?;
    if !args.follow {
        return render_once(args, index);
    }
    let mut seen: Option<SystemTime> = None;
    let mut last = Ok(());
    loop {
        // The status before the data: once it says finished, the render
        // that follows (or the last one, if nothing changed) shows the end.
        let running = exit_status(&args.file_path).as_deref() == Some("Running");
        let modified = std::fs::metadata(&args.file_path)
            .and_then(|m| m.modified())
            .ok();
        if seen.is_none() || modified != seen {
            seen = modified;
            last = render_once(args, index);
            match &last {
                Err(PlotError::Missing(_)) => return last,
                // While a daemon writes, a read can land mid-step, or there
                // are not 5 points yet: the next change is rendered again.
                Err(e) if running => eprintln!("fws-plot: {e} (following)"),
                _ => {}
            }
        }
        if !running {
            return last;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn render_once(args: &Args, index: Option<ScannerIndex>) -> Result<(), PlotError> {
    let data = read_scan(
        &args.file_path,
        &args.struck_channel,
        args.iops_channel,
        index,
    )?;
    let (settings, deselected) = settings(args, data.steps.len());
    let profile = analyse(&data, &settings, &deselected);
    if let Some(path) = &args.save {
        export::image(path, &data, &profile, &settings)?;
    }
    if let Some(path) = &args.export {
        export::write_text(path, &export::csv(&data, &profile, &settings))?;
    }
    eprintln!(
        "fws-plot: {} steps of {} ({}), {} points; {}",
        data.steps.len(),
        data.channel,
        data.trace_name,
        profile.points.len(),
        parameter_text(&profile.fit).join(", ")
    );
    // The outputs are written either way; no fit is still an error.
    let selected = profile.points.iter().filter(|p| p.selected).count();
    match &profile.fit {
        Ok(_) => Ok(()),
        Err(_) if selected < fitting::MIN_POINTS => Err(PlotError::TooFewPoints(selected)),
        Err(why) => Err(PlotError::Fit(why.clone())),
    }
}
