//! Text for the exported PNG, laid out properly with egui's own fonts
//! (so the export looks like the window and needs no system font).
//!
//! plotters' ab_glyph text path draws each glyph's outline from the pen
//! position, dropping the glyph's left side bearing, and rounds the pen to
//! whole pixels glyph by glyph: letters with a wide bearing jam into
//! their left neighbour and leave a hole after it ("st eps", "Off set",
//! "FWS01 _-5"). [`GlyphText`] wraps a plotters backend and draws text
//! itself: glyphs positioned at their fractional pen position with
//! bearings and kerning, outlines rasterised by ab_glyph there.

use ab_glyph::{point, Font, FontRef, Glyph, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::sync::OnceLock;

/// plotters' font sizes are this many times the em size (its SVG backend
/// writes `font-size = size / 1.24`): the PNG uses the same em.
const SIZE_PER_EM: f64 = 1.24;

/// The font family plotters is asked for (mono for the parameter box).
pub const MONO: &str = "monospace";
/// The proportional family.
pub const SANS: &str = "sans-serif";

fn face(family: &str) -> Option<&'static FontRef<'static>> {
    static SANS_FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    static MONO_FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    if family == MONO {
        MONO_FACE
            .get_or_init(|| FontRef::try_from_slice(epaint_default_fonts::HACK_REGULAR).ok())
            .as_ref()
    } else {
        SANS_FACE
            .get_or_init(|| FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).ok())
            .as_ref()
    }
}

/// One line of text laid out: each glyph at its pen position.
struct Line {
    glyphs: Vec<Glyph>,
    width: f32,
    height: f32,
}

fn layout(family: &str, size: f64, text: &str) -> Option<Line> {
    let font = face(family)?;
    let em = (size / SIZE_PER_EM) as f32;
    // ab_glyph scales by the line height (ascent - descent), not the em.
    let units = font.units_per_em()?;
    let scale = PxScale::from(em * font.height_unscaled() / units);
    let scaled = font.as_scaled(scale);
    let mut pen = 0.0f32;
    let mut prev = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(pen, scaled.ascent())));
        pen += scaled.h_advance(id);
        prev = Some(id);
    }
    Some(Line {
        glyphs,
        width: pen,
        height: scaled.height(),
    })
}

/// Width and height of `text` in `family` at plotters size `size`, as
/// [`GlyphText`] draws it (0 x 0 without the font).
pub fn text_size(family: &str, size: f64, text: &str) -> (f64, f64) {
    layout(family, size, text).map_or((0.0, 0.0), |l| (f64::from(l.width), f64::from(l.height)))
}

/// A plotters backend whose text is drawn by [`text_size`]'s layout; all
/// else goes to `inner`.
pub struct GlyphText<B> {
    inner: B,
}

impl<B> GlyphText<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        Self { inner }
    }
}

impl<B: DrawingBackend> DrawingBackend for GlyphText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (w, h) = text_size(style.family().as_str(), style.size(), text);
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let family = style.family();
        let (Some(font), Some(line)) = (
            face(family.as_str()),
            layout(family.as_str(), style.size(), text),
        ) else {
            // Without the (embedded) font, plotters' own path.
            return self.inner.draw_text(text, style, pos);
        };
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -line.width / 2.0,
            HPos::Right => -line.width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -line.height / 2.0,
            VPos::Bottom => -line.height,
        };
        let transform = style.transform();
        let mut result = Ok(());
        for glyph in line.glyphs {
            let Some(outline) = font.outline_glyph(glyph) else {
                continue; // a space
            };
            let bounds = outline.px_bounds();
            outline.draw(|x, y, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let tx = (bounds.min.x + x as f32 + dx).round() as i32;
                let ty = (bounds.min.y + y as f32 + dy).round() as i32;
                let (rx, ry) = transform.transform(tx, ty);
                result = self.inner.draw_pixel(
                    (pos.0 + rx, pos.1 + ry),
                    BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    },
                );
            });
            result
                .as_ref()
                .map_err(|_| DrawingErrorKind::FontError(Box::new(GlyphError)))?;
        }
        Ok(())
    }
}

/// A pixel of a glyph could not be drawn.
#[derive(Debug)]
struct GlyphError;

impl std::fmt::Display for GlyphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("drawing a glyph failed")
    }
}

