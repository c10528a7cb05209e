//! Both views drawn with plotters, as the window shows them: the profile
//! (points in and out of the fit, the dashed fit, step labels beside their
//! markers, a boxed legend with the fit's parameters and units) and the ROI
//! waveforms (one colour per step, labelled at their peaks), with a footer
//! naming the file and the settings.
//!
//! Every length is in logical pixels times `scale`: the PNG is drawn at
//! twice its size and averaged down (plotters draws without anti-aliasing),
//! the SVG at 1.

use crate::analysis::{parameter_text, Profile, Settings};
use crate::glyphs::{text_size, MONO, SANS};
use crate::labels::{emptiest_corner, peak_layout, profile_layout, Rect, MARKER};
use crate::palette::{self, Rgb};
use crate::scan_file::ScanData;
use crate::ticks::{self, Ticks};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Size of an exported image (logical pixels): both views side by side.
pub const SIZE: (u32, u32) = (1800, 820);

/// The profile's axis titles (the window's too).
pub const PROFILE_AXES: (&str, &str) = ("Centroid Position (mm)", "Profile Area (V*mm)");
/// The ROI view's axis titles.
pub const ROI_AXES: (&str, &str) = ("Position (mm)", "Intensity (V)");

const FOOTER: f64 = 36.0;
const MARGIN: f64 = 14.0;
const X_LABEL_AREA: f64 = 58.0;
const Y_LABEL_AREA: f64 = 82.0;
const CAPTION: f64 = 24.0;
const TICK_FONT: f64 = 16.0;
const DESC_FONT: f64 = 18.0;
const LABEL_FONT: f64 = 14.0;
const BOX_FONT: f64 = 15.0;
/// Labelled ticks at least this far apart (logical pixels).
const TICK_SPACING: (f64, f64) = (90.0, 50.0);

/// Where things were drawn (logical pixels, y down), for the tests.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    /// Each profile point's marker centre, by step.
    pub markers: Vec<(usize, (f64, f64))>,
    /// The profile's step labels placed, by step.
    pub labels: Vec<(usize, Rect)>,
    /// The legend and parameter box.
    pub legend: Option<Rect>,
    /// The profile's plotting area.
    pub plot: Option<Rect>,
    /// The ROI view's peak labels placed, by step.
    pub peak_labels: Vec<(usize, Rect)>,
    /// The fit curve as drawn.
    pub curve: Vec<(f64, f64)>,
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// An f64 axis whose grid lines are [`ticks::ticks`]' (plotters' own key
/// points are not 1-2-5 and its `WithKeyPoints` loses the formatter).
#[derive(Clone)]
struct Ticked {
    inner: RangedCoordf64,
    ticks: Ticks,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.ticks.minor.clone()
        } else {
            self.ticks.major.clone()
        }
    }
}

type Axes<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// A view's value range: the data with a margin, `top` extra headroom.
fn span(values: impl Iterator<Item = f64>, top: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let width = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.06 * width, hi + (0.06 + top) * width)
}

struct View<'t> {
    title: String,
    x: (f64, f64),
    y: (f64, f64),
    desc: (&'t str, &'t str),
}

/// One view's axes: titled, with 1-2-5 ticks numbered at their decimals.
fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    scale: f64,
    view: View<'_>,
) -> Result<Axes<'a, DB>, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, h) = area.dim_in_pixel();
    // The plotting area's size, known before plotters lays it out.
    let plot_w = f64::from(w) - scale * (2.0 * MARGIN + Y_LABEL_AREA);
    let plot_h = f64::from(h) - scale * (2.0 * MARGIN + X_LABEL_AREA + CAPTION * 1.6);
    let xt = ticks::ticks(view.x.0, view.x.1, plot_w, scale * TICK_SPACING.0);
    let yt = ticks::ticks(view.y.0, view.y.1, plot_h, scale * TICK_SPACING.1);
    let with = |t: &Ticks, lo: f64, hi: f64| Ticked {
        inner: (lo..hi).into(),
        ticks: t.clone(),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            view.title,
            (SANS, scale * CAPTION)
                .into_font()
                .color(&rgb(palette::TEXT)),
        )
        .margin((scale * MARGIN) as u32)
        .x_label_area_size((scale * X_LABEL_AREA) as u32)
        .y_label_area_size((scale * Y_LABEL_AREA) as u32)
        .build_cartesian_2d(with(&xt, view.x.0, view.x.1), with(&yt, view.y.0, view.y.1))
        .map_err(e)?;
    let (xs, ys) = (xt.step, yt.step);
    let fx = move |v: &f64| ticks::label(*v, xs);
    let fy = move |v: &f64| ticks::label(*v, ys);
    let text = rgb(palette::TEXT);
    chart
        .configure_mesh()
        .x_desc(view.desc.0)
        .y_desc(view.desc.1)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style((SANS, scale * TICK_FONT).into_font().color(&text))
        .axis_desc_style((SANS, scale * DESC_FONT).into_font().color(&text))
        .bold_line_style(BLACK.mix(0.14).stroke_width(scale.round() as u32))
        .light_line_style(BLACK.mix(0.05).stroke_width(scale.round() as u32))
        .axis_style(BLACK.mix(0.7).stroke_width(scale.round() as u32))
        .set_all_tick_mark_size((scale * 5.0) as u32)
        .draw()
        .map_err(e)?;
    Ok(chart)
}

