//! Where the step labels go (pure geometry in screen pixels, y down), the
//! same for the window and the export: beside their marker, never on a
//! marker, another label, a box or the fit line; when steps are crowded,
//! every k-th step (round numbers first) and the ones that do not fit are
//! left out rather than drawn over each other.

/// An axis-aligned box in screen pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left, top.
    pub min: (f64, f64),
    /// Right, bottom.
    pub max: (f64, f64),
}

impl Rect {
    /// The box from its left-top corner and size.
    pub fn from_min_size(min: (f64, f64), (w, h): (f64, f64)) -> Self {
        Self {
            min,
            max: (min.0 + w, min.1 + h),
        }
    }

    /// Width and height.
    pub fn size(&self) -> (f64, f64) {
        (self.max.0 - self.min.0, self.max.1 - self.min.1)
    }

    /// The box grown by `by` on every side.
    pub fn expand(&self, by: f64) -> Self {
        Self {
            min: (self.min.0 - by, self.min.1 - by),
            max: (self.max.0 + by, self.max.1 + by),
        }
    }

    /// The boxes share area.
    pub fn intersects(&self, other: &Rect) -> bool {
        self.min.0 < other.max.0
            && other.min.0 < self.max.0
            && self.min.1 < other.max.1
            && other.min.1 < self.max.1
    }

    /// `other` lies wholly inside.
    pub fn contains(&self, other: &Rect) -> bool {
        other.min.0 >= self.min.0
            && other.min.1 >= self.min.1
            && other.max.0 <= self.max.0
            && other.max.1 <= self.max.1
    }

    /// Distance from `p` to the box (0 inside).
    pub fn distance_to(&self, p: (f64, f64)) -> f64 {
        let dx = (self.min.0 - p.0).max(p.0 - self.max.0).max(0.0);
        let dy = (self.min.1 - p.1).max(p.1 - self.max.1).max(0.0);
        dx.hypot(dy)
    }

    /// The segment `a`-`b` passes through the box (Liang-Barsky clipping).
    pub fn crossed_by(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let mut t0: f64 = 0.0;
        let mut t1: f64 = 1.0;
        for (p, q) in [
            (-dx, a.0 - self.min.0),
            (dx, self.max.0 - a.0),
            (-dy, a.1 - self.min.1),
            (dy, self.max.1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }
}

/// Which way from its anchor a label is tried first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Up and to the left first (the left flank of a profile).
    Left,
    /// Up and to the right first (the right flank).
    Right,
    /// Straight up first (a peak).
    Above,
}

impl Side {
    /// Directions `(dx, dy)` (y down) in the order they are tried.
    fn directions(self) -> [(i8, i8); 8] {
        match self {
            Side::Left => [
                (-1, -1),
                (-1, 0),
                (0, -1),
                (-1, 1),
                (1, -1),
                (0, 1),
                (1, 0),
                (1, 1),
            ],
            Side::Right => [
                (1, -1),
                (1, 0),
                (0, -1),
                (1, 1),
                (-1, -1),
                (0, 1),
                (-1, 0),
                (-1, 1),
            ],
            Side::Above => [
                (0, -1),
                (1, -1),
                (-1, -1),
                (1, 0),
                (-1, 0),
                (1, 1),
                (-1, 1),
                (0, 1),
            ],
        }
    }
}

/// One label to place.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The step it names (decides which labels a crowded view keeps).
    pub step: usize,
    /// The point it belongs to.
    pub anchor: (f64, f64),
    /// Its text's width and height.
    pub size: (f64, f64),
    /// Where to try first.
    pub side: Side,
}

/// What labels must keep clear of.
#[derive(Debug, Clone, Default)]
pub struct Obstacles {
    /// Labels stay inside this box.
    pub area: Option<Rect>,
    /// Marker centres (every point's, labelled or not).
    pub markers: Vec<(f64, f64)>,
    /// Marker radius.
    pub marker_radius: f64,
    /// Boxes (the parameter box, a legend).
    pub boxes: Vec<Rect>,
    /// Lines not to write over (the fit curve).
    pub lines: Vec<Vec<(f64, f64)>>,
}

/// How labels are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spacing {
    /// Gap between a label and its marker's edge.
    pub gap: f64,
    /// Free margin kept around every label.
    pub pad: f64,
    /// At most about this many labels (every k-th step beyond it).
    pub max_labels: usize,
}

impl Default for Spacing {
    fn default() -> Self {
        Self {
            gap: 3.0,
            pad: 1.5,
            max_labels: 40,
        }
    }
}

