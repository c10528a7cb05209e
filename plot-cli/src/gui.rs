//! The window: the profile view and the ROI-waveform view side by side
//! (egui/eframe with egui_plot), under the reference's controls. Every
//! number comes from [`crate::analysis`], as in the headless export.

use crate::analysis::{analyse, Profile, Settings};
use crate::figure::{legend_rows, Mark, PROFILE_AXES, ROI_AXES};
use crate::follow::{Patience, Verdict};
use crate::format::INTEGRAL_UNIT;
use crate::labels::{self, Rect, MARKER};
use crate::palette::{self, Rgb};
use crate::scan_file::{read_scan, IopsChannel, PlotError, ScanData};
use crate::ticks;
use eframe::egui::{self, Color32, FontId, Painter, Pos2, Rangef, Stroke, Vec2};
use egui_plot::{
    AxisHints, GridInput, GridMark, Line, Plot, PlotPoint, PlotPoints, PlotTransform, PlotUi,
    Points,
};
use planner::ScannerIndex;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Where the window's data comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The scan file.
    pub path: PathBuf,
    /// The channel asked for.
    pub channel: String,
    /// x: CH1 or CH2.
    pub iops: IopsChannel,
    /// The scanner index, if given.
    pub index: Option<ScannerIndex>,
}

/// How the window runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Re-read the file when it changes.
    pub follow: bool,
    /// Save a screenshot of the first settled frame here, then close.
    pub screenshot: Option<PathBuf>,
}

/// The window's size (logical points).
pub const WINDOW_SIZE: [f32; 2] = [1400.0, 800.0];
/// Frames drawn before the screenshot (layout and fonts settle).
const FRAMES_BEFORE_SCREENSHOT: u32 = 5;

/// Labelled ticks at least this far apart (points): x labels are wider.
const TICK_SPACING: (f64, f64) = (70.0, 40.0);
/// Grid lines closer than this are not drawn; their strength grows to the
/// upper end (egui_plot takes its square root: minor lines ~20 points apart
/// come out at a tenth of the text colour, numbered ones at a quarter).
const GRID_SPACING: (f32, f32) = (6.0, 1500.0);
/// Step labels' and the legend's font sizes (points).
const LABEL_FONT: f32 = 12.0;
const BOX_FONT: f32 = 13.0;

fn c32(c: Rgb) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// What a drag in the profile view does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DragMode {
    /// Pan (and scroll to zoom): egui_plot's own.
    Pan,
    /// Toggle the points in a box.
    Box,
    /// Toggle the points inside a drawn outline.
    Lasso,
}

struct App {
    source: Source,
    options: Options,
    data: ScanData,
    settings: Settings,
    deselected: BTreeSet<usize>,
    profile: Profile,
    stale: bool,
    drag: DragMode,
    outline: Vec<PlotPoint>,
    modified: Option<SystemTime>,
    checked: Instant,
    status: String,
    frames: u32,
    shot_requested: bool,
    outcome: Arc<Mutex<Result<(), PlotError>>>,
    /// The profile view's last mapping between plot and screen (the
    /// interaction tests aim with it).
    profile_transform: Option<PlotTransform>,
    /// The ROI view's.
    roi_transform: Option<PlotTransform>,
    /// How long `--follow` has failed to read the file.
    patience: Patience,
}

