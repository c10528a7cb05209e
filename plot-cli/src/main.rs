//! `fws-plot <file.h5> <struck_channel>`: the reference's command line,
//! plus headless export (`--save`, `--export`), `--follow` and
//! `--screenshot`. Without `--save`/`--export` it opens the window.
//!
//! Exit codes: 0 done; 1 the file or the result fails (missing, not
//! HDF5, no scans, too few points for a fit, no display, a write that
//! fails); 2 arguments that cannot be honoured (bad options, a channel or
//! steps the file does not have, a missing output folder).

use clap::Parser;
use planner::ScannerIndex;
use plot_cli::analysis::{analyse, Settings};
use plot_cli::follow::{Patience, Verdict};
use plot_cli::format::{one_line, parameter_lines};
use plot_cli::scan_file::{exit_status, read_scan, IopsChannel, PlotError, ScanData};
use plot_cli::{export, gui};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

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
    /// ROI half-width in % of the trace, 0 to 100 (0 = automatic).
    #[arg(long, default_value_t = 0.0, value_parser = parse_roi_percent)]
    roi_percent: f64,
    /// First step shown (1-based).
    #[arg(long, default_value_t = 1, value_parser = parse_step)]
    first: usize,
    /// Last step shown (default: the last).
    #[arg(long, value_parser = parse_step)]
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
    #[arg(long, value_delimiter = ',', value_parser = parse_step)]
    deselect: Vec<usize>,
}

fn parse_iops(s: &str) -> Result<IopsChannel, String> {
    match s.to_uppercase().as_str() {
        "CH1" => Ok(IopsChannel::Ch1),
        "CH2" => Ok(IopsChannel::Ch2),
        other => Err(format!("{other:?}: CH1 or CH2")),
    }
}

/// The reference's ROI slider: 0 to 100 %, 0 meaning automatic.
fn parse_roi_percent(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{s:?}: give a percentage from 0 to 100 (0 = automatic ROI)"
        )),
    }
}