/// The stride k of "every k-th step": 1, 2, 5, 10, 20, 50, ... so that at
/// most `max` of `count` labels are tried.
pub fn stride(count: usize, max: usize) -> usize {
    let max = max.max(1);
    let mut k = 1;
    let mut i = 0;
    while count.div_ceil(k) > max {
        k = [2, 5, 10][i % 3] * 10usize.pow((i / 3) as u32);
        i += 1;
    }
    k
}

/// How round a step number is at stride `k`: the largest of k, 2k, 5k,
/// 10k, ... dividing it (0 when k does not).
fn roundness(step: usize, k: usize) -> usize {
    if !step.is_multiple_of(k) {
        return 0;
    }
    let mut best = k;
    for m in [2, 5, 10, 20, 50, 100, 200, 500, 1000] {
        if step.is_multiple_of(k * m) {
            best = k * m;
        }
    }
    best
}

/// Places `labels`: the box of each, or `None` where it is left out.
pub fn place(labels: &[Label], obstacles: &Obstacles, spacing: &Spacing) -> Vec<Option<Rect>> {
    let k = stride(labels.len(), spacing.max_labels);
    let first = labels.iter().map(|l| l.step).min();
    let last = labels.iter().map(|l| l.step).max();
    // The first and last step frame the scan; then the roundest numbers.
    let mut order: Vec<usize> = (0..labels.len())
        .filter(|&i| {
            let s = labels[i].step;
            k == 1 || s.is_multiple_of(k) || Some(s) == first || Some(s) == last
        })
        .collect();
    order.sort_by_key(|&i| {
        let s = labels[i].step;
        let ends = Some(s) == first || Some(s) == last;
        (!ends, usize::MAX - roundness(s, k), s)
    });
    let mut placed: Vec<Option<Rect>> = vec![None; labels.len()];
    let mut taken: Vec<Rect> = Vec::new();
    for i in order {
        if let Some(rect) = best_spot(&labels[i], obstacles, spacing, &taken) {
            taken.push(rect.expand(spacing.pad));
            placed[i] = Some(rect);
        }
    }
    placed
}

/// The first free box around the label's anchor, nearest ring first.
fn best_spot(
    label: &Label,
    obstacles: &Obstacles,
    spacing: &Spacing,
    taken: &[Rect],
) -> Option<Rect> {
    let (w, h) = label.size;
    let (ax, ay) = label.anchor;
    let r = obstacles.marker_radius;
    for ring in [0.0, 5.0, 10.0] {
        let d = r + spacing.gap + ring;
        for (dx, dy) in label.side.directions() {
            let diagonal = dx != 0 && dy != 0;
            let d = if diagonal {
                d * std::f64::consts::FRAC_1_SQRT_2
            } else {
                d
            };
            let x = match dx {
                1 => ax + d,
                -1 => ax - d - w,
                _ => ax - w / 2.0,
            };
            let y = match dy {
                1 => ay + d,
                -1 => ay - d - h,
                _ => ay - h / 2.0,
            };
            let rect = Rect::from_min_size((x, y), (w, h));
            if is_free(&rect, obstacles, spacing, taken) {
                return Some(rect);
            }
        }
    }
    None
}

fn is_free(rect: &Rect, obstacles: &Obstacles, spacing: &Spacing, taken: &[Rect]) -> bool {
    let padded = rect.expand(spacing.pad);
    if let Some(area) = &obstacles.area {
        if !area.contains(rect) {
            return false;
        }
    }
    if taken.iter().any(|t| t.intersects(&padded)) {
        return false;
    }
    if obstacles.boxes.iter().any(|b| b.intersects(&padded)) {
        return false;
    }
    let clear = obstacles.marker_radius + spacing.pad;
    if obstacles
        .markers
        .iter()
        .any(|&m| rect.distance_to(m) < clear)
    {
        return false;
    }
    !obstacles.lines.iter().any(|line| {
        line.windows(2).any(|s| {
            // Cheap reject first: most segments are far away.
            let (lo_x, hi_x) = (s[0].0.min(s[1].0), s[0].0.max(s[1].0));
            let (lo_y, hi_y) = (s[0].1.min(s[1].1), s[0].1.max(s[1].1));
            hi_x >= padded.min.0
                && lo_x <= padded.max.0
                && hi_y >= padded.min.1
                && lo_y <= padded.max.1
                && padded.crossed_by(s[0], s[1])
        })
    })
}

