//! Headless output: both views in one PNG or SVG ([`crate::figure`]),
//! and the profile points, selection and fit as CSV.

use crate::analysis::{Profile, Settings};
use crate::figure::{self, Drawn};
use crate::format::{INTEGRAL_UNIT, POSITION_UNIT};
use crate::glyphs::{GlyphText, SANS};
use crate::scan_file::{PlotError, ScanData};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Once;

/// Size of an exported image: both views side by side.
pub const IMAGE_SIZE: (u32, u32) = figure::SIZE;
/// The PNG is drawn this many times larger and averaged down: plotters
/// draws lines, circles and fills without anti-aliasing.
const SUPERSAMPLE: u32 = figure::Target::PNG.scale as u32;

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
/// V*mm>,<1 selected|0>`; `param,<amplitude|mean|sigma|offset|fwhm|red_chi2>,
/// <value>,<standard error>,<unit>`; `curve,,<x mm>,<y V*mm>,`.
pub fn csv(data: &ScanData, profile: &Profile, settings: &Settings) -> String {
    let mut out = format!(
        "# fws-plot {}: channel {} ({}), {}; point x = centroid ({POSITION_UNIT}), \
         y = integral ({INTEGRAL_UNIT})\nkind,label,x,y,z\n",
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
        let chi2_unit = format!("({INTEGRAL_UNIT})^2");
        for (name, value, error, unit) in [
            (
                "amplitude",
                fit.params.amplitude,
                err(e.amplitude),
                INTEGRAL_UNIT,
            ),
            ("mean", fit.params.mean, err(e.mean), POSITION_UNIT),
            ("sigma", fit.params.sigma, err(e.sigma), POSITION_UNIT),
            ("offset", fit.params.offset, err(e.offset), INTEGRAL_UNIT),
            (
                "fwhm",
                fit.fwhm,
                err(e.sigma.map(|s| s * fitting::FWHM_PER_SIGMA)),
                POSITION_UNIT,
            ),
            (
                "red_chi2",
                fit.quality.reduced_chi_square.unwrap_or(f64::NAN),
                String::new(),
                chi2_unit.as_str(),
            ),
        ] {
            let _ = writeln!(out, "param,{name},{value:?},{error},{unit}");
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
        // The SVG's text boxes are measured by plotters' own font table;
        // egui's face, as the PNG and the window draw with.
        let _ = plotters::style::register_font(
            SANS,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
        let _ = plotters::style::register_font(
            crate::glyphs::MONO,
            FontStyle::Normal,
            epaint_default_fonts::HACK_REGULAR,
        );
    });
}

/// Both views as an SVG document, and where things went.
pub fn render_svg(
    data: &ScanData,
    profile: &Profile,
    settings: &Settings,
) -> Result<(String, Drawn), String> {
    register_font();
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, IMAGE_SIZE).into_drawing_area();
        let drawn = figure::draw(&root, figure::Target::SVG, data, profile, settings)?;
        root.present().map_err(|e| e.to_string())?;
        drawn
    };
    Ok((svg, drawn))
}

/// Both views as PNG bytes, and where things went.
pub fn render_png(
    data: &ScanData,
    profile: &Profile,
    settings: &Settings,
) -> Result<(Vec<u8>, Drawn), String> {
    register_font();
    let (w, h) = IMAGE_SIZE;
    let (bw, bh) = (w * SUPERSAMPLE, h * SUPERSAMPLE);
    let mut big = vec![255u8; (bw * bh * 3) as usize];
    let drawn = {
        let backend = GlyphText::new(BitMapBackend::with_buffer(&mut big, (bw, bh)));
        let root = backend.into_drawing_area();
        let drawn = figure::draw(&root, figure::Target::PNG, data, profile, settings)?;
        root.present().map_err(|e| e.to_string())?;
        drawn
    };
    let small = downsample(&big, (bw, bh), SUPERSAMPLE);
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&small).map_err(|e| e.to_string())?;
    }
    Ok((bytes, drawn))
}

/// Averages `k` x `k` blocks of an RGB image.
fn downsample(big: &[u8], (bw, bh): (u32, u32), k: u32) -> Vec<u8> {
    let (w, h) = ((bw / k) as usize, (bh / k) as usize);
    let (bw, k) = (bw as usize, k as usize);
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut sum = 0u32;
                for dy in 0..k {
                    for dx in 0..k {
                        sum += u32::from(big[((y * k + dy) * bw + x * k + dx) * 3 + c]);
                    }
                }
                out[(y * w + x) * 3 + c] = ((sum + (k * k / 2) as u32) / (k * k) as u32) as u8;
            }
        }
    }
    out
}

/// Renders both views into `path` (`.png` or `.svg`).
pub fn image(
    path: &Path,
    data: &ScanData,
    profile: &Profile,
    settings: &Settings,
) -> Result<(), PlotError> {
    let failed = |reason: String| PlotError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = match image_kind(path) {
        Some(ImageKind::Png) => render_png(data, profile, settings).map_err(failed)?.0,
        Some(ImageKind::Svg) => render_svg(data, profile, settings)
            .map_err(failed)?
            .0
            .into_bytes(),
        None => return Err(failed("--save takes a .png or .svg file name".into())),
    };
    std::fs::write(path, bytes).map_err(|e| failed(e.to_string()))
}

/// The image formats `--save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// `.png`.
    Png,
    /// `.svg`.
    Svg,
}

/// The format `path`'s extension names, if one `--save` writes.
pub fn image_kind(path: &Path) -> Option<ImageKind> {
    let ext = path.extension()?.to_string_lossy().to_lowercase();
    match ext.as_str() {
        "png" => Some(ImageKind::Png),
        "svg" => Some(ImageKind::Svg),
        _ => None,
    }
}