/// Opens the window (blocks until it is closed).
pub fn run(
    source: Source,
    data: ScanData,
    settings: Settings,
    deselected: BTreeSet<usize>,
    options: Options,
) -> Result<(), PlotError> {
    let outcome = Arc::new(Mutex::new(Ok(())));
    let title = format!(
        "fws-plot: {} ({})",
        data.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        data.channel
    );
    let app = App::new(
        source,
        data,
        settings,
        deselected,
        options,
        Arc::clone(&outcome),
    );
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size(WINDOW_SIZE)
            .with_title(title.clone()),
        ..Default::default()
    };
    let start = |cc: &eframe::CreationContext<'_>| -> Result<Box<dyn eframe::App>, _> {
        // White like the reference's figures (and the exported images).
        cc.egui_ctx.set_theme(egui::Theme::Light);
        Ok(Box::new(app))
    };
    eframe::run_native(&title, native, Box::new(start)).map_err(|e| {
        PlotError::Window(format!(
            "cannot open the window ({e}); without a display use --save or --export"
        ))
    })?;
    let result = std::mem::replace(
        &mut *outcome.lock().unwrap_or_else(|p| p.into_inner()),
        Ok(()),
    );
    result
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl App {
    fn new(
        source: Source,
        data: ScanData,
        settings: Settings,
        deselected: BTreeSet<usize>,
        options: Options,
        outcome: Arc<Mutex<Result<(), PlotError>>>,
    ) -> Self {
        let profile = analyse(&data, &settings, &deselected);
        Self {
            modified: modified(&source.path),
            source,
            options,
            data,
            settings,
            deselected,
            profile,
            stale: false,
            drag: DragMode::Pan,
            outline: Vec::new(),
            checked: Instant::now(),
            status: String::new(),
            frames: 0,
            shot_requested: false,
            outcome,
            profile_transform: None,
            roi_transform: None,
            patience: Patience::default(),
        }
    }

    /// Whether this run captures a screenshot: its frames must not show
    /// where the pointer happens to be (under Xvfb it starts mid-screen,
    /// over a plot, which then draws its hover tooltip and crosshair).
    fn hides_pointer(&self) -> bool {
        self.options.screenshot.is_some()
    }

    /// One frame of the whole window.
    fn ui(&mut self, ctx: &egui::Context) {
        self.reload_if_changed();
        if self.stale {
            self.profile = analyse(&self.data, &self.settings, &self.deselected);
            self.stale = false;
        }
        egui::TopBottomPanel::top("controls").show(ctx, |ui| self.controls(ui));
        egui::CentralPanel::default().show(ctx, |ui| {
            ui.columns(2, |columns| {
                columns[0].heading(format!("Intensity Profile: {}", self.data.channel));
                self.profile_view(&mut columns[0]);
                columns[1].heading(format!("ROI Waveforms: {}", self.data.channel));
                self.roi_view(&mut columns[1]);
            });
        });
        if self.options.follow {
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        self.screenshot(ctx);
    }

    fn reload_if_changed(&mut self) {
        if !self.options.follow || self.checked.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.checked = Instant::now();
        let now = modified(&self.source.path);
        if now == self.modified {
            return;
        }
        let s = &self.source;
        match read_scan(&s.path, &s.channel, s.iops, s.index) {
            Ok(data) => {
                let grew = data.steps.len() > self.data.steps.len();
                // Following a growing scan: keep showing up to its last step.
                if grew && self.settings.last >= self.data.steps.len() {
                    self.settings.last = data.steps.len();
                }
                self.data = data;
                self.modified = now;
                self.stale = true;
                self.status.clear();
                self.patience.succeeded();
            }
            // Mid-write, or not a step more yet: quietly look again (the
            // file's time is not taken, so the next look reads it again).
            Err(e) if e.may_pass() && !e.is_unreadable() => {}
            Err(e) => match self.patience.failed(Instant::now()) {
                Verdict::Retry => {}
                Verdict::Report | Verdict::GiveUp => {
                    self.status = format!(
                        "cannot read the file for {} s: {e}",
                        self.patience.failing_for(Instant::now()).as_secs()
                    )
                }
            },
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let steps = self.data.steps.len().max(1);
        let before = (self.settings.clone(), self.deselected.clone());
        ui.horizontal(|ui| {
            ui.add(
                egui::Slider::new(&mut self.settings.roi_percent, 0.0..=100.0)
                    .step_by(0.1)
                    .text("ROI %"),
            );
            if ui.button("Auto ROI").clicked() {
                self.settings.roi_percent = 0.0;
            }
            ui.separator();
            ui.add(egui::Slider::new(&mut self.settings.first, 1..=steps).text("Scan Start"));
            ui.add(egui::Slider::new(&mut self.settings.last, 1..=steps).text("Scan End"));
            if self.settings.first > self.settings.last {
                self.settings.last = self.settings.first;
            }
        });
        ui.horizontal(|ui| {
            let onoff = |b: bool| if b { "ON" } else { "OFF" };
            let (n, o, f) = (
                self.settings.normalize,
                self.settings.offset,
                self.settings.filter,
            );
            ui.toggle_value(&mut self.settings.normalize, format!("Norm: {}", onoff(n)));
            ui.toggle_value(&mut self.settings.offset, format!("Offset: {}", onoff(o)));
            ui.toggle_value(&mut self.settings.filter, format!("Filter: {}", onoff(f)));
            ui.separator();
            ui.label("Drag:");
            ui.radio_value(&mut self.drag, DragMode::Pan, "pan");
            ui.radio_value(&mut self.drag, DragMode::Box, "box select");
            ui.radio_value(&mut self.drag, DragMode::Lasso, "lasso");
            if ui.button("Select all").clicked() {
                self.deselected.clear();
            }
            ui.separator();
            ui.label(format!(
                "{} steps, {} ({}); click a point to toggle it",
                self.data.steps.len(),
                self.data.channel,
                self.data.trace_name.rsplit(':').next().unwrap_or_default()
            ));
            if !self.status.is_empty() {
                ui.colored_label(Color32::DARK_RED, &self.status);
            }
        });
        if (self.settings.clone(), self.deselected.clone()) != before {
            self.stale = true;
        }
    }

    fn profile_view(&mut self, ui: &mut egui::Ui) {
        let points = self.profile.points.clone();
        let hover_points = points.clone();
        let curve: Vec<[f64; 2]> = self.profile.curve.iter().map(|&(x, y)| [x, y]).collect();
        let selecting = self.drag != DragMode::Pan;
        let outline = self.outline.clone();
        // The fit's peak can stand a little above the highest point.
        let top = curve.iter().map(|c| c[1]).fold(f64::NEG_INFINITY, f64::max);
        let mut view = plot("profile", PROFILE_AXES);
        if top.is_finite() {
            view = view.include_y(top);
        }
        let response = view
            .allow_drag(!selecting)
            .allow_boxed_zoom(!selecting)
            .label_formatter(move |_, at| hover_label(&hover_points, at))
            .show(ui, |plot| {
                // The plot's bounds and hover come from these dots; the
                // marks are painted over them below, laid out as the export
                // lays them out (a transparent item would get egui_plot's
                // automatic colour).
                let xy: PlotPoints = points.iter().map(|p| [p.centroid, p.integral]).collect();
                plot.points(
                    Points::new("points", xy)
                        .color(c32(palette::SELECTED))
                        .radius(1.0),
                );
                if outline.len() > 1 {
                    let mut ring: Vec<[f64; 2]> = outline.iter().map(|p| [p.x, p.y]).collect();
                    ring.push(ring[0]);
                    plot.line(Line::new("", PlotPoints::from(ring)).color(Color32::BLACK));
                }
                self.interact(plot)
            });
        self.profile_transform = Some(response.transform);
        paint_profile(ui, &response.transform, &self.profile);
        if let Some(toggle) = response.inner {
            for step in toggle {
                if !self.deselected.remove(&step) {
                    self.deselected.insert(step);
                }
            }
            self.stale = true;
        }
    }

    /// Clicks, boxes and outlines in the profile view: the steps to toggle.
    fn interact(&mut self, plot: &mut PlotUi) -> Option<Vec<usize>> {
        let response = plot.response().clone();
        let pointer = plot.pointer_coordinate();
        let transform = *plot.transform();
        if response.clicked() {
            let at = response.interact_pointer_pos()?;
            let nearest = self
                .profile
                .points
                .iter()
                .map(|p| {
                    let s = transform.position_from_point(&PlotPoint::new(p.centroid, p.integral));
                    (p.step, s.distance(at))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            return (nearest.1 <= 10.0).then(|| vec![nearest.0]);
        }
        if self.drag == DragMode::Pan {
            return None;
        }
        if response.drag_started() {
            self.outline.clear();
        }
        if response.dragged() {
            if let Some(p) = pointer {
                match self.drag {
                    DragMode::Box => {
                        let start = self.outline.first().copied().unwrap_or(p);
                        self.outline = vec![
                            start,
                            PlotPoint::new(p.x, start.y),
                            p,
                            PlotPoint::new(start.x, p.y),
                        ];
                    }
                    _ => self.outline.push(p),
                }
            }
        }
        if response.drag_stopped() && self.outline.len() > 2 {
            let ring: Vec<Pos2> = self
                .outline
                .iter()
                .map(|p| transform.position_from_point(p))
                .collect();
            self.outline.clear();
            let inside: Vec<usize> = self
                .profile
                .points
                .iter()
                .filter(|p| {
                    let s = transform.position_from_point(&PlotPoint::new(p.centroid, p.integral));
                    contains(&ring, s)
                })
                .map(|p| p.step)
                .collect();
            return (!inside.is_empty()).then_some(inside);
        }
        None
    }

    fn roi_view(&mut self, ui: &mut egui::Ui) {
        let traces = &self.profile.traces;
        let n = traces.len();
        let response = plot("roi", ROI_AXES).show(ui, |plot| {
            for (i, t) in traces.iter().enumerate() {
                let xy: PlotPoints = t.x.iter().zip(&t.y).map(|(&x, &y)| [x, y]).collect();
                plot.line(
                    Line::new(format!("step {}", t.step), xy)
                        .color(c32(palette::trace_colour(i, n)))
                        .width(if n > 40 { 1.0 } else { 1.5 }),
                );
            }
        });
        self.roi_transform = Some(response.transform);
        paint_peaks(ui, &response.transform, &self.profile);
    }

    fn screenshot(&mut self, ctx: &egui::Context) {
        let Some(path) = self.options.screenshot.clone() else {
            return;
        };
        self.frames += 1;
        if !self.shot_requested && self.frames >= FRAMES_BEFORE_SCREENSHOT {
            self.shot_requested = true;
            ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(Default::default()));
        }
        let shot = ctx.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Screenshot { image, .. } => Some(Arc::clone(image)),
                _ => None,
            })
        });
        if let Some(image) = shot {
            let saved = save_png(&path, &image);
            if let Ok(mut outcome) = self.outcome.lock() {
                *outcome = saved;
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ctx.request_repaint();
    }
}

impl eframe::App for App {
    fn update(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.ui(ctx);
    }

    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if self.hides_pointer() {
            hide_pointer(raw_input);
        }
    }
}

