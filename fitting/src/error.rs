//! Typed errors for every numeric routine: bad input never panics.

use thiserror::Error;

/// Why a fit or a signal-processing step could not produce a result.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FitError {
    /// No samples at all.
    #[error("no data points")]
    Empty,
    /// `x` and `y` differ in length.
    #[error("x has {x_len} points but y has {y_len}")]
    LengthMismatch {
        /// Length of `x`.
        x_len: usize,
        /// Length of `y`.
        y_len: usize,
    },
    /// Fewer points than the routine needs.
    #[error("{got} points given, at least {needed} needed")]
    TooFewPoints {
        /// Points given.
        got: usize,
        /// Points needed.
        needed: usize,
    },
    /// A NaN or infinite value in the input.
    #[error("{which}[{index}] is not finite ({value})")]
    NotFinite {
        /// `"x"`, `"y"` or the parameter name.
        which: &'static str,
        /// Position of the bad value.
        index: usize,
        /// The bad value itself.
        value: f64,
    },
    /// All `y` values are equal: there is no peak or edge to fit.
    #[error("y is flat (every value is {value}): nothing to fit")]
    FlatData {
        /// The constant value.
        value: f64,
    },
    /// The solver produced a non-finite value or was stopped by the model.
    #[error("the fit diverged: {reason}")]
    Diverged {
        /// What the solver reported.
        reason: String,
    },
    /// A normalisation divisor that is zero or not finite.
    #[error("cannot normalise by {value}")]
    BadNormalisation {
        /// The divisor given.
        value: f64,
    },
    /// A parameter of the routine itself is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
