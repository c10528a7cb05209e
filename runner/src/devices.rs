//! The interfaces the step loop drives.

use crate::data::StepData;
use crate::sequence::SequenceReport;
use async_trait::async_trait;
use std::time::Duration;
use thiserror::Error;

/// A hardware operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{device}: {message}")]
pub struct DeviceError {
    /// Which device (for the operator).
    pub device: String,
    /// What went wrong.
    pub message: String,
}

impl DeviceError {
    /// A new error for `device`.
    pub fn new(device: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            device: device.into(),
            message: message.into(),
        }
    }
}

/// A callback failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct CallbackError(pub String);

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

/// How a sweep ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepOutcome {
    /// The sweep ran and the hardware reports it good.
    Ok,
    /// The sweep ran but the hardware reports a problem (e.g. `ScanStatus`
    /// "IOPS Failure Detected"); worth a retry.
    Failed(String),
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
    /// Once after the last step, whatever the outcome (e.g. the HDF5
    /// writer records the exit status). A failure is logged.
    async fn sequence_end(&mut self, _report: &SequenceReport) -> Result<(), CallbackError> {
        Ok(())
    }
}
