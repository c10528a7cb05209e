//! The step callbacks the daemon chains after the step loop's data: the
//! status PVs ([`StatusCallback`]) and the HDF5 writer ([`Hdf5Writer`],
//! required: a write failure ends the sequence), the live Gaussian fit
//! ([`GaussFitCallback`]) and user callbacks in their own process
//! ([`custom::CustomCallback`]).

pub mod custom;
mod gauss_fit;
mod hdf5_fast;
mod hdf5_file;
mod status;
mod writer;

pub use custom::CustomCallback;
pub use fitting::CURVE_POINTS as FIT_CURVE_POINTS;
pub use gauss_fit::{
    fit_subject, FitInputs, FitQuantity, GaussFitCallback, FIT_CHANNELS, FIT_GROUP,
    GAUSS_FIT_SOURCE,
};
pub use hdf5_file::{
    part_name, step_group_name, ExitAttributes, FileError, Leftover, RootAttributes, ScanFile,
};
pub use status::StatusCallback;
pub use writer::{Durability, Hdf5Writer};

use runner::Value;

/// Where callbacks publish operator-visible values (the daemon's PVs).
pub trait Publish: Send + Sync {
    /// Sets PV `name` (under the daemon's prefix) to `value`; failures are
    /// the publisher's to log.
    fn publish(&self, name: &str, value: Value);
}
