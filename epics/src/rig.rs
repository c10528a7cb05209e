//! The wire scanner as one [`Rig`]: the hard scan moves and sweeps, the
//! collector reads. One object, so the IOC's handshake is built once.

use crate::{EpicsHardScan, PvCollector};
use async_trait::async_trait;
use runner::{Detector, DeviceError, Positioner, Progress, Rig, StepData, SweepOutcome, Trigger};

/// The EPICS hard scan and its collector, driven by the step loop.
pub struct EpicsRig {
    scan: EpicsHardScan,
    collector: PvCollector,
}

impl EpicsRig {
    /// The rig of `scan` and `collector`.
    pub fn new(scan: EpicsHardScan, collector: PvCollector) -> Self {
        Self { scan, collector }
    }
}

/// Channel Access keeps no half-done exchange on a circuit (each request
/// has its own id, a late reply to a dropped one is discarded by the
/// client), so there is nothing to recover: the default `recover` stands.
#[async_trait]
impl Rig for EpicsRig {
    fn name(&self) -> &str {
        "scanner IOC"
    }
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        self.scan.current().await
    }
    async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
        self.scan.prepare_relative().await
    }
    async fn move_to(&mut self, positions: &[f64], _: &Progress) -> Result<(), DeviceError> {
        self.scan.move_to(positions).await
    }
    async fn acquire(&mut self, _: &Progress) -> Result<SweepOutcome, DeviceError> {
        self.scan.fire().await
    }
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        self.collector.read().await
    }
}