/// Takes the pointer out of a frame's input: no hover, no crosshair, no
/// tooltip (a screenshot shows the data, not where the pointer rests).
pub fn hide_pointer(raw_input: &mut egui::RawInput) {
    raw_input.events.retain(|e| {
        !matches!(
            e,
            egui::Event::PointerMoved(_)
                | egui::Event::MouseMoved(_)
                | egui::Event::PointerButton { .. }
                | egui::Event::MouseWheel { .. }
                | egui::Event::Touch { .. }
        )
    });
    raw_input.events.push(egui::Event::PointerGone);
}

/// A plot with 1-2-5 ticks numbered on both axes (egui_plot's default grid
/// divides by 10 only and hides x labels closer than 60 points: a 13 mm
/// scan across the view numbered nothing but 0).
fn plot(id: &str, (x_label, y_label): (&str, &str)) -> Plot<'static> {
    let axis = |hints: AxisHints<'static>, label: &str, spacing: f64| {
        hints
            .label(label.to_string())
            .formatter(|mark: GridMark, _| ticks::label(mark.value, mark.step_size))
            // Minor lines (at most 0.625 of the spacing) stay unnumbered.
            .label_spacing(Rangef::new(0.7 * spacing as f32, spacing as f32))
    };
    Plot::new(id.to_string())
        .custom_x_axes(vec![axis(AxisHints::new_x(), x_label, TICK_SPACING.0)])
        .custom_y_axes(vec![axis(AxisHints::new_y(), y_label, TICK_SPACING.1)])
        .grid_spacing(Rangef::new(GRID_SPACING.0, GRID_SPACING.1))
        .x_grid_spacer(grid_spacer(TICK_SPACING.0))
        .y_grid_spacer(grid_spacer(TICK_SPACING.1))
}

