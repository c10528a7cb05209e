//! `fws-plot`: the beam profile (integral against centroid per step, with
//! a Gaussian fit) and the ROI waveforms of a scan file, computed by the
//! daemon's own `fitting` code so the numbers equal what it published.
//!
//! [`scan_file`] reads a channel from a file in the reference layout (ours
//! or the Python daemon's), [`analysis`] computes both views under the
//! reference's controls, [`export`] writes them headless (PNG/SVG, CSV)
//! and [`gui`] shows them in a window.

pub mod analysis;
pub mod export;
pub mod figure;
pub mod follow;
pub mod format;
pub mod glyphs;
pub mod gui;
pub mod labels;
pub mod palette;
pub mod scan_file;
pub mod ticks;

pub use analysis::{analyse, Profile, Settings};
pub use scan_file::{read_scan, IopsChannel, PlotError, ScanData};
