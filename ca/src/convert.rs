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

/// Elements served for a long string of at most `max_len` bytes: room
/// beyond the limit (at least 1024), so that a client writing too much is
/// told how much it sent rather than what the server cut it to.
pub(crate) fn text_capacity(max_len: usize) -> usize {
    (max_len + 1).max(1024)
}

/// The longest excerpt of operator text quoted in a message.
const QUOTED_CHARS: usize = 60;

/// `text` for a message: quoted, control characters escaped, cut at
/// [`QUOTED_CHARS`] characters with an ellipsis.
pub(crate) fn quoted(text: &str) -> String {
    let mut out: String = text.chars().take(QUOTED_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    format!("{out:?}")
}

/// `text` with control characters escaped (`\n`, `\u{1b}`) and nothing
/// else changed: for names a client chose (its user and host name) in
/// log lines, which must not break or forge them.
pub(crate) fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What a client sent, for a refusal's message: text quoted and cut,
/// arrays by their size, numbers as they are.
pub(crate) fn shown_write(value: &EpicsValue) -> String {
    match value {
        EpicsValue::String(s) => quoted(&s.as_str_lossy()),
        EpicsValue::CharArray(a) | EpicsValue::UCharArray(a) => quoted(&text_of_chars(a)),
        other if other.count() > 1 => format!("an array of {} values", other.count()),
        other => {
            let shown = other.to_string();
            shown.chars().take(QUOTED_CHARS).collect()
        }
    }
}

impl Value {
    /// The value for a refusal's message: text quoted and cut, arrays by
    /// their size, numbers as they are.
    pub fn shown(&self) -> String {
        match self {
            Value::Double(v) => format!("{v:?}"),
            Value::Long(v) => v.to_string(),
            Value::Text(t) => quoted(t),
            Value::Doubles(v) => format!("{} doubles", v.len()),
            Value::Longs(v) => format!("{} integers", v.len()),
        }
    }
}

/// Why text of `size` bytes is refused for a PV of `max_len`.
fn too_long(size: &str, max_len: usize) -> String {
    format!("{size} bytes, longer than the {max_len} this PV holds")
}

/// Why operator text is refused for a control character (C0, DEL, C1):
/// a newline or escape would forge or garble log lines and file names.
fn control_character(text: &str) -> Option<String> {
    let (at, c) = text.char_indices().find(|(_, c)| c.is_control())?;
    Some(format!(
        "it contains a control character ({:?} at byte {at}): write one line of printable text",
        c
    ))
}

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
                bytes.resize(text_capacity(*max_len), 0);
                EpicsValue::CharArray(bytes.into())
            }
            (PvType::Text { .. }, Value::Text(t)) => EpicsValue::String(PvString::from(t.as_str())),
            (PvType::Doubles { .. }, Value::Doubles(v)) => EpicsValue::DoubleArray(v.into()),
            (_, other) => return Err(format!("{other:?} does not fit {self:?}")),
        })
    }

    /// `value` made to fit: text longer than the PV holds is cut at a
    /// character boundary, ending in "…" (a status or log message is always
    /// shown, shortened, never refused); other values as they are.
    pub fn fit(&self, value: Value) -> Value {
        match (self, value) {
            (PvType::Text { max_len }, Value::Text(mut t)) if t.len() > *max_len => {
                let mut end = max_len.saturating_sub('…'.len_utf8());
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                t.truncate(end);
                t.push('…');
                Value::Text(t)
            }
            (_, other) => other,
        }
    }

    /// `value` as a client writes it to another server: long text as its
    /// bytes and a NUL only (the server's array may be shorter than the one
    /// this side serves), the rest as [`PvType::to_epics`].
    pub(crate) fn to_wire(&self, value: &Value) -> Result<EpicsValue, String> {
        match (self, self.accept_value(value)?) {
            (PvType::Text { max_len }, Value::Text(t)) if *max_len > CA_STRING_LEN => {
                let mut bytes = t.into_bytes();
                bytes.push(0);
                Ok(EpicsValue::CharArray(bytes.into()))
            }
            (_, accepted) => self.to_epics(&accepted),
        }
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
            EpicsValue::String(s) => self.accept_operator_text(&s.as_str_lossy(), None),
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
                // No NUL in all of it: the client may have sent more than
                // the server passed on.
                let cut = !a.contains(&0);
                self.accept_operator_text(&text_of_chars(a), cut.then_some(a.len()))
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

    /// An operator's value (a client's write, or an input read from the
    /// IOC that hosts it): the type's rule, and text free of control
    /// characters.
    pub fn accept_input(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Text(t) => self.accept_operator_text(t, None),
            other => self.accept_value(other),
        }
    }

    /// Operator text; `filled` is the element count when the text filled
    /// its whole array (it may have been cut to it on the way).
    fn accept_operator_text(&self, text: &str, filled: Option<usize>) -> Result<Value, String> {
        let PvType::Text { max_len } = self else {
            return self.accept_text(text);
        };
        if text.len() > *max_len {
            let size = match filled {
                Some(n) if n >= text_capacity(*max_len) => format!("at least {n}"),
                _ => text.len().to_string(),
            };
            return Err(too_long(&size, *max_len));
        }
        if let Some(problem) = control_character(text) {
            return Err(problem);
        }
        Ok(Value::Text(text.to_string()))
    }

    fn accept_text(&self, text: &str) -> Result<Value, String> {
        match self {
            PvType::Text { max_len } => {
                if text.len() > *max_len {
                    Err(too_long(&text.len().to_string(), *max_len))
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
        assert_eq!(
            served.count(),
            1024,
            "room to measure a write that is too long"
        );
        assert_eq!(long.value_of(&served), Some(Value::Text("/a".into())));
        let chars = |b: &[u8]| EpicsValue::CharArray(b.to_vec().into());
        assert_eq!(
            long.accept_write(&chars(b"/b\0\0")),
            Ok(Value::Text("/b".into()))
        );
        // Issue 11, A10: the real length, not a byte list or the cut one.
        let refused = long.accept_write(&chars(&[b'x'; 300])).unwrap_err();
        assert_eq!(refused, "300 bytes, longer than the 255 this PV holds");
        let refused = long.accept_write(&chars(&[b'x'; 1024])).unwrap_err();
        assert!(refused.starts_with("at least 1024 bytes"), "{refused}");
        let sent = shown_write(&chars(&[b'A'; 300]));
        assert_eq!(sent, format!("\"{}…\"", "A".repeat(60)));
        // Issue 11, A6: control characters never reach a log line or path.
        for bad in [
            "nl\n2026-12-01T00:00:00Z ERROR fws_daemon: FORGED",
            "esc\u{1b}[31m",
            "del\u{7f}",
            "c1\u{9b}",
        ] {
            let refused = long.accept_write(&s(bad)).unwrap_err();
            assert!(refused.contains("control character"), "{bad:?}: {refused}");
            assert!(long.accept_input(&Value::Text(bad.into())).is_err());
            assert!(!shown_write(&s(bad)).contains('\n'), "escaped when shown");
        }
        assert_eq!(escaped("op\nERROR x"), "op\\nERROR x");
        // A10: status text the daemon sets is cut to fit, never refused.
        let fitted = long.fit(Value::Text("é".repeat(300)));
        assert!(long.check(&fitted).is_ok());
        assert!(
            matches!(&fitted, Value::Text(t) if t.ends_with('…') && t.len() <= 255 && t.len() > 250)
        );
        assert_eq!(
            long.fit(Value::Text("short".into())),
            Value::Text("short".into())
        );
        assert_eq!(
            long.accept_input(&Value::Text("run 1/é".into())),
            Ok(Value::Text("run 1/é".into()))
        );
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