/// Grid marks for one axis: numbered ones a 1-2-5 step apart, at least
/// `label_points` apart on screen, and minor lines between.
fn grid_spacer(label_points: f64) -> impl Fn(GridInput) -> Vec<GridMark> {
    move |input: GridInput| {
        // egui_plot gives the value span of `GRID_SPACING.0` points.
        let per_point = input.base_step_size / f64::from(GRID_SPACING.0);
        let (lo, hi) = input.bounds;
        let t = ticks::ticks(lo, hi, (hi - lo) / per_point, label_points);
        let minor = ticks::minor_step(t.step);
        let mut marks: Vec<GridMark> = t
            .major
            .iter()
            .map(|&value| GridMark {
                value,
                step_size: t.step,
            })
            .chain(t.minor.iter().map(|&value| GridMark {
                value,
                step_size: minor,
            }))
            .collect();
        marks.sort_by(|a, b| a.value.total_cmp(&b.value));
        marks
    }
}

fn rect_of(r: egui::Rect) -> Rect {
    Rect {
        min: (f64::from(r.min.x), f64::from(r.min.y)),
        max: (f64::from(r.max.x), f64::from(r.max.y)),
    }
}

fn pos(p: (f64, f64)) -> Pos2 {
    Pos2::new(p.0 as f32, p.1 as f32)
}

fn text_size(painter: &Painter, text: &str, font: FontId) -> (f64, f64) {
    let size = painter
        .layout_no_wrap(text.into(), font, Color32::BLACK)
        .size();
    (f64::from(size.x), f64::from(size.y))
}

/// A legend symbol centred at `at`.
fn paint_mark(painter: &Painter, mark: Mark, at: Pos2, radius: f32) {
    match mark {
        Mark::Selected => {
            painter.circle_filled(at, radius, c32(palette::SELECTED));
        }
        Mark::Deselected => {
            painter.circle(
                at,
                radius,
                Color32::WHITE,
                Stroke::new(2.0, c32(palette::DESELECTED)),
            );
        }
        Mark::Fit => {
            for k in [-1.0f32, 0.2] {
                painter.line_segment(
                    [
                        at + Vec2::new(8.0 * k, 0.0),
                        at + Vec2::new(8.0 * (k + 0.8), 0.0),
                    ],
                    Stroke::new(2.5, c32(palette::FIT)),
                );
            }
        }
    }
}