fn plot_rect<DB: DrawingBackend>(chart: &Axes<'_, DB>) -> Rect {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    Rect {
        min: (f64::from(xr.start), f64::from(yr.start)),
        max: (f64::from(xr.end), f64::from(yr.end)),
    }
}

fn px<DB: DrawingBackend>(chart: &Axes<'_, DB>, x: f64, y: f64) -> (f64, f64) {
    let (a, b) = chart.backend_coord(&(x, y));
    (f64::from(a), f64::from(b))
}

/// How a figure is drawn: its lengths' scale, and how much wider than
/// measured the viewer's text may come out (an SVG is shown in whatever
/// sans-serif the viewer has, often wider than egui's face).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Pixels per logical pixel.
    pub scale: f64,
    /// Label boxes are this many times the measured text.
    pub text_slack: f64,
}

impl Target {
    /// The PNG: drawn at twice its size, text drawn as measured.
    pub const PNG: Target = Target {
        scale: 2.0,
        text_slack: 1.0,
    };
    /// The SVG: at its size; DejaVu Sans, a common fallback, is 15 % wider.
    pub const SVG: Target = Target {
        scale: 1.0,
        text_slack: 1.15,
    };
}

/// Draws both views and the footer on `root`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    target: Target,
    data: &ScanData,
    profile: &Profile,
    settings: &Settings,
) -> Result<Drawn, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let scale = target.scale;
    root.fill(&WHITE).map_err(e)?;
    let (_, height) = root.dim_in_pixel();
    let (top, footer) = root.split_vertically(height - (scale * FOOTER) as u32);
    footer
        .draw(&Text::new(
            footer_text(data, settings),
            ((scale * MARGIN) as i32, (scale * FOOTER / 2.0) as i32),
            (SANS, scale * 15.0)
                .into_font()
                .color(&rgb(palette::MUTED))
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(e)?;
    let (width, _) = top.dim_in_pixel();
    let (left, right) = top.split_horizontally(width / 2);
    let mut drawn = draw_profile(&left, target, data, profile)?;
    drawn.peak_labels = draw_waves(&right, target, data, profile)?;
    // Back to logical pixels.
    let un = |p: (f64, f64)| (p.0 / scale, p.1 / scale);
    let un_rect = |r: Rect| Rect {
        min: un(r.min),
        max: un(r.max),
    };
    drawn.markers.iter_mut().for_each(|m| m.1 = un(m.1));
    drawn.labels.iter_mut().for_each(|l| l.1 = un_rect(l.1));
    drawn
        .peak_labels
        .iter_mut()
        .for_each(|l| l.1 = un_rect(l.1));
    drawn.curve.iter_mut().for_each(|p| *p = un(*p));
    drawn.legend = drawn.legend.map(un_rect);
    drawn.plot = drawn.plot.map(un_rect);
    Ok(drawn)
}

/// `FILE · CHANNEL (TRACE) · settings`.
pub fn footer_text(data: &ScanData, settings: &Settings) -> String {
    format!(
        "{}  ·  {} ({})  ·  {}",
        data.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        data.channel,
        data.trace_name.rsplit(':').next().unwrap_or_default(),
        crate::export::settings_line(settings, data.steps.len())
    )
}

/// The legend rows: what each mark means, then the fit's parameters (or
/// why there is no fit).
pub fn legend_rows(profile: &Profile) -> (Vec<(Mark, String)>, Vec<String>) {
    let on = profile.points.iter().filter(|p| p.selected).count();
    let off = profile.points.len() - on;
    let mut marks = vec![(Mark::Selected, format!("in the fit ({on})"))];
    if off > 0 {
        marks.push((Mark::Deselected, format!("out of the fit ({off})")));
    }
    if profile.fit.is_ok() {
        marks.push((Mark::Fit, "Gaussian fit".into()));
    }
    (marks, parameter_text(&profile.fit))
}

/// A legend row's symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A filled marker: in the fit.
    Selected,
    /// A hollow marker: out of the fit.
    Deselected,
    /// A dashed line: the Gaussian fit.
    Fit,
}

