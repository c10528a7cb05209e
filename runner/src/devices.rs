//! The interfaces the step loop drives: a [`Rig`] (one object that moves,
//! settles, acquires and reads), the older per-role traits it can be joined
//! from ([`Positioner`], [`Trigger`], [`Detector`] in [`Devices`]), and the
//! [`StepCallback`] chain.

use crate::data::StepData;
use crate::progress::Progress;
use crate::sequence::SequenceReport;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// A hardware operation failed, typed so the loop's retry policy can tell
/// a device that did not answer from one that said no.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeviceError {
    /// No answer in time (the device's own timeout: the loop's own limits
    /// are told in the sequence's reason). Worth a retry after `recover`.
    #[error("{device}: no answer within {:.1} s", after.as_secs_f64())]
    Timeout {
        /// Which device (for the operator).
        device: String,
        /// How long it waited.
        after: Duration,
    },
    /// The link is gone (a closed port, a lost CA circuit). Worth a retry
    /// after `recover`.
    #[error("{device}: disconnected: {message}")]
    Disconnected {
        /// Which device.
        device: String,
        /// What the transport said.
        message: String,
    },
    /// The device answered with a failure (a sweep reported bad, a reply
    /// that does not parse). Worth a retry.
    #[error("{device}: {reason}")]
    Device {
        /// Which device.
        device: String,
        /// What went wrong.
        reason: String,
    },
    /// The request itself is unusable (out of range, a read-only
    /// parameter): repeating it cannot help, the step fails at once.
    #[error("{device}: refused: {reason}")]
    Refused {
        /// Which device.
        device: String,
        /// Why.
        reason: String,
    },
}

impl DeviceError {
    /// A failure the device reported.
    pub fn new(device: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Device {
            device: device.into(),
            reason: reason.into(),
        }
    }

    /// The link to the device is gone.
    pub fn disconnected(device: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Disconnected {
            device: device.into(),
            message: message.into(),
        }
    }

    /// The device did not answer within `after`.
    pub fn timeout(device: impl Into<String>, after: Duration) -> Self {
        Self::Timeout {
            device: device.into(),
            after,
        }
    }

    /// The request cannot be carried out.
    pub fn refused(device: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Refused {
            device: device.into(),
            reason: reason.into(),
        }
    }

    /// Whether trying again may help (everything but a refusal).
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::Refused { .. })
    }

    /// Whether the device may hold a half-done exchange that `recover` must
    /// clear before the next command.
    pub fn needs_recovery(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Disconnected { .. })
    }
}

/// A callback failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct CallbackError(pub String);

/// The phases of a step the loop bounds with its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Reaching the step's positions (or setpoint written).
    Move,
    /// Waiting until the device is stable at the step (a temperature
    /// settling); nothing for devices that are there once moved.
    Settle,
    /// The acquisition: a sweep fired and waited for, a counting window.
    Acquire,
    /// Reading the step's data.
    Read,
    /// Clearing a half-done exchange after a timeout or a cancel.
    Recover,
}

impl Phase {
    /// The phase as the operator reads it in a reason ("the sweep").
    pub fn describe(self) -> &'static str {
        match self {
            Self::Move => "the move",
            Self::Settle => "the settle",
            Self::Acquire => "the acquisition",
            Self::Read => "the data read",
            Self::Recover => "the recovery",
        }
    }
}

/// How an acquisition ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepOutcome {
    /// The acquisition ran and the hardware reports it good.
    Ok,
    /// It ran but the hardware reports a problem (e.g. `ScanStatus`
    /// "IOPS Failure Detected"); worth a retry.
    Failed(String),
}

