//! Our value and type model, and the conversion of a client's write (in
//! whatever wire type it arrived) into a PV's native type.

use epics_base_rs::types::{EpicsValue, PvString};

/// A PV value as the rest of the daemon sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A floating-point scalar.
    Double(f64),
    /// An integer, boolean (0/1) or enum index.
    Long(i64),
    /// A string.
    Text(String),
    /// A floating-point waveform.
    Doubles(Vec<f64>),
    /// An integer waveform (read from other servers; never served).
    Longs(Vec<i64>),
}

/// A PV's native type and the rule its writes must meet.
#[derive(Debug, Clone, PartialEq)]
pub enum PvType {
    /// A finite double within `[min, max]`.
    Double {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// A whole number within `[min, max]`.
    Long {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// 0 or 1, served as an enum labelled `False`/`True`.
    Bool,
    /// An index into `labels`, served as a CA enum.
    Enum {
        /// The state names (CA allows 16 of up to 25 characters).
        labels: Vec<String>,
    },
    /// A string of at most `max_len` bytes. Up to 39 bytes it is served as a
    /// CA string; longer, as a NUL-terminated char waveform (an EPICS long
    /// string: `caget -S`, pyepics `as_string=True`).
    Text {
        /// Longest accepted string, in bytes.
        max_len: usize,
    },
    /// A double waveform of at most `max_len` finite elements.
    Doubles {
        /// Most elements.
        max_len: usize,
    },
}

/// Bytes a CA `DBR_STRING` holds, without its NUL.
pub const CA_STRING_LEN: usize = 39;

/// Long strings arrive as char arrays, NUL-terminated (or not).
pub(crate) fn text_of_chars(chars: &[u8]) -> String {
    let end = chars.iter().position(|&b| b == 0).unwrap_or(chars.len());
    String::from_utf8_lossy(&chars[..end]).into_owned()
}

const BOOL_LABELS: [&str; 2] = ["False", "True"];

impl PvType {
    /// The labels of an enum-like type.
    pub(crate) fn labels(&self) -> Option<Vec<String>> {
        match self {
            PvType::Bool => Some(BOOL_LABELS.iter().map(|s| s.to_string()).collect()),
            PvType::Enum { labels } => Some(labels.clone()),
            _ => None,
        }
    }

    /// `value` in this type's wire form, for serving and storing.
    pub(crate) fn to_epics(&self, value: &Value) -> Result<EpicsValue, String> {
        let accepted = self.accept_value(value)?;
        Ok(match (self, accepted) {
            (PvType::Double { .. }, Value::Double(v)) => EpicsValue::Double(v),
            (PvType::Long { .. }, Value::Long(v)) => EpicsValue::Long(v as i32),
            (PvType::Bool | PvType::Enum { .. }, Value::Long(v)) => EpicsValue::Enum(v as u16),
            (PvType::Text { max_len }, Value::Text(t)) if *max_len > CA_STRING_LEN => {
                // Longer than a CA string: a char waveform, as EPICS long
                // strings (`field(FTVL, CHAR)`, `PV.$`) are. Always padded
                // with NULs to the full length, because clients size their
                // writes by the element count they saw at connection.
                let mut bytes = t.into_bytes();
                bytes.resize(max_len + 1, 0);
                EpicsValue::CharArray(bytes.into())
            }
            (PvType::Text { .. }, Value::Text(t)) => EpicsValue::String(PvString::from(t.as_str())),
            (PvType::Doubles { .. }, Value::Doubles(v)) => EpicsValue::DoubleArray(v.into()),
            (_, other) => return Err(format!("{other:?} does not fit {self:?}")),
        })
    }

    /// Whether `value` meets this type's rule (e.g. an autosaved value
    /// against today's limits), or why not.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        self.to_epics(value).map(|_| ())
    }

    /// Our value of a stored wire value.
    pub(crate) fn value_of(&self, value: &EpicsValue) -> Option<Value> {
        Some(match (self, value) {
            (PvType::Double { .. }, v) => Value::Double(v.to_f64()?),
            (PvType::Long { .. } | PvType::Bool | PvType::Enum { .. }, v) => {
                Value::Long(v.to_f64()? as i64)
            }
            (PvType::Text { .. }, EpicsValue::String(s)) => {
                Value::Text(s.as_str_lossy().into_owned())
            }
            (PvType::Text { .. }, EpicsValue::CharArray(a)) => Value::Text(text_of_chars(a)),
            (PvType::Doubles { .. }, EpicsValue::DoubleArray(a)) => Value::Doubles(a.to_vec()),
            _ => return None,
        })
    }

    /// Checks a value against the rule (for `PvServer::set`, initial
    /// values, and values read from PVs another server hosts) and returns
    /// it in this type (a whole double as a Long, say), or says why not.
    pub fn accept_value(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Double(v) => self.accept_number(*v, &format!("{v:?}")),
            Value::Long(v) => self.accept_number(*v as f64, &v.to_string()),
            Value::Text(t) => self.accept_text(t),
            Value::Doubles(v) => self.accept_doubles(v.clone()),
            Value::Longs(v) => self.accept_doubles(v.iter().map(|&x| x as f64).collect()),
        }
    }