/// The corner box of `size` inside `area` (inset by `margin`) that covers
/// the fewest of `points` (ties: top left, top right, bottom left, bottom
/// right), for the parameter box and legends.
pub fn emptiest_corner(area: &Rect, size: (f64, f64), margin: f64, points: &[(f64, f64)]) -> Rect {
    let (w, h) = size;
    let corners = [
        (area.min.0 + margin, area.min.1 + margin),
        (area.max.0 - margin - w, area.min.1 + margin),
        (area.min.0 + margin, area.max.1 - margin - h),
        (area.max.0 - margin - w, area.max.1 - margin - h),
    ];
    corners
        .iter()
        .map(|&c| Rect::from_min_size(c, size))
        .enumerate()
        .min_by_key(|(i, r)| {
            let near = r.expand(6.0);
            let covered = points
                .iter()
                .filter(|&&p| near.distance_to(p) == 0.0)
                .count();
            (covered, *i)
        })
        .map(|(_, r)| r)
        .unwrap_or_else(|| Rect::from_min_size(corners[0], size))
}

/// Marker radius of a profile point at full size (logical pixels).
pub const MARKER: f64 = 5.0;

/// The markers' radius: the full size while neighbours stay apart, down
/// to 60 % of it where a dense scan would pile them up.
pub fn marker_radius(markers: &[(f64, f64)], scale: f64) -> f64 {
    let mut gaps: Vec<f64> = markers
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .collect();
    if gaps.is_empty() {
        return scale * MARKER;
    }
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    (median / 2.5).clamp(0.6 * scale * MARKER, scale * MARKER)
}

/// Where the profile view's parts go (screen pixels), the same in the
/// window and the export.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileLayout {
    /// The markers' radius.
    pub radius: f64,
    /// Markers so dense that the fit line goes on top of them.
    pub dense: bool,
    /// The legend and parameter box.
    pub legend: Rect,
    /// Each marker's label box, or `None` where left out.
    pub labels: Vec<Option<Rect>>,
}

/// Lays out the profile view inside `area`: `markers` (step, centre) in
/// step order, the fit `curve` as drawn, the fitted mean's `peak_x`, the
/// legend's size, each step label's size; lengths scale with `scale`.
pub fn profile_layout(
    area: Rect,
    markers: &[(usize, (f64, f64))],
    curve: &[(f64, f64)],
    peak_x: f64,
    legend_size: (f64, f64),
    label_size: &dyn Fn(usize) -> (f64, f64),
    scale: f64,
) -> ProfileLayout {
    let centres: Vec<(f64, f64)> = markers.iter().map(|m| m.1).collect();
    let radius = marker_radius(&centres, scale);
    let crowd: Vec<(f64, f64)> = centres
        .iter()
        .copied()
        .chain(curve.iter().step_by(10).copied())
        .collect();
    let legend = emptiest_corner(&area, legend_size, scale * 10.0, &crowd);
    // Flanks label outwards, away from the curve's inside.
    let labels: Vec<Label> = markers
        .iter()
        .map(|&(step, at)| Label {
            step,
            anchor: at,
            size: label_size(step),
            side: if at.0 < peak_x - scale * 2.0 {
                Side::Left
            } else if at.0 > peak_x + scale * 2.0 {
                Side::Right
            } else {
                Side::Above
            },
        })
        .collect();
    let obstacles = Obstacles {
        area: Some(area),
        markers: centres,
        marker_radius: radius + scale,
        boxes: vec![legend],
        lines: vec![curve.to_vec()],
    };
    let spacing = Spacing {
        gap: scale * 2.0,
        pad: scale * 1.5,
        max_labels: 40,
    };
    ProfileLayout {
        radius,
        dense: radius < scale * MARKER,
        legend,
        labels: place(&labels, &obstacles, &spacing),
    }
}

