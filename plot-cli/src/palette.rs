//! The colours of both views (window and export alike): Okabe-Ito for the
//! profile and for a few traces, viridis sampled by step for many, all
//! dark enough to read on white, told apart by shape or order as well as
//! hue so that colour-blind readers lose nothing.

use plotters::style::colors::colormaps::ViridisRGB;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// Okabe-Ito blue: the points in the fit.
pub const SELECTED: Rgb = [0, 114, 178];
/// Okabe-Ito vermillion: the Gaussian fit.
pub const FIT: Rgb = [213, 94, 0];
/// The points out of the fit (also drawn hollow, so not told by colour
/// alone).
pub const DESELECTED: Rgb = [110, 110, 110];
/// Titles, tick numbers, the parameter box.
pub const TEXT: Rgb = [25, 25, 25];
/// The step labels of the profile.
pub const LABEL: Rgb = [60, 60, 60];
/// Footers and other secondary text.
pub const MUTED: Rgb = [95, 95, 95];
/// The boxes' outline.
pub const FRAME: Rgb = [150, 150, 150];

/// Okabe-Ito's colours that stand out on white (contrast at least 3:1, the
/// WCAG figure for graphics): its orange, sky blue and yellow do not, so
/// they are left out.
pub const DISCRETE: [Rgb; 5] = [
    [0, 114, 178],   // blue
    [213, 94, 0],    // vermillion
    [0, 158, 115],   // bluish green
    [204, 121, 167], // reddish purple
    [0, 0, 0],       // black
];

/// The part of viridis used for many traces: its light yellow-green end
/// would vanish on white.
pub const VIRIDIS_SPAN: (f64, f64) = (0.0, 0.55);

/// The colour of trace `index` of `count`: Okabe-Ito while they suffice,
/// else viridis in step order (neighbouring steps get neighbouring
/// shades, so the order reads from dark to light without hue).
pub fn trace_colour(index: usize, count: usize) -> Rgb {
    if count <= DISCRETE.len() {
        return DISCRETE[index % DISCRETE.len()];
    }
    let t = index.min(count - 1) as f64 / (count - 1) as f64;
    let c = ViridisRGB::get_color(VIRIDIS_SPAN.0 + (VIRIDIS_SPAN.1 - VIRIDIS_SPAN.0) * t);
    [c.0, c.1, c.2]
}

/// `colour` darkened (towards black, same hue) until text in it reads on
/// white: contrast at least 4.5:1 (WCAG AA for normal text).
pub fn text_colour(colour: Rgb) -> Rgb {
    let mut c = colour;
    let mut k = 1.0;
    while contrast_on_white(c) < 4.5 && k > 0.0 {
        k -= 0.05;
        c = colour.map(|v| (f64::from(v) * k).round() as u8);
    }
    c
}

/// sRGB component to linear light.
pub fn linear(v: u8) -> f64 {
    let v = f64::from(v) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// WCAG relative luminance.
pub fn luminance(c: Rgb) -> f64 {
    0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])
}

/// WCAG contrast ratio of `c` against white (1 to 21).
pub fn contrast_on_white(c: Rgb) -> f64 {
    1.05 / (luminance(c) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB.
    const DEUTAN: [[f64; 3]; 3] = [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ];
    const PROTAN: [[f64; 3]; 3] = [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ];
    const TRITAN: [[f64; 3]; 3] = [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ];

    /// CIELAB (D65) of a linear-RGB colour.
    fn lab(rgb: [f64; 3]) -> [f64; 3] {
        let [r, g, b] = rgb.map(|v| v.clamp(0.0, 1.0));
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            if t > 216.0 / 24389.0 {
                t.cbrt()
            } else {
                (24389.0 / 27.0 * t + 16.0) / 116.0
            }
        };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    fn seen(c: Rgb, m: Option<&[[f64; 3]; 3]>) -> [f64; 3] {
        let l = c.map(linear);
        let l = match m {
            None => l,
            Some(m) => [0, 1, 2].map(|i| m[i][0] * l[0] + m[i][1] * l[1] + m[i][2] * l[2]),
        };
        lab(l)
    }

    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn discrete_colours_stay_apart_for_every_kind_of_colour_vision() {
        for (vision, m) in [
            ("normal", None),
            ("deuteranopia", Some(&DEUTAN)),
            ("protanopia", Some(&PROTAN)),
            ("tritanopia", Some(&TRITAN)),
        ] {
            for (i, a) in DISCRETE.iter().enumerate() {
                for b in &DISCRETE[i + 1..] {
                    let d = delta_e(seen(*a, m), seen(*b, m));
                    // 10 CIELAB units: plainly different side by side.
                    assert!(d > 10.0, "{vision}: {a:?} and {b:?} only {d:.1} apart");
                }
            }
            // The fit line and the points it runs through.
            let d = delta_e(seen(SELECTED, m), seen(FIT, m));
            assert!(d > 20.0, "{vision}: points and fit {d:.1} apart");
        }
    }

    #[test]
    fn no_colour_is_near_white() {
        for n in [1, 3, 5, 6, 21, 150] {
            for i in 0..n {
                let c = trace_colour(i, n);
                assert!(contrast_on_white(c) >= 3.0, "trace {i} of {n}: {c:?}");
                let t = text_colour(c);
                assert!(contrast_on_white(t) >= 4.5, "label {i} of {n}: {t:?}");
            }
        }
        for c in [SELECTED, FIT, DESELECTED, TEXT, LABEL, MUTED] {
            assert!(contrast_on_white(c) >= 3.0, "{c:?}");
        }
        for c in [TEXT, LABEL, MUTED] {
            assert!(contrast_on_white(c) >= 4.5, "text {c:?}");
        }
    }

    #[test]
    fn many_traces_go_from_dark_to_light_in_step_order() {
        for n in [6, 21, 150] {
            let lightness: Vec<f64> = (0..n).map(|i| seen(trace_colour(i, n), None)[0]).collect();
            // (plotters interpolates 8 viridis colours in sRGB: flat to 0.5.)
            assert!(
                lightness.windows(2).all(|w| w[1] >= w[0] - 0.5),
                "{n} traces: {lightness:?}"
            );
            assert!(lightness[n - 1] - lightness[0] > 40.0, "a real ramp");
            // Without hue (any colour vision) the order still reads.
            let deutan: Vec<f64> = (0..n)
                .map(|i| seen(trace_colour(i, n), Some(&DEUTAN))[0])
                .collect();
            assert!(deutan.windows(2).all(|w| w[1] >= w[0] - 0.5));
        }
        // A few traces: each its own Okabe-Ito colour.
        let few: Vec<Rgb> = (0..5).map(|i| trace_colour(i, 5)).collect();
        assert_eq!(few, DISCRETE);
    }
}
