//! The operator's hold on a running sequence (`ScanControl`): pause at the
//! next step boundary, resume, stop after the current step, abort at once.

use tokio::sync::watch;

/// What the operator asks of the running sequence. The values are
/// `ScanControl`'s: the reference's 0..=2 and our STOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    /// Run (or go on after a pause).
    Resume = 0,
    /// Hold at the next step boundary.
    Pause = 1,
    /// End at once, cancelling a move, sweep or read in progress; the
    /// completed steps stay in the file.
    Abort = 2,
    /// Finish the current step, then end with the file closed cleanly.
    Stop = 3,
}

impl Directive {
    /// `ScanControl`'s labels, in value order.
    pub const LABELS: [&'static str; 4] = ["RESUME", "PAUSE", "ABORT", "STOP"];

    /// The directive of a `ScanControl` value, if it is one.
    pub fn from_value(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::Resume),
            1 => Some(Self::Pause),
            2 => Some(Self::Abort),
            3 => Some(Self::Stop),
            _ => None,
        }
    }

    /// Its label.
    pub fn label(self) -> &'static str {
        Self::LABELS[self as usize]
    }
}

/// Sets the directive; the daemon's control cycle holds it.
#[derive(Debug)]
pub struct ControlSender(watch::Sender<Directive>);

/// The sequence's view of the directive.
#[derive(Debug, Clone)]
pub struct Control(watch::Receiver<Directive>);

/// A sender and the sequence's receiver, starting at RESUME.
pub fn control_channel() -> (ControlSender, Control) {
    let (tx, rx) = watch::channel(Directive::Resume);
    (ControlSender(tx), Control(rx))
}

impl ControlSender {
    /// Sets the directive (seen by every [`Control`], now and later).
    pub fn set(&self, directive: Directive) {
        self.0.send_replace(directive);
    }

    /// The directive now.
    pub fn get(&self) -> Directive {
        *self.0.borrow()
    }

    /// Another receiver of this sender's directives.
    pub fn subscribe(&self) -> Control {
        Control(self.0.subscribe())
    }
}

impl Control {
    /// A control nobody holds: always RESUME (tests, benchmarks, tools).
    pub fn none() -> Self {
        let (tx, rx) = watch::channel(Directive::Resume);
        drop(tx);
        Self(rx)
    }

    /// The directive now.
    pub fn now(&self) -> Directive {
        *self.0.borrow()
    }

    /// Waits until the directive is no longer PAUSE and returns it.
    pub async fn after_pause(&mut self) -> Directive {
        loop {
            let now = *self.0.borrow_and_update();
            if now != Directive::Pause {
                return now;
            }
            if self.0.changed().await.is_err() {
                // Nobody can resume any more: the sender is gone with the
                // daemon's cycle, so the sequence must not hang.
                return Directive::Abort;
            }
        }
    }

    /// Resolves when the directive becomes ABORT; never if nobody holds
    /// the sender.
    pub async fn aborted(&mut self) {
        loop {
            if *self.0.borrow_and_update() == Directive::Abort {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn values_and_labels_are_scan_controls() {
        for (value, label) in Directive::LABELS.iter().enumerate() {
            let d = Directive::from_value(value as i64).unwrap();
            assert_eq!(d as usize, value);
            assert_eq!(d.label(), *label);
        }
        assert_eq!(Directive::from_value(4), None);
        assert_eq!(Directive::from_value(-1), None);
    }

    #[tokio::test]
    async fn a_pause_holds_until_resume_or_abort() {
        let (tx, mut control) = control_channel();
        assert_eq!(control.after_pause().await, Directive::Resume);
        tx.set(Directive::Pause);
        let mut waiter = control.clone();
        let held = tokio::spawn(async move { waiter.after_pause().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!held.is_finished(), "PAUSE must hold");
        tx.set(Directive::Stop);
        assert_eq!(held.await.unwrap(), Directive::Stop);
        tx.set(Directive::Pause);
        drop(tx);
        assert_eq!(control.after_pause().await, Directive::Abort);
    }

    #[tokio::test]
    async fn aborted_resolves_on_abort_only() {
        let (tx, control) = control_channel();
        let mut waiter = control.clone();
        let wait = tokio::spawn(async move { waiter.aborted().await });
        for d in [Directive::Pause, Directive::Stop, Directive::Resume] {
            tx.set(d);
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert!(!wait.is_finished(), "{d:?} is not an abort");
        }
        tx.set(Directive::Abort);
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("ABORT seen")
            .unwrap();
        let mut free = Control::none();
        let never = tokio::time::timeout(Duration::from_millis(20), free.aborted()).await;
        assert!(never.is_err());
    }
}