/// Lays out the ROI view's peak labels: above each trace's peak, clear of
/// the other peaks, each other and `boxes` (the colour key).
pub fn peak_layout(
    area: Rect,
    peaks: &[(usize, (f64, f64))],
    boxes: Vec<Rect>,
    label_size: &dyn Fn(usize) -> (f64, f64),
    scale: f64,
) -> Vec<Option<Rect>> {
    let labels: Vec<Label> = peaks
        .iter()
        .map(|&(step, at)| Label {
            step,
            anchor: at,
            size: label_size(step),
            side: Side::Above,
        })
        .collect();
    let obstacles = Obstacles {
        area: Some(area),
        markers: peaks.iter().map(|p| p.1).collect(),
        marker_radius: scale * 2.0,
        boxes,
        lines: Vec::new(),
    };
    let spacing = Spacing {
        gap: scale * 2.0,
        pad: scale * 1.5,
        max_labels: 40,
    };
    place(&labels, &obstacles, &spacing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile as drawn: `n` points on a Gaussian across 700 x 560 pixels,
    /// the fit curve through them, labels of 7 px per digit by 13 px.
    fn profile(n: usize) -> (Vec<Label>, Obstacles) {
        let gauss = |x: f64| 40.0 + 500.0 * (1.0 - (-(x * x) / (2.0 * 1.7 * 1.7)).exp());
        let px = |x: f64| 60.0 + (x + 6.5) / 13.0 * 700.0;
        let markers: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let x = -6.0 + 12.0 * i as f64 / (n - 1) as f64;
                (px(x), gauss(x))
            })
            .collect();
        let curve: Vec<(f64, f64)> = (0..500)
            .map(|i| {
                let x = -6.0 + 12.0 * i as f64 / 499.0;
                (px(x), gauss(x))
            })
            .collect();
        let labels = markers
            .iter()
            .enumerate()
            .map(|(i, &m)| Label {
                step: i + 1,
                anchor: m,
                size: (7.0 * (i + 1).to_string().len() as f64, 13.0),
                side: if m.0 < px(0.0) {
                    Side::Left
                } else {
                    Side::Right
                },
            })
            .collect();
        let obstacles = Obstacles {
            area: Some(Rect {
                min: (60.0, 20.0),
                max: (760.0, 580.0),
            }),
            markers,
            marker_radius: 5.0,
            boxes: vec![Rect {
                min: (70.0, 30.0),
                max: (330.0, 120.0),
            }],
            lines: vec![curve],
        };
        (labels, obstacles)
    }

    fn check(n: usize) -> Vec<usize> {
        let (labels, obstacles) = profile(n);
        let spacing = Spacing::default();
        let placed = place(&labels, &obstacles, &spacing);
        let boxes: Vec<(usize, Rect)> = placed
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (labels[i].step, r)))
            .collect();
        for (i, (a, ra)) in boxes.iter().enumerate() {
            for (b, rb) in &boxes[i + 1..] {
                assert!(!ra.intersects(rb), "labels {a} and {b} overlap");
            }
            for (m, &c) in obstacles.markers.iter().enumerate() {
                assert!(
                    ra.distance_to(c) >= obstacles.marker_radius,
                    "label {a} on marker {}",
                    m + 1
                );
            }
            assert!(!ra.intersects(&obstacles.boxes[0]), "label {a} on the box");
            assert!(obstacles.area.unwrap().contains(ra), "label {a} outside");
            let curve = &obstacles.lines[0];
            assert!(
                !curve.windows(2).any(|s| ra.crossed_by(s[0], s[1])),
                "label {a} on the fit line"
            );
            // Beside its own marker: no leader line needed.
            let own = labels.iter().find(|l| l.step == *a).unwrap().anchor;
            assert!(
                ra.distance_to(own) <= 5.0 + 3.0 + 10.0 + 1e-9,
                "label {a} astray"
            );
        }
        boxes.into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn labels_of_21_steps_all_fit_clear_of_markers_line_and_each_other() {
        let steps = check(21);
        assert_eq!(steps.len(), 21, "every step labelled: {steps:?}");
    }

    #[test]
    fn labels_of_150_steps_are_every_fifth_and_still_clear() {
        let steps = check(150);
        assert!(steps.len() >= 20, "enough to read the scan: {steps:?}");
        assert!(
            steps.iter().all(|s| s % 5 == 0 || *s == 1),
            "every 5th step (and the first): {steps:?}"
        );
    }

    #[test]
    fn strides_are_round() {
        assert_eq!(stride(21, 40), 1);
        assert_eq!(stride(41, 40), 2);
        assert_eq!(stride(150, 40), 5);
        assert_eq!(stride(1000, 40), 50);
        assert_eq!(stride(0, 40), 1);
    }

    #[test]
    fn geometry() {
        let r = Rect::from_min_size((0.0, 0.0), (10.0, 10.0));
        assert!(r.crossed_by((-5.0, 5.0), (15.0, 5.0)));
        assert!(r.crossed_by((2.0, 2.0), (3.0, 3.0)), "inside");
        assert!(!r.crossed_by((-5.0, -5.0), (-1.0, 20.0)));
        assert!(!r.crossed_by((11.0, 0.0), (20.0, 10.0)));
        assert_eq!(r.distance_to((13.0, 14.0)), 5.0);
        let area = Rect::from_min_size((0.0, 0.0), (100.0, 100.0));
        // Points in the top left: the box goes top right.
        let c = emptiest_corner(&area, (30.0, 20.0), 5.0, &[(10.0, 10.0), (20.0, 15.0)]);
        assert_eq!(c.min, (65.0, 5.0));
    }
}
