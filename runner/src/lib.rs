//! The step loop of a scan sequence and the interfaces it drives.
//!
//! The loop ([`run_sequence`]) knows nothing of EPICS or serial ports: it
//! drives a [`Rig`] (move, settle, acquire, read; separate objects joined
//! by [`Devices`]), bounds every phase with its own limits
//! ([`RetryPolicy`]), retries failed acquisitions, makes the rig
//! [`Rig::recover`] after a dropped call, and runs the [`StepCallback`]
//! chain around each step. Back ends (the EPICS hard scan, serial
//! detectors, temperature controllers) implement [`Rig`]; callbacks
//! (status, live fit, HDF5 writer, user code) implement [`StepCallback`].
//! Its data model ([`Value`], [`PvRecord`], [`StepData`]) is its own.

mod control;
mod data;
mod devices;
mod progress;
mod sequence;

pub use control::{control_channel, Control, ControlSender, Directive};
pub use data::{PvRecord, PvValue, StepData, Value};
pub use devices::{
    CallbackError, Detector, DeviceError, Devices, Phase, Positioner, Rig, StepCallback,
    StepContext, SweepOutcome, Trigger,
};
pub use progress::{Progress, PROGRESS_PERIOD};
pub use sequence::{
    run_sequence, ExitStatus, Limit, PhaseTimes, RetryPolicy, SequenceOutcome, SequenceReport,
};