    /// Converts a client's write, in whatever wire type it came, or says why not.
    pub(crate) fn accept_write(&self, value: &EpicsValue) -> Result<Value, String> {
        match value {
            EpicsValue::String(s) => self.accept_text(&s.as_str_lossy()),
            EpicsValue::DoubleArray(a) => self.accept_doubles(a.to_vec()),
            EpicsValue::FloatArray(a) => {
                self.accept_doubles(a.iter().map(|&v| f64::from(v)).collect())
            }
            EpicsValue::LongArray(a) => {
                self.accept_doubles(a.iter().map(|&v| f64::from(v)).collect())
            }
            EpicsValue::ShortArray(a) => {
                self.accept_doubles(a.iter().map(|&v| f64::from(v)).collect())
            }
            EpicsValue::CharArray(a) | EpicsValue::UCharArray(a)
                if matches!(self, PvType::Text { .. }) =>
            {
                self.accept_text(&text_of_chars(a))
            }
            other => match other.to_f64() {
                Some(v) => self.accept_number(v, &other.to_string()),
                None => Err(format!(
                    "a {:?} value cannot be written here",
                    other.dbr_type()
                )),
            },
        }
    }

    fn accept_number(&self, v: f64, shown: &str) -> Result<Value, String> {
        match self {
            PvType::Double { min, max } => {
                if !v.is_finite() {
                    Err(format!("{shown} is not a finite number"))
                } else if v < *min || v > *max {
                    Err(format!("{shown} is outside {min}..{max}"))
                } else {
                    Ok(Value::Double(v))
                }
            }
            PvType::Long { min, max } => {
                if !v.is_finite() || v.fract() != 0.0 {
                    Err(format!("{shown} is not a whole number"))
                } else if v < *min as f64 || v > *max as f64 {
                    Err(format!("{shown} is outside {min}..{max}"))
                } else {
                    Ok(Value::Long(v as i64))
                }
            }
            PvType::Bool | PvType::Enum { .. } => {
                let count = self.labels().map_or(0, |l| l.len());
                if v.fract() == 0.0 && v >= 0.0 && v < count as f64 {
                    Ok(Value::Long(v as i64))
                } else {
                    Err(format!(
                        "{shown} is not a state index (0..{})",
                        count.saturating_sub(1)
                    ))
                }
            }
            PvType::Text { .. } => self.accept_text(shown),
            PvType::Doubles { .. } => self.accept_doubles(vec![v]),
        }
    }

    fn accept_text(&self, text: &str) -> Result<Value, String> {
        match self {
            PvType::Text { max_len } => {
                if text.len() > *max_len {
                    Err(format!(
                        "text of {} bytes is longer than {max_len}",
                        text.len()
                    ))
                } else {
                    Ok(Value::Text(text.to_string()))
                }
            }
            PvType::Bool | PvType::Enum { .. } => {
                let wanted = text.trim();
                let labels = self.labels().unwrap_or_default();
                if let Some(i) = labels.iter().position(|l| l.eq_ignore_ascii_case(wanted)) {
                    return Ok(Value::Long(i as i64));
                }
                match wanted.parse::<f64>() {
                    Ok(v) => self.accept_number(v, wanted),
                    Err(_) => Err(format!("{wanted:?} is not one of {labels:?}")),
                }
            }
            _ => match text.trim().parse::<f64>() {
                Ok(v) => self.accept_number(v, &format!("{text:?}")),
                Err(_) => Err(format!("{text:?} is not a number")),
            },
        }
    }

