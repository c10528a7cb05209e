//! Headless output: both views in one PNG or SVG (plotters), and the
//! profile points, selection and fit as CSV.

use crate::analysis::{parameter_text, Profile, Settings};
use crate::scan_file::{PlotError, ScanData};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Once;

/// Size of an exported image: both views side by side.
pub const IMAGE_SIZE: (u32, u32) = (1600, 700);
const FONT: &str = "sans-serif";

/// The settings as one line (titles, CSV header, logs).
pub fn settings_line(settings: &Settings, steps: usize) -> String {
    let onoff = |b: bool| if b { "on" } else { "off" };
    let roi = if settings.roi_percent > 0.0 {
        format!("{} %", settings.roi_percent)
    } else {
        "auto".into()
    };
    format!(
        "ROI {roi}, steps {}-{} of {steps}, Norm {}, Offset {}, Filter {}",
        settings.first,
        settings.last.min(steps),
        onoff(settings.normalize),
        onoff(settings.offset),
        onoff(settings.filter)
    )
}

/// The CSV: `kind,label,x,y,z` rows. `point,<step>,<centroid mm>,<integral
/// V·mm>,<1 selected|0>`; `param,<amplitude|mean|sigma|offset|fwhm|red_chi2>,
/// <value>,<standard error>,`; `curve,,<x mm>,<y>,`.
pub fn csv(data: &ScanData, profile: &Profile, settings: &Settings) -> String {
    let mut out = format!(
        "# fws-plot {}: channel {} ({}), {}\nkind,label,x,y,z\n",
        data.path.display(),
        data.channel,
        data.trace_name,
        settings_line(settings, data.steps.len())
    );
    for p in &profile.points {
        let _ = writeln!(
            out,
            "point,{},{:?},{:?},{}",
            p.step,
            p.centroid,
            p.integral,
            u8::from(p.selected)
        );
    }
    if let Ok(fit) = &profile.fit {
        let e = &fit.errors;
        let err = |v: Option<f64>| v.map(|v| format!("{v:?}")).unwrap_or_default();
        for (name, value, error) in [
            ("amplitude", fit.params.amplitude, err(e.amplitude)),
            ("mean", fit.params.mean, err(e.mean)),
            ("sigma", fit.params.sigma, err(e.sigma)),
            ("offset", fit.params.offset, err(e.offset)),
            (
                "fwhm",
                fit.fwhm,
                err(e.sigma.map(|s| s * fitting::FWHM_PER_SIGMA)),
            ),
            (
                "red_chi2",
                fit.quality.reduced_chi_square.unwrap_or(f64::NAN),
                String::new(),
            ),
        ] {
            let _ = writeln!(out, "param,{name},{value:?},{error},");
        }
    }
    for (x, y) in &profile.curve {
        let _ = writeln!(out, "curve,,{x:?},{y:?},");
    }
    out
}

/// Writes `text` to `path`.
pub fn write_text(path: &Path, text: &str) -> Result<(), PlotError> {
    std::fs::write(path, text).map_err(|e| PlotError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // egui's own font: the export and the window draw with the same face,
        // and no system font is needed.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Renders both views into `path` (`.png` or `.svg`).
pub fn image(
    path: &Path,
    data: &ScanData,
    profile: &Profile,
    settings: &Settings,
) -> Result<(), PlotError> {
    register_font();
    let failed = |e: String| PlotError::Write {
        path: path.to_path_buf(),
        reason: e,
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => {
            let root = BitMapBackend::new(path, IMAGE_SIZE).into_drawing_area();
            draw(&root, data, profile, settings).map_err(failed)?;
            root.present().map_err(|e| failed(e.to_string()))
        }
        "svg" => {
            let root = SVGBackend::new(path, IMAGE_SIZE).into_drawing_area();
            draw(&root, data, profile, settings).map_err(failed)?;
            root.present().map_err(|e| failed(e.to_string()))
        }
        _ => Err(failed("--save takes a .png or .svg file name".to_string())),
    }
}

fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.08
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - pad, hi + pad)
}

type Axes<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One view's titled axes with their grid, over `(x0, x1, y0, y1)`.
fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: String,
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    (x_desc, y_desc): (&str, &str),
) -> Result<Axes<'a, DB>, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 24).into_font())
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(e)?;
    Ok(chart)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ScanData,
    profile: &Profile,
    settings: &Settings,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (top, footer) = root.split_vertically(IMAGE_SIZE.1 - 30);
    footer
        .draw(&Text::new(
            format!(
                "{}  ·  {}",
                data.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                settings_line(settings, data.steps.len())
            ),
            (10, 5),
            (FONT, 16).into_font().color(&BLACK.mix(0.7)),
        ))
        .map_err(e)?;
    let (left, right) = top.split_horizontally(IMAGE_SIZE.0 / 2);

    // The profile: integral against centroid, labelled by step, with the fit.
    let (x0, x1) = span(
        profile
            .points
            .iter()
            .map(|p| p.centroid)
            .chain(profile.curve.iter().map(|c| c.0)),
    );
    let (y0, y1) = span(
        profile
            .points
            .iter()
            .map(|p| p.integral)
            .chain(profile.curve.iter().map(|c| c.1)),
    );
    let mut chart = axes(
        &left,
        format!("Intensity Profile: {}", data.channel),
        (x0, x1, y0, y1),
        ("Centroid Position (mm)", "Profile Area (V·mm)"),
    )?;
    let crimson = RGBColor(220, 20, 60);
    let gray = RGBColor(190, 190, 190);
    let navy = RGBColor(0, 0, 128);
    chart
        .draw_series(profile.points.iter().map(|p| {
            let color = if p.selected { crimson } else { gray };
            Circle::new((p.centroid, p.integral), 5, color.filled())
        }))
        .map_err(e)?;
    chart
        .draw_series(profile.points.iter().map(|p| {
            Text::new(
                p.step.to_string(),
                (p.centroid, p.integral),
                (FONT, 14).into_font().color(&BLACK.mix(0.85)),
            )
        }))
        .map_err(e)?;
    if !profile.curve.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                profile.curve.iter().copied(),
                8,
                5,
                navy.stroke_width(2),
            ))
            .map_err(e)?;
    }
    for (i, line) in parameter_text(&profile.fit).iter().enumerate() {
        left.draw(&Text::new(
            line.clone(),
            (95, 60 + 20 * i as i32),
            (FONT, 16).into_font(),
        ))
        .map_err(e)?;
    }

    // The ROI waveforms of every step shown, labelled at their peaks.
    let (wx0, wx1) = span(profile.traces.iter().flat_map(|t| t.x.iter().copied()));
    let (wy0, wy1) = span(profile.traces.iter().flat_map(|t| t.y.iter().copied()));
    let mut waves = axes(
        &right,
        format!("ROI Waveforms: {}", data.channel),
        (wx0, wx1, wy0, wy1),
        ("Position (mm)", "Intensity (V)"),
    )?;
    for (i, trace) in profile.traces.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        waves
            .draw_series(LineSeries::new(
                trace.x.iter().copied().zip(trace.y.iter().copied()),
                color.stroke_width(2),
            ))
            .map_err(e)?;
        waves
            .draw_series(std::iter::once(Text::new(
                trace.step.to_string(),
                trace.peak,
                (FONT, 14).into_font().color(&color),
            )))
            .map_err(e)?;
    }
    Ok(())
}