/// The profile's marks over its plot, as the export draws them: the dashed
/// fit, hollow markers out of the fit, step labels beside their markers,
/// the legend and parameter box in the emptiest corner.
fn paint_profile(ui: &egui::Ui, transform: &PlotTransform, profile: &Profile) {
    let frame = *transform.frame();
    let painter = ui.painter_at(frame);
    let screen = |x: f64, y: f64| {
        let p = transform.position_from_point(&PlotPoint::new(x, y));
        (f64::from(p.x), f64::from(p.y))
    };
    let markers: Vec<(usize, (f64, f64))> = profile
        .points
        .iter()
        .map(|p| (p.step, screen(p.centroid, p.integral)))
        .collect();
    let curve: Vec<(f64, f64)> = profile.curve.iter().map(|&(x, y)| screen(x, y)).collect();
    let (marks, params) = legend_rows(profile);
    let label_font = FontId::proportional(LABEL_FONT);
    let box_font = FontId::proportional(BOX_FONT);
    let mono = FontId::monospace(BOX_FONT - 1.0);
    let row = f64::from(BOX_FONT) * 1.35;
    let (pad, swatch) = (8.0, 22.0);
    let width = marks
        .iter()
        .map(|(_, t)| swatch + text_size(&painter, t, box_font.clone()).0)
        .chain(
            params
                .iter()
                .map(|t| text_size(&painter, t, mono.clone()).0),
        )
        .fold(0.0, f64::max);
    let legend_size = (
        width + 2.0 * pad,
        row * (marks.len() + params.len()) as f64 + 2.0 * pad + 4.0,
    );
    let peak_x = profile
        .fit
        .as_ref()
        .map(|f| screen(f.params.mean, 0.0).0)
        .unwrap_or(f64::from(frame.center().x));
    let label_size = |step: usize| text_size(&painter, &step.to_string(), label_font.clone());
    let layout = labels::profile_layout(
        rect_of(frame),
        &markers,
        &curve,
        peak_x,
        legend_size,
        &label_size,
        1.0,
    );
    let fit_line = || {
        let line: Vec<Pos2> = curve.iter().map(|&p| pos(p)).collect();
        painter.extend(egui::Shape::dashed_line(
            &line,
            Stroke::new(2.5, c32(palette::FIT)),
            9.0,
            5.0,
        ));
    };
    if !layout.dense {
        fit_line();
    }
    let radius = layout.radius as f32;
    for (p, (_, at)) in profile.points.iter().zip(&markers) {
        let mark = if p.selected {
            Mark::Selected
        } else {
            Mark::Deselected
        };
        paint_mark(&painter, mark, pos(*at), radius);
    }
    if layout.dense {
        fit_line();
    }
    for (&(step, _), rect) in markers.iter().zip(&layout.labels) {
        if let Some(rect) = rect {
            painter.text(
                pos(rect.min),
                egui::Align2::LEFT_TOP,
                step.to_string(),
                label_font.clone(),
                c32(palette::LABEL),
            );
        }
    }
    let legend = layout.legend;
    let boxed = egui::Rect::from_min_max(pos(legend.min), pos(legend.max));
    painter.rect(
        boxed,
        2.0,
        Color32::WHITE,
        Stroke::new(1.0, c32(palette::FRAME)),
        egui::StrokeKind::Inside,
    );
    let mut y = legend.min.1 + pad + row / 2.0;
    for (mark, text) in &marks {
        let x = legend.min.0 + pad;
        paint_mark(
            &painter,
            *mark,
            pos((x + swatch / 2.0 - 3.0, y)),
            MARKER as f32,
        );
        painter.text(
            pos((x + swatch, y)),
            egui::Align2::LEFT_CENTER,
            text,
            box_font.clone(),
            c32(palette::TEXT),
        );
        y += row;
    }
    y += 4.0;
    for line in &params {
        painter.text(
            pos((legend.min.0 + pad, y)),
            egui::Align2::LEFT_CENTER,
            line,
            mono.clone(),
            c32(palette::TEXT),
        );
        y += row;
    }
}

/// The ROI view's step labels at the traces' peaks, in their colours.
fn paint_peaks(ui: &egui::Ui, transform: &PlotTransform, profile: &Profile) {
    let frame = *transform.frame();
    let painter = ui.painter_at(frame);
    let n = profile.traces.len();
    let peaks: Vec<(usize, (f64, f64))> = profile
        .traces
        .iter()
        .map(|t| {
            let p = transform.position_from_point(&PlotPoint::new(t.peak.0, t.peak.1));
            (t.step, (f64::from(p.x), f64::from(p.y)))
        })
        .collect();
    let font = FontId::proportional(LABEL_FONT);
    let label_size = |step: usize| text_size(&painter, &step.to_string(), font.clone());
    let placed = labels::peak_layout(rect_of(frame), &peaks, Vec::new(), &label_size, 1.0);
    for (i, (&(step, _), rect)) in peaks.iter().zip(&placed).enumerate() {
        let Some(rect) = rect else { continue };
        let ground = egui::Rect::from_min_max(pos(rect.min), pos(rect.max)).expand(1.0);
        painter.rect_filled(ground, 1.0, Color32::from_white_alpha(215));
        painter.text(
            pos(rect.min),
            egui::Align2::LEFT_TOP,
            step.to_string(),
            font.clone(),
            c32(palette::text_colour(palette::trace_colour(i, n))),
        );
    }
}