/// An absolute backend position in `area`'s own coordinates.
fn rel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: (f64, f64)) -> (i32, i32) {
    let (ox, oy) = area.get_base_pixel();
    (
        (p.0 - f64::from(ox)).round() as i32,
        (p.1 - f64::from(oy)).round() as i32,
    )
}

fn draw_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    mark: Mark,
    (x, y): (f64, f64),
    radius: f64,
    scale: f64,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let r = radius.round() as i32;
    let at = rel(area, (x, y));
    match mark {
        Mark::Selected => area
            .draw(&Circle::new(at, r, rgb(palette::SELECTED).filled()))
            .map_err(e),
        Mark::Deselected => {
            area.draw(&Circle::new(at, r, WHITE.filled())).map_err(e)?;
            area.draw(&Circle::new(
                at,
                r,
                rgb(palette::DESELECTED).stroke_width((scale * 2.0) as u32),
            ))
            .map_err(e)
        }
        Mark::Fit => {
            let style = rgb(palette::FIT).stroke_width((scale * 2.5) as u32);
            for k in [-1.0, 0.2] {
                let a = rel(area, (x + scale * 8.0 * k, y)).0;
                let b = rel(area, (x + scale * 8.0 * (k + 0.8), y)).0;
                area.draw(&PathElement::new(vec![(a, at.1), (b, at.1)], style))
                    .map_err(e)?;
            }
            Ok(())
        }
    }
}

/// The legend and parameter box's size and rows' geometry.
struct Legend {
    size: (f64, f64),
    pad: f64,
    row: f64,
    swatch: f64,
}

