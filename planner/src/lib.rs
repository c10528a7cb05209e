//! Scan planning for fws-daemon: operator inputs (as read from PVs) are
//! validated into a [`ScanConfig`], which yields a [`Plan`] of steps and the
//! reference daemon's output [`file_name`]. Pure: no I/O, no clock; the
//! caller passes the current position, the time stamp and an
//! [`OutputPathCheck`] for anything that touches the file system.

mod config;
mod file_name;
mod plan;

pub use config::{
    ConfigError, OutputPathCheck, RawInput, RawScanInputs, ScanConfig, ScanLimits, WithinDataRoot,
    DEFAULT_MAX_STEPS,
};
pub use file_name::{file_name, range_text, ScannerIndex, ScannerIndexError};
pub use plan::{AxisRange, Plan, PlanError, Step, StepCosts};