impl std::error::Error for GlyphError {}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// Renders `text` black on white and returns the ink columns' runs
    /// (start, end) left to right.
    fn ink_runs(text: &str, size: f64) -> Vec<(usize, usize)> {
        let (w, h) = (400usize, 60usize);
        let mut buf = vec![255u8; w * h * 3];
        {
            let backend =
                GlyphText::new(BitMapBackend::with_buffer(&mut buf, (w as u32, h as u32)));
            let root = backend.into_drawing_area();
            root.draw(&Text::new(
                text,
                (10, 10),
                (SANS, size).into_font().color(&BLACK),
            ))
            .unwrap();
            root.present().unwrap();
        }
        let inked = |x: usize| (0..h).any(|y| buf[(y * w + x) * 3] < 200);
        let mut runs = Vec::new();
        let mut start = None;
        for x in 0..w {
            match (inked(x), start) {
                (true, None) => start = Some(x),
                (false, Some(s)) => {
                    runs.push((s, x));
                    start = None;
                }
                _ => {}
            }
        }
        runs
    }

    /// Where the font puts each glyph's ink when `text` starts at `x0`:
    /// advances, kerning and side bearings straight from the font file.
    fn font_runs(text: &str, size: f64, x0: f32) -> Vec<(f32, f32)> {
        let font = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).unwrap();
        let em = (size / 1.24) as f32;
        let scale = PxScale::from(em * font.height_unscaled() / font.units_per_em().unwrap());
        let scaled = font.as_scaled(scale);
        let (mut pen, mut prev) = (0.0f32, None);
        let mut runs: Vec<(f32, f32)> = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            if let Some(outline) = font.outline(id) {
                // Font units to pixels; the ink's exact extent.
                let (lo, hi) = (
                    x0 + pen + outline.bounds.min.x * scaled.h_scale_factor(),
                    x0 + pen + outline.bounds.max.x * scaled.h_scale_factor(),
                );
                runs.push((lo, hi));
            }
            pen += scaled.h_advance(id);
            prev = Some(id);
        }
        runs
    }

    #[test]
    fn glyphs_are_drawn_where_the_fonts_advances_kerning_and_bearings_put_them() {
        for word in ["steps", "Offset", "FWS01_-5_5", "Intensity", "st eps"] {
            for size in [20.0, 28.0] {
                let drawn = ink_runs(word, size);
                let inked = |x: f32| drawn.iter().any(|r| (r.0 as f32) <= x && x < r.1 as f32);
                let font = font_runs(word, size, 10.0);
                // Columns clear of every glyph edge by 1.5 px (anti-aliasing)
                // must be inked inside a glyph and blank outside all.
                for x in 0..200 {
                    let c = x as f32 + 0.5;
                    if font
                        .iter()
                        .any(|g| (c - g.0).abs() < 1.5 || (c - g.1).abs() < 1.5)
                    {
                        continue;
                    }
                    let inside = font.iter().any(|g| g.0 < c && c < g.1);
                    assert_eq!(
                        inked(c),
                        inside,
                        "{word:?} at {size}, column {x}: drawn {drawn:?}, the font's glyphs {font:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_word_has_no_hole_as_wide_as_its_space() {
        for size in [14.0, 16.0, 20.0] {
            let space = text_size(SANS, size, "a b").0 - text_size(SANS, size, "ab").0;
            let gap = |text: &str| {
                let runs = ink_runs(text, size);
                runs.windows(2).map(|p| p[1].0 - p[0].1).max().unwrap_or(0) as f64
            };
            for word in ["steps", "Offset", "Intensity", "Position"] {
                assert!(
                    gap(word) < space,
                    "{word:?} at {size}: a hole of {} px",
                    gap(word)
                );
            }
            assert!(
                gap("st eps") >= space - 1.0,
                "the space of \"st eps\" at {size}"
            );
            // The box plotters lays out with is the ink's.
            let runs = ink_runs("Intensity", size);
            let ink = (runs[runs.len() - 1].1 - runs[0].0) as f64;
            let measured = text_size(SANS, size, "Intensity").0;
            assert!(
                (ink - measured).abs() < 3.0,
                "ink {ink} px, measured {measured:.1}"
            );
        }
    }

    #[test]
    fn the_text_box_is_anchored_like_plotters() {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let (w, h) = (200usize, 100usize);
        let mut buf = vec![255u8; w * h * 3];
        {
            let root = GlyphText::new(BitMapBackend::with_buffer(&mut buf, (w as u32, h as u32)))
                .into_drawing_area();
            let style = (SANS, 20.0)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new("88", (100, 50), style)).unwrap();
            root.present().unwrap();
        }
        let ink: Vec<(usize, usize)> = (0..w * h)
            .filter(|i| buf[i * 3] < 128)
            .map(|i| (i % w, i / w))
            .collect();
        let max_x = ink.iter().map(|p| p.0).max().unwrap();
        let (min_y, max_y) = (
            ink.iter().map(|p| p.1).min().unwrap(),
            ink.iter().map(|p| p.1).max().unwrap(),
        );
        assert!(
            (97..=100).contains(&max_x),
            "right edge at the anchor: {max_x}"
        );
        let middle = (min_y + max_y) as f64 / 2.0;
        assert!(
            (middle - 50.0).abs() < 4.0,
            "centred on the anchor: {middle}"
        );
    }
}
