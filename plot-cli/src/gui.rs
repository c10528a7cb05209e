//! The window: the profile view and the ROI-waveform view side by side
//! (egui/eframe with egui_plot), under the reference's controls. Every
//! number comes from [`crate::analysis`], as in the headless export.

use crate::analysis::{analyse, parameter_text, Profile, Settings};
use crate::scan_file::{read_scan, IopsChannel, PlotError, ScanData};
use eframe::egui::{self, Align2, Color32, Pos2, RichText};
use egui_plot::{Line, LineStyle, Plot, PlotPoint, PlotPoints, PlotUi, Points, Text};
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

const CRIMSON: Color32 = Color32::from_rgb(220, 20, 60);
const LIGHT_GRAY: Color32 = Color32::from_rgb(190, 190, 190);
const NAVY: Color32 = Color32::from_rgb(0, 0, 128);
/// matplotlib's tab10, the reference's trace colours.
const TAB10: [Color32; 10] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(127, 127, 127),
    Color32::from_rgb(188, 189, 34),
    Color32::from_rgb(23, 190, 207),
];

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
    profile_transform: Option<egui_plot::PlotTransform>,
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
        }
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
            }
            // Mid-write: try again at the next look.
            Err(e) => self.status = format!("reading: {e}"),
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
        let box_text = parameter_text(&self.profile.fit).join("\n");
        let curve: Vec<[f64; 2]> = self.profile.curve.iter().map(|&(x, y)| [x, y]).collect();
        let selecting = self.drag != DragMode::Pan;
        let outline = self.outline.clone();
        let response = Plot::new("profile")
            .x_axis_label("Centroid Position (mm)")
            .y_axis_label("Profile Area (V·mm)")
            .allow_drag(!selecting)
            .allow_boxed_zoom(!selecting)
            .label_formatter(move |_, at| hover_label(&hover_points, at))
            .show(ui, |plot| {
                let (on, off): (Vec<_>, Vec<_>) = points.iter().partition(|p| p.selected);
                let xy = |ps: &[&crate::analysis::ProfilePoint]| -> PlotPoints<'static> {
                    ps.iter().map(|p| [p.centroid, p.integral]).collect()
                };
                plot.points(
                    Points::new("selected", xy(&on))
                        .color(CRIMSON)
                        .radius(5.0)
                        .filled(true),
                );
                plot.points(
                    Points::new("deselected", xy(&off))
                        .color(LIGHT_GRAY)
                        .radius(5.0)
                        .filled(true),
                );
                for p in &points {
                    plot.text(
                        Text::new(
                            "",
                            PlotPoint::new(p.centroid, p.integral),
                            RichText::new(p.step.to_string()).size(11.0),
                        )
                        .anchor(Align2::LEFT_BOTTOM)
                        .color(Color32::from_gray(90)),
                    );
                }
                if !curve.is_empty() {
                    plot.line(
                        Line::new("Gaussian fit", PlotPoints::from(curve.clone()))
                            .color(NAVY)
                            .width(2.0)
                            .style(LineStyle::dashed_loose()),
                    );
                }
                if outline.len() > 1 {
                    let mut ring: Vec<[f64; 2]> = outline.iter().map(|p| [p.x, p.y]).collect();
                    ring.push(ring[0]);
                    plot.line(Line::new("", PlotPoints::from(ring)).color(Color32::BLACK));
                }
                self.interact(plot)
            });
        self.profile_transform = Some(response.transform);
        // The parameter box over the plot's corner (not a plot item: the
        // plot's bounds would grow to hold it, frame after frame).
        let painter = ui.painter_at(response.response.rect);
        let galley =
            painter.layout_no_wrap(box_text, egui::FontId::monospace(13.0), Color32::BLACK);
        let at = response.response.rect.left_top() + egui::vec2(60.0, 10.0);
        painter.rect_filled(
            egui::Rect::from_min_size(at, galley.size()).expand(5.0),
            4.0,
            Color32::from_white_alpha(235),
        );
        painter.galley(at, galley, Color32::BLACK);
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

    fn roi_view(&self, ui: &mut egui::Ui) {
        Plot::new("roi")
            .x_axis_label("Position (mm)")
            .y_axis_label("Intensity (V)")
            .show(ui, |plot| {
                for (i, t) in self.profile.traces.iter().enumerate() {
                    let colour = TAB10[i % TAB10.len()];
                    let xy: PlotPoints = t.x.iter().zip(&t.y).map(|(&x, &y)| [x, y]).collect();
                    plot.line(
                        Line::new(format!("step {}", t.step), xy)
                            .color(colour)
                            .width(1.5),
                    );
                    plot.text(
                        Text::new(
                            "",
                            PlotPoint::new(t.peak.0, t.peak.1),
                            RichText::new(t.step.to_string()).size(11.0),
                        )
                        .anchor(Align2::LEFT_BOTTOM)
                        .color(colour),
                    );
                }
            });
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
}

/// The hover read-out: the nearest point's step and values.
fn hover_label(points: &[crate::analysis::ProfilePoint], at: &PlotPoint) -> String {
    // Distances in units of each axis's span (mm and V·mm do not add).
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
            "step {}: centroid {:.4} mm, integral {:.4} V·mm{}\npointer {:.3}, {:.3}",
            p.step,
            p.centroid,
            p.integral,
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
            Options::default(),
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
