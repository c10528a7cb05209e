//! Messages a client can cause, at most one per kind every few seconds:
//! any CA client can put Trigger thousands of times a second, and each put
//! during a scan would otherwise write a warning line (and a WarningLog
//! update). The first of a kind is logged at once; repeats within the
//! window are counted, and said as "repeated N times" when it has passed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long repeats of one kind are held back.
pub const WINDOW: Duration = Duration::from_secs(5);

/// Most kinds remembered at once.
const MAX_KINDS: usize = 256;
/// The kind of every message beyond [`MAX_KINDS`].
const OTHERS: &str = "others";

/// The kind of a message: its text without what a client chose (quoted
/// text, numbers), so that "\"a1\" is not a number" and "\"a2\" is not a
/// number" are one kind and a refusal of another sort is another.
pub fn kind_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let mut quoted = false;
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c == '"' {
            flush(&mut word, &mut out);
            quoted = !quoted;
        } else if quoted {
        } else if c.is_alphanumeric() || "._+-".contains(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// One kind of message.
struct Kind {
    /// When one was last logged.
    shown: Instant,
    /// Repeats held back since.
    held: u64,
    /// The last text held back, for the summary.
    last: String,
}

/// The kinds seen, by key.
#[derive(Default)]
pub struct Throttle {
    kinds: HashMap<String, Kind>,
}

impl Throttle {
    /// Whether `message` (of kind `key`) is to be logged now. When it is and
    /// earlier repeats were held back, their count is appended.
    pub fn pass(&mut self, key: &str, message: String, now: Instant) -> Option<String> {
        // A client inventing kinds (a new bad value each time) must not grow
        // the table without bound: beyond the cap, one kind for the rest.
        let key = if self.kinds.len() >= MAX_KINDS && !self.kinds.contains_key(key) {
            OTHERS
        } else {
            key
        };
        match self.kinds.get_mut(key) {
            Some(kind) if now.duration_since(kind.shown) < WINDOW => {
                kind.held += 1;
                kind.last = message;
                None
            }
            Some(kind) => {
                let held = std::mem::take(&mut kind.held);
                kind.shown = now;
                Some(with_count(message, held))
            }
            None => {
                self.kinds.insert(
                    key.to_string(),
                    Kind {
                        shown: now,
                        held: 0,
                        last: String::new(),
                    },
                );
                Some(message)
            }
        }
    }

    /// Summaries of the kinds whose window has passed with repeats held
    /// back (call it now and then, e.g. each heartbeat); quiet kinds are
    /// forgotten.
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        self.kinds.retain(|_, kind| {
            if now.duration_since(kind.shown) < WINDOW {
                return true;
            }
            if kind.held == 0 {
                return false;
            }
            out.push(format!(
                "{} (repeated {} times in {} s)",
                kind.last,
                kind.held,
                WINDOW.as_secs()
            ));
            kind.held = 0;
            kind.shown = now;
            true
        });
        out
    }
}

fn with_count(message: String, held: u64) -> String {
    if held == 0 {
        message
    } else {
        format!("{message} (and {held} more like it before)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_one_line_then_a_count_per_window() {
        let mut t = Throttle::default();
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut logged = Vec::new();
        // 3,467 Trigger puts over 40 s: one every ~11.5 ms.
        for i in 0..3467u64 {
            let now = at(i * 40_000 / 3467);
            logged.extend(t.pass("trigger", format!("Trigger {i} ignored"), now));
            if i % 87 == 0 {
                logged.extend(t.due(now));
            }
        }
        logged.extend(t.due(at(60_000)));
        assert!(
            logged.len() <= 2 * (40 / 5) + 2,
            "{} lines: {logged:?}",
            logged.len()
        );
        assert_eq!(logged[0], "Trigger 0 ignored");
        let counted: u64 = logged
            .iter()
            .filter_map(|l| {
                let n = l
                    .split(" (repeated ")
                    .nth(1)
                    .or_else(|| l.split(" (and ").nth(1))?;
                n.split(' ').next()?.parse::<u64>().ok()
            })
            .sum();
        // Every put is in a line of its own or in exactly one count.
        let shown = logged.iter().filter(|l| !l.contains("(repeated")).count() as u64;
        assert_eq!(counted + shown, 3467);
        // A flood of different bad values is one kind; another sort of
        // refusal is another.
        assert_eq!(
            kind_of(r#"NumScans: the write of "a1" was refused ("a1" is not a number)"#),
            kind_of(r#"NumScans: the write of "zz9" was refused ("zz9" is not a number)"#)
        );
        assert_eq!(
            kind_of("1e400 is outside 0..100"),
            kind_of("7 is outside 0..100")
        );
        assert_ne!(
            kind_of(r#"OutputPath: "x" contains a control character"#),
            kind_of(r#"OutputPath: "x" is longer than 255"#)
        );
        // Another kind is not held back by the first.
        assert!(t
            .pass("control", "ScanControl".into(), at(60_001))
            .is_some());
        // A quiet kind is forgotten once its window passed.
        assert!(t.due(at(70_000)).is_empty());
        assert!(t.kinds.is_empty());
        // Invented kinds stop at the cap.
        let mut capped = Throttle::default();
        for i in 0..1000 {
            capped.pass(&format!("invented {i}"), "x".into(), at(0));
        }
        assert_eq!(capped.kinds.len(), MAX_KINDS + 1);
    }
}