impl Legend {
    fn measure(marks: &[(Mark, String)], params: &[String], scale: f64) -> Self {
        let pad = scale * 8.0;
        let row = scale * BOX_FONT * 1.2;
        let swatch = scale * 22.0;
        let mark_w = marks
            .iter()
            .map(|(_, t)| swatch + text_size(SANS, scale * BOX_FONT, t).0)
            .fold(0.0, f64::max);
        let param_w = params
            .iter()
            .map(|t| text_size(MONO, scale * (BOX_FONT - 1.0), t).0)
            .fold(0.0, f64::max);
        Self {
            size: (
                mark_w.max(param_w) + 2.0 * pad,
                row * (marks.len() + params.len()) as f64 + 2.0 * pad + scale * 4.0,
            ),
            pad,
            row,
            swatch,
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        at: Rect,
        marks: &[(Mark, String)],
        params: &[String],
        scale: f64,
    ) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let corners = [rel(area, at.min), rel(area, at.max)];
        area.draw(&Rectangle::new(corners, WHITE.filled()))
            .map_err(e)?;
        area.draw(&Rectangle::new(
            corners,
            rgb(palette::FRAME).stroke_width(scale.round() as u32),
        ))
        .map_err(e)?;
        let text = rgb(palette::TEXT);
        let mut y = at.min.1 + self.pad + self.row / 2.0;
        for (mark, label) in marks {
            let centre = (at.min.0 + self.pad + self.swatch / 2.0 - scale * 3.0, y);
            draw_mark(area, *mark, centre, scale * MARKER, scale)?;
            area.draw(&Text::new(
                label.clone(),
                rel(area, (at.min.0 + self.pad + self.swatch, y)),
                (SANS, scale * BOX_FONT)
                    .into_font()
                    .color(&text)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
            y += self.row;
        }
        y += scale * 4.0;
        for line in params {
            area.draw(&Text::new(
                // SVG collapses runs of spaces; the columns need them.
                line.replace(' ', "\u{a0}"),
                rel(area, (at.min.0 + self.pad, y)),
                (MONO, scale * (BOX_FONT - 1.0))
                    .into_font()
                    .color(&text)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
            y += self.row;
        }
        Ok(())
    }
}

fn draw_profile<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    target: Target,
    data: &ScanData,
    profile: &Profile,
) -> Result<Drawn, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let scale = target.scale;
    // Headroom above the peak for its labels and the legend.
    let x = span(
        profile
            .points
            .iter()
            .map(|p| p.centroid)
            .chain(profile.curve.iter().map(|c| c.0)),
        0.0,
    );
    let y = span(
        profile
            .points
            .iter()
            .map(|p| p.integral)
            .chain(profile.curve.iter().map(|c| c.1))
            .chain(std::iter::once(0.0)),
        0.12,
    );
    let mut chart = axes(
        area,
        scale,
        View {
            title: format!("Intensity Profile: {}", data.channel),
            x,
            y,
            desc: PROFILE_AXES,
        },
    )?;
    let plot = plot_rect(&chart);
    let curve: Vec<(f64, f64)> = profile
        .curve
        .iter()
        .map(|&(x, y)| px(&chart, x, y))
        .collect();
    let markers: Vec<(usize, (f64, f64))> = profile
        .points
        .iter()
        .map(|p| (p.step, px(&chart, p.centroid, p.integral)))
        .collect();
    let (marks, params) = legend_rows(profile);
    let legend = Legend::measure(&marks, &params, scale);
    let peak_x = profile
        .fit
        .as_ref()
        .map(|f| px(&chart, f.params.mean, 0.0).0)
        .unwrap_or((plot.min.0 + plot.max.0) / 2.0);
    let label_size = |step: usize| {
        let (w, h) = text_size(SANS, scale * LABEL_FONT, &step.to_string());
        (w * target.text_slack, h)
    };
    let layout = profile_layout(
        plot,
        &markers,
        &curve,
        peak_x,
        legend.size,
        &label_size,
        scale,
    );
    // Sparse points sit on the line; dense ones would hide it, so it goes
    // on top of them.
    let draw_curve = |chart: &mut Axes<'_, DB>| -> Result<(), String> {
        if profile.curve.is_empty() {
            return Ok(());
        }
        chart
            .draw_series(DashedLineSeries::new(
                profile.curve.iter().copied(),
                (scale * 9.0) as u32,
                (scale * 5.0) as u32,
                rgb(palette::FIT).stroke_width((scale * 2.5) as u32),
            ))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    if !layout.dense {
        draw_curve(&mut chart)?;
    }
    for (p, (_, at)) in profile.points.iter().zip(&markers) {
        let mark = if p.selected {
            Mark::Selected
        } else {
            Mark::Deselected
        };
        draw_mark(area, mark, *at, layout.radius, scale)?;
    }
    if layout.dense {
        draw_curve(&mut chart)?;
    }
    legend.draw(area, layout.legend, &marks, &params, scale)?;
    let mut label_boxes = Vec::new();
    for (&(step, _), rect) in markers.iter().zip(&layout.labels) {
        let Some(rect) = rect else { continue };
        area.draw(&Text::new(
            step.to_string(),
            rel(area, rect.min),
            (SANS, scale * LABEL_FONT)
                .into_font()
                .color(&rgb(palette::LABEL)),
        ))
        .map_err(e)?;
        label_boxes.push((step, *rect));
    }
    let legend = layout.legend;
    Ok(Drawn {
        markers,
        labels: label_boxes,
        legend: Some(legend),
        plot: Some(plot),
        peak_labels: Vec::new(),
        curve,
    })
}

fn draw_waves<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    target: Target,
    data: &ScanData,
    profile: &Profile,
) -> Result<Vec<(usize, Rect)>, String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let scale = target.scale;
    let traces = &profile.traces;
    let x = span(traces.iter().flat_map(|t| t.x.iter().copied()), 0.0);
    let y = span(traces.iter().flat_map(|t| t.y.iter().copied()), 0.1);
    let mut chart = axes(
        area,
        scale,
        View {
            title: format!("ROI Waveforms: {}", data.channel),
            x,
            y,
            desc: ROI_AXES,
        },
    )?;
    let plot = plot_rect(&chart);
    let n = traces.len();
    let width = if n > 40 { 1.0 } else { 1.6 };
    for (i, t) in traces.iter().enumerate() {
        chart
            .draw_series(LineSeries::new(
                t.x.iter().copied().zip(t.y.iter().copied()),
                rgb(palette::trace_colour(i, n)).stroke_width((scale * width).round() as u32),
            ))
            .map_err(e)?;
    }
    // A key for the colour ramp when steps are told by shade.
    let mut boxes = Vec::new();
    if n > palette::DISCRETE.len() {
        let bar = (scale * 120.0, scale * 10.0);
        let first = traces.first().map_or(0, |t| t.step).to_string();
        let last = traces.last().map_or(0, |t| t.step).to_string();
        let font = scale * BOX_FONT;
        let (fw, fh) = text_size(SANS, font, &format!("step {first}"));
        let lw = text_size(SANS, font, &last).0;
        let pad = scale * 8.0;
        let size = (fw + lw + bar.0 + 4.0 * pad, fh.max(bar.1) + 2.0 * pad);
        let crowd: Vec<(f64, f64)> = traces
            .iter()
            .flat_map(|t| t.x.iter().zip(&t.y).step_by(8))
            .map(|(&x, &y)| px(&chart, x, y))
            .collect();
        let key = emptiest_corner(&plot, size, scale * 10.0, &crowd);
        let to_i = |p: (f64, f64)| rel(area, p);
        area.draw(&Rectangle::new(
            [to_i(key.min), to_i(key.max)],
            WHITE.filled(),
        ))
        .map_err(e)?;
        area.draw(&Rectangle::new(
            [to_i(key.min), to_i(key.max)],
            rgb(palette::FRAME).stroke_width(scale.round() as u32),
        ))
        .map_err(e)?;
        let mid = (key.min.1 + key.max.1) / 2.0;
        let style = |h: HPos| {
            (SANS, font)
                .into_font()
                .color(&rgb(palette::TEXT))
                .pos(Pos::new(h, VPos::Center))
        };
        area.draw(&Text::new(
            format!("step {first}"),
            to_i((key.min.0 + pad, mid)),
            style(HPos::Left),
        ))
        .map_err(e)?;
        let x0 = key.min.0 + 2.0 * pad + fw;
        let slices = (bar.0 as usize).max(1);
        for s in 0..slices {
            let i = s * (n - 1) / slices.max(2).saturating_sub(1).max(1);
            let c = rgb(palette::trace_colour(i.min(n - 1), n));
            let xa = x0 + s as f64;
            area.draw(&Rectangle::new(
                [
                    to_i((xa, mid - bar.1 / 2.0)),
                    to_i((xa + 1.0, mid + bar.1 / 2.0)),
                ],
                c.filled(),
            ))
            .map_err(e)?;
        }
        area.draw(&Text::new(
            last,
            to_i((x0 + bar.0 + pad, mid)),
            style(HPos::Left),
        ))
        .map_err(e)?;
        boxes.push(key);
    }
    // Peak labels in their trace's colour (darkened to read), on a white
    // ground where traces cross them.
    let peaks: Vec<(usize, (f64, f64))> = traces
        .iter()
        .map(|t| (t.step, px(&chart, t.peak.0, t.peak.1)))
        .collect();
    let label_size = |step: usize| {
        let (w, h) = text_size(SANS, scale * LABEL_FONT, &step.to_string());
        (w * target.text_slack, h)
    };
    let placed = peak_layout(plot, &peaks, boxes, &label_size, scale);
    let to_i = |p: (f64, f64)| rel(area, p);
    let mut out = Vec::new();
    for (i, (&(step, _), rect)) in peaks.iter().zip(placed).enumerate() {
        let Some(rect) = rect else { continue };
        let ground = rect.expand(scale);
        area.draw(&Rectangle::new(
            [to_i(ground.min), to_i(ground.max)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(e)?;
        area.draw(&Text::new(
            step.to_string(),
            to_i(rect.min),
            (SANS, scale * LABEL_FONT)
                .into_font()
                .color(&rgb(palette::text_colour(palette::trace_colour(i, n)))),
        ))
        .map_err(e)?;
        out.push((step, rect));
    }
    Ok(out)
}
