//! A parameter's value, whatever the protocol carried.

/// A value read or to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A measurement or setting (floats, and scaled integers).
    F64(f64),
    /// An integer or an enumeration code.
    I64(i64),
    /// Text.
    Str(String),
    /// The device answered but has no valid value (sensor failed).
    Unavailable,
}

impl Value {
    /// As a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::F64(v) => Some(*v),
            Self::I64(v) => Some(*v as f64),
            Self::Str(_) | Self::Unavailable => None,
        }
    }
}
