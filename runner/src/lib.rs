//! The step loop of a scan sequence and the interfaces it drives.
//!
//! The loop ([`run_sequence`]) knows nothing of EPICS or serial ports: it
//! moves a [`Positioner`], fires a [`Trigger`] (retrying failed sweeps with
//! per-attempt timeouts), reads a [`Detector`], and runs the
//! [`StepCallback`] chain before and after each step. Hardware back ends
//! (the EPICS hard scan, serial detectors, temperature controllers)
//! implement the traits; callbacks (status, live fit, HDF5 writer, user
//! code) implement [`StepCallback`].

mod control;
mod data;
mod devices;
mod sequence;

pub use control::{control_channel, Control, ControlSender, Directive};
pub use data::{PvRecord, PvValue, StepData, Value};
pub use devices::{
    CallbackError, Detector, DeviceError, Positioner, StepCallback, StepContext, SweepOutcome,
    Trigger,
};
pub use sequence::{
    run_sequence, Devices, ExitStatus, PhaseTimes, RetryPolicy, SequenceOutcome, SequenceReport,
};