/// The hover read-out: the nearest point's step and values.
fn hover_label(points: &[crate::analysis::ProfilePoint], at: &PlotPoint) -> String {
    // Distances in units of each axis's span (mm and V*mm do not add).
    let span = |v: &dyn Fn(&crate::analysis::ProfilePoint) -> f64| {
        let (lo, hi) = points
            .iter()
            .map(v)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                (l.min(x), h.max(x))
            });
        if hi > lo {
            hi - lo
        } else {
            1.0
        }
    };
    let (sx, sy) = (span(&|p| p.centroid), span(&|p| p.integral));
    let nearest = points.iter().min_by(|a, b| {
        let d = |p: &&crate::analysis::ProfilePoint| {
            ((p.centroid - at.x) / sx).powi(2) + ((p.integral - at.y) / sy).powi(2)
        };
        d(a).total_cmp(&d(b))
    });
    match nearest {
        Some(p) => format!(
            "step {}: centroid {} mm, integral {} {INTEGRAL_UNIT}{}\npointer {:.3}, {:.3}",
            p.step,
            crate::format::fixed(p.centroid, 4),
            crate::format::fixed(p.integral, 4),
            if p.selected { "" } else { " (out of the fit)" },
            at.x,
            at.y
        ),
        None => format!("{:.3}, {:.3}", at.x, at.y),
    }
}