    fn accept_doubles(&self, values: Vec<f64>) -> Result<Value, String> {
        match self {
            PvType::Doubles { max_len } => {
                if values.len() > *max_len {
                    Err(format!("{} elements, at most {max_len}", values.len()))
                } else if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                    Err(format!("element {bad} is not finite"))
                } else {
                    Ok(Value::Doubles(values))
                }
            }
            _ if values.len() == 1 => self.accept_number(values[0], &values[0].to_string()),
            _ => Err(format!(
                "an array of {} cannot be written to a scalar",
                values.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> EpicsValue {
        EpicsValue::String(PvString::from(text))
    }

    #[test]
    fn doubles_from_any_wire_type() {
        let t = PvType::Double {
            min: -10.0,
            max: 10.0,
        };
        assert_eq!(t.accept_write(&s(" 3.5 ")), Ok(Value::Double(3.5)));
        assert_eq!(t.accept_write(&EpicsValue::Long(2)), Ok(Value::Double(2.0)));
        assert!(t.accept_write(&s("abc")).is_err());
        assert!(t.accept_write(&s("")).is_err());
        assert!(t.accept_write(&s("nan")).is_err());
        assert!(t.accept_write(&EpicsValue::Double(11.0)).is_err());
    }

    #[test]
    fn longs_bools_enums() {
        let l = PvType::Long { min: 0, max: 99 };
        assert_eq!(l.accept_write(&s("7")), Ok(Value::Long(7)));
        assert!(l.accept_write(&EpicsValue::Double(2.5)).is_err());
        assert!(l.accept_write(&EpicsValue::Long(-1)).is_err());
        let b = PvType::Bool;
        assert_eq!(b.accept_write(&s("true")), Ok(Value::Long(1)));
        assert_eq!(b.accept_write(&EpicsValue::Enum(0)), Ok(Value::Long(0)));
        assert!(b.accept_write(&EpicsValue::Long(2)).is_err());
        let e = PvType::Enum {
            labels: vec!["RESUME".into(), "PAUSE".into(), "ABORT".into()],
        };
        assert_eq!(e.accept_write(&s("abort")), Ok(Value::Long(2)));
        assert_eq!(e.accept_write(&s("1")), Ok(Value::Long(1)));
        assert!(e.accept_write(&s("STOP")).is_err());
    }

    #[test]
    fn text_and_waveforms() {
        let t = PvType::Text { max_len: 39 };
        assert_eq!(
            t.accept_write(&s("/data/run1")),
            Ok(Value::Text("/data/run1".into()))
        );
        assert!(t.accept_write(&s(&"x".repeat(40))).is_err());
        let long = PvType::Text { max_len: 255 };
        let served = long.to_epics(&Value::Text("/a".into())).unwrap();
        assert_eq!(served.count(), 256);
        assert_eq!(long.value_of(&served), Some(Value::Text("/a".into())));
        let chars = |b: &[u8]| EpicsValue::CharArray(b.to_vec().into());
        assert_eq!(
            long.accept_write(&chars(b"/b\0\0")),
            Ok(Value::Text("/b".into()))
        );
        assert!(long.accept_write(&chars(&[b'x'; 256])).is_err());
        let w = PvType::Doubles { max_len: 3 };
        assert_eq!(
            w.accept_write(&EpicsValue::DoubleArray(vec![1.0, 2.0].into())),
            Ok(Value::Doubles(vec![1.0, 2.0]))
        );
        assert!(w
            .accept_write(&EpicsValue::DoubleArray(vec![0.0; 4].into()))
            .is_err());
        assert!(w
            .accept_write(&EpicsValue::DoubleArray(vec![f64::NAN].into()))
            .is_err());
    }
}