/// Steps are numbered from 1 (`scan_001`).
fn parse_step(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{s:?}: steps are numbered from 1 (scan_001) to the file's last step"
        )),
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
    // clap's own errors (unknown or malformed options) exit 2 with usage.
    let args = Args::parse_from(reference_spellings(std::env::args()));
    let result = check_outputs(&args).and_then(|()| {
        if args.save.is_none() && args.export.is_none() {
            window(&args)
        } else {
            run(&args)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fws-plot: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The outputs can be written: a known image type, an existing folder
/// (checked before anything is read, so that a long follow does not end
/// in a write error).
fn check_outputs(args: &Args) -> Result<(), PlotError> {
    if let Some(path) = &args.save {
        if export::image_kind(path).is_none() {
            return Err(PlotError::BadArgument(format!(
                "--save {}: give a .png or .svg file name",
                path.display()
            )));
        }
    }
    if let Some(path) = &args.screenshot {
        if export::image_kind(path) != Some(export::ImageKind::Png) {
            return Err(PlotError::BadArgument(format!(
                "--screenshot {}: give a .png file name",
                path.display()
            )));
        }
    }
    for (option, path) in [
        ("--save", &args.save),
        ("--export", &args.export),
        ("--screenshot", &args.screenshot),
    ] {
        let Some(path) = path else { continue };
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(PlotError::NoFolder {
                option,
                path: path.clone(),
                folder: folder.to_path_buf(),
            });
        }
    }
    Ok(())
}

fn scanner_index(args: &Args) -> Result<Option<ScannerIndex>, PlotError> {
    args.scanner_index
        .map(|i| {
            ScannerIndex::try_from(i)
                .map_err(|e| PlotError::ScannerIndex(format!("--scanner-index {i}: {e}")))
        })
        .transpose()
}

/// "1 to 21" or "1 to 21 (of 30 planned)".
fn step_range(data: &ScanData, count: usize) -> String {
    match data.planned {
        Some(p) if p > count => format!("1 to {p} (planned; {count} written so far)"),
        _ => format!("1 to {count}"),
    }
}

/// The step options against the file: within its steps (or the planned
/// ones, while a daemon still writes it), first not after last.
fn check_steps(args: &Args, data: &ScanData) -> Result<(), PlotError> {
    let written = data.steps.len();
    let count = data.planned.unwrap_or(0).max(written);
    let numbers = data
        .steps
        .iter()
        .map(|s| s.number)
        .max()
        .unwrap_or(0)
        .max(count);
    let bad = |what: String| Err(PlotError::BadArgument(what));
    for (option, value) in [("--first", Some(args.first)), ("--last", args.last)] {
        if let Some(v) = value {
            if v > count {
                return bad(format!(
                    "{option} {v}: the file's steps are {}; give one of them",
                    step_range(data, written)
                ));
            }
        }
    }
    if let Some(last) = args.last {
        if args.first > last {
            return bad(format!(
                "--first {} is after --last {last}: give --first at most --last",
                args.first
            ));
        }
    }
    if let Some(&v) = args.deselect.iter().find(|&&v| v > numbers) {
        return bad(format!(
            "--deselect {v}: the file's steps are {}; give step numbers among them",
            step_range(data, written)
        ));
    }
    Ok(())
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
    check_steps(args, &data)?;
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
    let mut patience = Patience::default();
    let mut last = Ok(());
    let mut retry = false;
    loop {
        // The status before the data: once it says finished, the render
        // that follows (or the last one, if nothing changed) shows the end.
        // A file that cannot be opened now is taken as still being written.
        let running = match exit_status(&args.file_path) {
            Ok(status) => status.as_deref() == Some("Running"),
            Err(_) => args.file_path.exists(),
        };
        let modified = std::fs::metadata(&args.file_path)
            .and_then(|m| m.modified())
            .ok();
        if seen.is_none() || modified != seen || retry {
            seen = modified;
            last = render_once(args, index);
            retry = false;
            match &last {
                Ok(()) => patience.succeeded(),
                // While a daemon writes, a read can land mid-step, or there
                // are not 5 points yet: quietly try again.
                Err(e) if running && e.may_pass() => {
                    retry = true;
                    if !e.is_unreadable() {
                        patience.succeeded();
                    } else {
                        match patience.failed(Instant::now()) {
                            Verdict::Retry => {}
                            Verdict::Report => eprintln!(
                                "fws-plot: {} has been unreadable for {} s ({e}); still \
                                 retrying while it is written (Ctrl-C to stop)",
                                args.file_path.display(),
                                plot_cli::follow::REPORT_AFTER.as_secs()
                            ),
                            Verdict::GiveUp => {
                                return Err(PlotError::Unreadable {
                                    path: args.file_path.clone(),
                                    seconds: patience.failing_for(Instant::now()).as_secs(),
                                    reason: e.to_string(),
                                })
                            }
                        }
                    }
                }
                // Anything else (a missing file, bad arguments) stays.
                Err(_) => return last,
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
    check_steps(args, &data)?;
    let (settings, deselected) = settings(args, data.steps.len());
    let profile = analyse(&data, &settings, &deselected);
    if let Some(path) = &args.save {
        export::image(path, &data, &profile, &settings)?;
    }
    if let Some(path) = &args.export {
        export::write_text(path, &export::csv(&data, &profile, &settings))?;
    }
    let selected = profile.points.iter().filter(|p| p.selected).count();
    // The fit's parameters when there is one; why not is the error below.
    let fitted = match &profile.fit {
        Ok(fit) => format!("; {}", one_line(&parameter_lines(fit))),
        Err(_) => String::new(),
    };
    eprintln!(
        "fws-plot: {} steps of {} ({}), {} points{fitted}",
        data.steps.len(),
        data.channel,
        data.trace_name.rsplit(':').next().unwrap_or_default(),
        profile.points.len(),
    );
    // The outputs are written either way; no fit is still an error.
    match &profile.fit {
        Ok(_) => Ok(()),
        Err(_) if selected < fitting::MIN_POINTS => Err(PlotError::TooFewPoints(selected)),
        Err(why) => Err(PlotError::Fit(why.clone())),
    }
}