/// Whether `p` lies inside the polygon `ring` (even-odd rule).
pub fn contains(ring: &[Pos2], p: Pos2) -> bool {
    let mut inside = false;
    let mut j = ring.len().wrapping_sub(1);
    for (i, a) in ring.iter().enumerate() {
        let b = ring[j];
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn save_png(path: &std::path::Path, image: &egui::ColorImage) -> Result<(), PlotError> {
    let failed = |reason: String| PlotError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::create(path).map_err(|e| failed(e.to_string()))?;
    let [w, h] = image.size;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| failed(e.to_string()))?;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    writer
        .write_image_data(&bytes)
        .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan_file::StepTrace;
    use egui::{Event, Modifiers, PointerButton, Vec2};
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;

    /// A 21-step scan of a beam of sigma 1.7 mm, as [`read_scan`] returns it.
    fn app() -> App {
        app_with(Options::default())
    }

    fn app_with(options: Options) -> App {
        let steps: Vec<StepTrace> = (0..21)
            .map(|i| {
                let at = -6.0 + 0.6 * i as f64;
                let x = fitting::linspace(at - 10.0, at + 10.0, 400);
                let height = 50.0 * (-at * at / (2.0 * 1.7 * 1.7)).exp();
                let y = x
                    .iter()
                    .map(|&v| fitting::gaussian(v, height, at, 0.4, 0.0))
                    .collect();
                StepTrace {
                    number: i + 1,
                    x,
                    y,
                    norm: 2.0,
                    offset: 0.0,
                }
            })
            .collect();
        let data = ScanData {
            path: PathBuf::from("/nowhere/FWS01_-6_6_n21.h5"),
            channel: "H-PDB".into(),
            trace_name: "Test:STRUCK:H-PDB-TRC2-ArrayData".into(),
            steps,
            skipped: Vec::new(),
            planned: Some(21),
        };
        let source = Source {
            path: data.path.clone(),
            channel: "PDB".into(),
            iops: IopsChannel::Ch1,
            index: None,
        };
        App::new(
            source,
            data,
            Settings::all(21),
            BTreeSet::new(),
            options,
            Arc::new(Mutex::new(Ok(()))),
        )
    }

    fn harness() -> Harness<'static, App> {
        let mut h = Harness::builder()
            .with_size(Vec2::from(WINDOW_SIZE))
            .build_state(|ctx, app: &mut App| app.ui(ctx), app());
        h.run();
        h
    }

    /// Where step `step`'s point is drawn.
    fn screen_of(app: &App, step: usize) -> Pos2 {
        let p = app.profile.points.iter().find(|p| p.step == step).unwrap();
        app.profile_transform
            .unwrap()
            .position_from_point(&PlotPoint::new(p.centroid, p.integral))
    }

    fn button(h: &Harness<'_, App>, pos: Pos2, pressed: bool) {
        h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }

    fn click_at(h: &mut Harness<'_, App>, pos: Pos2) {
        h.hover_at(pos);
        h.run();
        button(h, pos, true);
        button(h, pos, false);
        h.run();
    }

    fn drag_through(h: &mut Harness<'_, App>, path: &[Pos2]) {
        h.hover_at(path[0]);
        h.run();
        button(h, path[0], true);
        h.run();
        for p in &path[1..] {
            h.hover_at(*p);
            h.run();
        }
        button(h, path[path.len() - 1], false);
        h.run();
    }

    fn amplitude(app: &App) -> f64 {
        app.profile.fit.as_ref().unwrap().params.amplitude
    }

    #[test]
    fn clicking_a_point_toggles_it_out_of_the_fit_and_back() {
        let mut h = harness();
        let all = amplitude(h.state());
        let at = screen_of(h.state(), 11);
        click_at(&mut h, at);
        let app = h.state();
        assert_eq!(app.deselected, BTreeSet::from([11]));
        let p11 = app.profile.points.iter().find(|p| p.step == 11).unwrap();
        assert!(!p11.selected, "shown, out of the fit");
        assert_ne!(amplitude(app), all, "the fit without step 11");
        click_at(&mut h, at);
        assert!(h.state().deselected.is_empty());
        assert_eq!(amplitude(h.state()), all);
        // Far from every point: nothing toggles.
        let empty = screen_of(h.state(), 1) + Vec2::new(0.0, -200.0);
        click_at(&mut h, empty);
        assert!(h.state().deselected.is_empty());
    }

    #[test]
    fn the_buttons_set_the_references_controls() {
        let mut h = harness();
        for (label, flag) in [("Norm: OFF", 0), ("Offset: OFF", 1), ("Filter: OFF", 2)] {
            h.get_by_label(label).click();
            h.run();
            let s = &h.state().settings;
            assert!([s.normalize, s.offset, s.filter][flag], "{label}");
        }
        // Norm on: every integral divided by the BCM current (2).
        let mut plain = app();
        plain.settings.filter = false;
        let points = analyse(&plain.data, &plain.settings, &BTreeSet::new()).points;
        let normed = &h.state().profile.points;
        assert!(normed.iter().all(|n| {
            let p = points.iter().find(|p| p.step == n.step).unwrap();
            (n.integral - p.integral / 2.0).abs() < 1e-9 * p.integral.max(1.0)
        }));
        h.state_mut().settings.roi_percent = 5.0;
        h.get_by_label("Auto ROI").click();
        h.run();
        assert_eq!(h.state().settings.roi_percent, 0.0);
        h.state_mut().deselected.insert(3);
        h.get_by_label("Select all").click();
        h.run();
        assert!(h.state().deselected.is_empty());
    }

    #[test]
    fn a_box_or_a_lasso_toggles_every_point_inside() {
        let mut h = harness();
        h.get_by_label("box select").click();
        h.run();
        // A box around steps 1 to 4 (the left tail).
        let (a, b) = (screen_of(h.state(), 1), screen_of(h.state(), 4));
        let from = Pos2::new(a.x - 8.0, a.y + 8.0);
        let to = Pos2::new(b.x + 8.0, b.y - 8.0);
        drag_through(&mut h, &[from, from.lerp(to, 0.5), to]);
        assert_eq!(h.state().deselected, BTreeSet::from([1, 2, 3, 4]));

        h.get_by_label("lasso").click();
        h.run();
        // An outline around steps 19 to 21 (the right tail).
        let (c, d) = (screen_of(h.state(), 19), screen_of(h.state(), 21));
        let ring = [
            Pos2::new(c.x - 8.0, c.y - 8.0),
            Pos2::new(d.x + 8.0, c.y - 8.0),
            Pos2::new(d.x + 8.0, d.y + 8.0),
            Pos2::new(c.x - 8.0, d.y + 8.0),
        ];
        drag_through(&mut h, &ring);
        assert_eq!(
            h.state().deselected,
            BTreeSet::from([1, 2, 3, 4, 19, 20, 21])
        );
        // In pan mode a drag moves the view and toggles nothing.
        h.get_by_label("pan").click();
        h.run();
        drag_through(&mut h, &[from, to]);
        assert_eq!(h.state().deselected.len(), 7);
    }

    /// Every text the last frame drew, with its box on screen.
    fn texts(h: &Harness<'_, App>) -> Vec<(String, egui::Rect)> {
        fn walk(shape: &egui::Shape, out: &mut Vec<(String, egui::Rect)>) {
            match shape {
                egui::Shape::Text(t) => out.push((
                    t.galley.text().to_string(),
                    t.galley.rect.translate(t.pos.to_vec2()),
                )),
                egui::Shape::Vec(v) => v.iter().for_each(|s| walk(s, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for clipped in &h.output().shapes {
            walk(&clipped.shape, &mut out);
        }
        out
    }

    #[test]
    fn both_views_number_both_axes_at_their_ticks() {
        let h = harness();
        let texts = texts(&h);
        let app = h.state();
        for (view, transform) in [
            ("profile", app.profile_transform.unwrap()),
            ("roi", app.roi_transform.unwrap()),
        ] {
            let frame = *transform.frame();
            let numbers = |on_axis: &dyn Fn(&egui::Rect) -> bool, x_axis: bool| {
                let mut values: Vec<f64> = texts
                    .iter()
                    .filter(|(_, r)| on_axis(r))
                    .filter_map(|(t, r)| {
                        let v: f64 = t.parse().ok()?;
                        // Each number sits at its own tick.
                        let at = transform.position_from_point(&PlotPoint::new(v, v));
                        let (want, got) = if x_axis {
                            (at.x, r.center().x)
                        } else {
                            (at.y, r.center().y)
                        };
                        assert!(
                            (want - got).abs() < 2.0,
                            "{view}: {t} at {got}, tick at {want}"
                        );
                        Some(v)
                    })
                    .collect();
                values.sort_by(f64::total_cmp);
                values
            };
            let below = |r: &egui::Rect| {
                r.min.y >= frame.max.y - 1.0
                    && r.min.y < frame.max.y + 20.0
                    && (frame.min.x..=frame.max.x).contains(&r.center().x)
            };
            let left = |r: &egui::Rect| {
                r.max.x <= frame.min.x + 1.0
                    && r.max.x > frame.min.x - 60.0
                    && (frame.min.y..=frame.max.y).contains(&r.center().y)
            };
            let xs = numbers(&below, true);
            let ys = numbers(&left, false);
            assert!(xs.len() >= 4, "{view}: x axis numbered {xs:?}");
            assert!(ys.len() >= 4, "{view}: y axis numbered {ys:?}");
            for values in [&xs, &ys] {
                // Evenly spaced by a 1-2-5 step.
                let step = values[1] - values[0];
                assert!(values.windows(2).all(|w| (w[1] - w[0] - step).abs() < 1e-9));
                assert_eq!(ticks::nice_step(step * 0.999), step, "{view}: step {step}");
            }
        }
    }

    /// A vertical line across the whole of `frame` at `x` (a crosshair).
    fn vertical_line_at(h: &Harness<'_, App>, frame: egui::Rect, x: f32) -> bool {
        fn walk(shape: &egui::Shape, frame: egui::Rect, x: f32) -> bool {
            match shape {
                egui::Shape::LineSegment { points, .. } => {
                    (points[0].x - x).abs() < 0.6
                        && (points[1].x - x).abs() < 0.6
                        && (points[1].y - points[0].y).abs() > 0.9 * frame.height()
                }
                egui::Shape::Vec(v) => v.iter().any(|s| walk(s, frame, x)),
                _ => false,
            }
        }
        h.output().shapes.iter().any(|c| walk(&c.shape, frame, x))
    }

    #[test]
    fn a_screenshot_frame_shows_no_hover_tooltip_or_crosshair() {
        // A pointer resting on step 8's trace (under Xvfb it rests mid-screen).
        let aim = |app: &App| {
            let t = app.profile.traces.iter().find(|t| t.step == 8).unwrap();
            let transform = app.roi_transform.unwrap();
            let at = transform.position_from_point(&PlotPoint::new(t.peak.0, t.peak.1 * 0.5));
            (at, *transform.frame())
        };
        // Interactive: egui_plot's read-out and crosshair follow the pointer.
        let mut h = harness();
        let (at, frame) = aim(h.state());
        h.hover_at(at);
        h.run();
        assert!(h.query_by_label_contains("x = ").is_some(), "the read-out");
        let t8 = h
            .state()
            .profile
            .traces
            .iter()
            .find(|t| t.step == 8)
            .unwrap()
            .peak
            .0;
        let x8 = h
            .state()
            .roi_transform
            .unwrap()
            .position_from_point(&PlotPoint::new(t8, 0.0))
            .x;
        assert!(vertical_line_at(&h, frame, x8), "the crosshair");

        // Taking a screenshot: the pointer is kept out of every frame.
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::builder()
            .with_size(Vec2::from(WINDOW_SIZE))
            .build_state(
                |ctx, app: &mut App| app.ui(ctx),
                app_with(Options {
                    follow: false,
                    screenshot: Some(dir.path().join("shot.png")),
                }),
            );
        h.run_steps(2);
        assert!(h.state().hides_pointer());
        for _ in 0..3 {
            h.input_mut().events.push(Event::PointerMoved(at));
            // What eframe's raw_input_hook does with each frame's input.
            hide_pointer(h.input_mut());
            h.step();
        }
        assert!(h.query_by_label_contains("x = ").is_none(), "no read-out");
        assert!(!vertical_line_at(&h, frame, x8), "no crosshair");
    }

    #[test]
    fn the_lasso_contains_what_is_inside() {
        let square = [
            Pos2::new(0.0, 0.0),
            Pos2::new(10.0, 0.0),
            Pos2::new(10.0, 10.0),
            Pos2::new(0.0, 10.0),
        ];
        assert!(contains(&square, Pos2::new(5.0, 5.0)));
        assert!(!contains(&square, Pos2::new(15.0, 5.0)));
        assert!(!contains(&square, Pos2::new(5.0, -1.0)));
        // A concave outline: the notch is outside.
        let notch = [
            Pos2::new(0.0, 0.0),
            Pos2::new(10.0, 0.0),
            Pos2::new(10.0, 10.0),
            Pos2::new(5.0, 2.0),
            Pos2::new(0.0, 10.0),
        ];
        assert!(contains(&notch, Pos2::new(2.0, 2.0)));
        assert!(!contains(&notch, Pos2::new(5.0, 8.0)));
        assert!(!contains(&[], Pos2::new(0.0, 0.0)));
    }
}