/// One object that does a step: the unit a back end provides.
///
/// Cancel-safety: the loop may drop any of these futures (its own timeout,
/// an operator's ABORT). After a dropped or timed-out call, and after a
/// [`DeviceError::needs_recovery`] error, the loop calls [`Rig::recover`]
/// before anything else, so a request/reply device can drain or
/// resynchronise (a serial line would otherwise read the late reply of the
/// dropped exchange as the next one's).
#[async_trait]
pub trait Rig: Send {
    /// Name in logs and reasons.
    fn name(&self) -> &str;
    /// The current position of each axis (relative scans start from it).
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError>;
    /// Prepares a relative scan (the EPICS back end writes `TrigPosAuto`).
    async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
    /// Moves to `positions` (one per axis).
    async fn move_to(&mut self, positions: &[f64], progress: &Progress) -> Result<(), DeviceError>;
    /// Waits until stable at the step; nothing by default.
    async fn settle(&mut self, _progress: &Progress) -> Result<(), DeviceError> {
        Ok(())
    }
    /// One acquisition; by default nothing to fire.
    async fn acquire(&mut self, _progress: &Progress) -> Result<SweepOutcome, DeviceError> {
        Ok(SweepOutcome::Ok)
    }
    /// Everything recorded for the step.
    async fn read(&mut self) -> Result<StepData, DeviceError>;
    /// Clears whatever a dropped or failed exchange left behind (drain a
    /// line, resynchronise); nothing by default.
    async fn recover(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
    /// How long `phase` takes when all is well (a 60 s counting window):
    /// the loop's limit for the phase is this plus the station's limit, so a
    /// long acquisition is not cut by a rule made for quick sweeps.
    fn expected(&self, _phase: Phase) -> Duration {
        Duration::ZERO
    }
}

/// Moves to a step's positions.
#[async_trait]
pub trait Positioner: Send {
    /// The current position of each axis (relative scans start from it).
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError>;
    /// Prepares a relative scan (the EPICS back end writes `TrigPosAuto`).
    async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
    /// Moves to `positions` (one per axis) and returns when there.
    async fn move_to(&mut self, positions: &[f64]) -> Result<(), DeviceError>;
}

/// Starts one acquisition (a wire sweep) and waits for its end.
#[async_trait]
pub trait Trigger: Send {
    /// Fires and waits for the sweep to finish. The loop bounds the wait
    /// with its own timeout and drops the future when it expires.
    async fn fire(&mut self) -> Result<SweepOutcome, DeviceError>;
}

/// Reads a step's data after the sweep.
#[async_trait]
pub trait Detector: Send {
    /// Everything this detector records for the step.
    async fn read(&mut self) -> Result<StepData, DeviceError>;
}

/// Separate objects joined into one [`Rig`]; without a trigger there is
/// nothing to fire.
pub struct Devices<'a> {
    /// Moves to each step's positions.
    pub positioner: &'a mut dyn Positioner,
    /// Fires each step's sweep, if there is one.
    pub trigger: Option<&'a mut dyn Trigger>,
    /// Reads each step's data.
    pub detector: &'a mut dyn Detector,
}

#[async_trait]
impl Rig for Devices<'_> {
    fn name(&self) -> &str {
        "devices"
    }
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        self.positioner.current().await
    }
    async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
        self.positioner.prepare_relative().await
    }
    async fn move_to(&mut self, positions: &[f64], _: &Progress) -> Result<(), DeviceError> {
        self.positioner.move_to(positions).await
    }
    async fn acquire(&mut self, _: &Progress) -> Result<SweepOutcome, DeviceError> {
        match self.trigger.as_mut() {
            Some(trigger) => trigger.fire().await,
            None => Ok(SweepOutcome::Ok),
        }
    }
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        self.detector.read().await
    }
}

/// Where the sequence is, for callbacks.
#[derive(Debug, Clone, PartialEq)]
pub struct StepContext {
    /// 0-based step index.
    pub index: usize,
    /// Steps in the plan.
    pub total: usize,
    /// The step's positions.
    pub positions: Vec<f64>,
    /// Time since the sequence started.
    pub elapsed: Duration,
}

/// A pre/post-step action: the status PVs, the live fit, the HDF5 writer,
/// a user callback.
///
/// Order per step: `pre_step` of every callback before the move;
/// `post_step` of every callback in chain order once the data is read (the
/// analysis callbacks add to the data there); then `record` of every
/// callback with the finished, shared data (the writer puts it on disk; it
/// may return before the write ends, see [`StepCallback::record`]).
#[async_trait]
pub trait StepCallback: Send {
    /// Name in logs and error messages.
    fn name(&self) -> &str;
    /// A required callback's failure ends the sequence as an I/O failure
    /// (the HDF5 writer: data loss is never silent); any other callback's
    /// failure is logged and the sequence goes on.
    fn required(&self) -> bool {
        false
    }
    /// Whether an ABORT may cut its post-step call short (a user's callback
    /// that may take seconds; it must recover from a dropped call). Never for
    /// a required callback: data that was read is written.
    fn interruptible(&self) -> bool {
        false
    }
    /// Before the move of step `ctx.index`.
    async fn pre_step(&mut self, _ctx: &StepContext) -> Result<(), CallbackError> {
        Ok(())
    }
    /// After the step's data was read; may add to `data` for later callbacks.
    async fn post_step(
        &mut self,
        _ctx: &StepContext,
        _data: &mut StepData,
    ) -> Result<(), CallbackError> {
        Ok(())
    }
    /// The step's finished data, shared (never copied). A sink may keep the
    /// work going after it returns (the pipelined writer: the next step's
    /// move starts while this one is written), but must finish it, or
    /// report its failure, by the next `record` or `sequence_end`: at most
    /// one step in flight.
    async fn record(
        &mut self,
        _ctx: &StepContext,
        _data: Arc<StepData>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }
    /// After the last step (or a STOP), before the outcome is decided:
    /// whatever `record` left under way must end now, so a required sink's
    /// failure still fails the sequence.
    async fn drain(&mut self) -> Result<(), CallbackError> {
        Ok(())
    }
    /// Once after the last step, whatever the outcome (e.g. the HDF5
    /// writer records the exit status). A failure is logged.
    async fn sequence_end(&mut self, _report: &SequenceReport) -> Result<(), CallbackError> {
        Ok(())
    }
}
