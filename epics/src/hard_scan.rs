//! The scanner IOC's hard-scan handshake as a [`Positioner`] and
//! [`Trigger`].

use async_trait::async_trait;
use ca::{PvClient, Value};
use runner::{DeviceError, Positioner, SweepOutcome, Trigger};
use station::Prefixes;
use std::sync::Arc;
use std::time::Duration;

/// The device's name in errors.
const DEVICE: &str = "scanner IOC";

/// The reference's `ScanStatus` states.
pub const SCAN_STATUS_LABELS: [&str; 5] = [
    "Scan Ok",
    "IOPS Failure Detected",
    "Lost State",
    "Scan Not Run",
    "PVs Disconnected",
];

/// The scanner IOC's hard-scan PVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardScanPvs {
    /// Interaction position of the next sweep (put with completion).
    pub pos_to_delay: String,
    /// Write 1 to sweep; the IOC returns it to 0 when done.
    pub run_hard_scan: String,
    /// How the last sweep went (0 = Scan Ok).
    pub scan_status: String,
    /// Write 1 before a relative scan.
    pub trig_pos_auto: String,
}

impl HardScanPvs {
    /// The PVs under the scanner's `scan` prefix.
    pub fn new(prefixes: &Prefixes) -> Self {
        let p = &prefixes.scan;
        Self {
            pos_to_delay: format!("{p}PosToDelay"),
            run_hard_scan: format!("{p}RunHardScan"),
            scan_status: format!("{p}ScanStatus"),
            trig_pos_auto: format!("{p}TrigPosAuto"),
        }
    }
}

/// The hard scan over Channel Access: PosToDelay put with completion,
/// RunHardScan=1, wait for it to return to 0 by monitor, read ScanStatus.
pub struct EpicsHardScan {
    client: Arc<PvClient>,
    pvs: HardScanPvs,
    put_timeout: Duration,
    read_timeout: Duration,
}

impl EpicsHardScan {
    /// A back end on `client`; puts wait at most `put_timeout`, reads
    /// `read_timeout` (the sweep's own wait is bounded by the step loop).
    pub fn new(
        client: Arc<PvClient>,
        pvs: HardScanPvs,
        put_timeout: Duration,
        read_timeout: Duration,
    ) -> Self {
        Self {
            client,
            pvs,
            put_timeout,
            read_timeout,
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> DeviceError {
        DeviceError::new(DEVICE, e.to_string())
    }

    /// A CA failure typed for the loop: an unreachable PV is a lost link.
    fn ca_error(&self, e: ca::ClientError) -> DeviceError {
        match e {
            ca::ClientError::NotConnected { .. } | ca::ClientError::Start(_) => {
                DeviceError::disconnected(DEVICE, e.to_string())
            }
            _ => DeviceError::new(DEVICE, e.to_string()),
        }
    }
}

#[async_trait]
impl Positioner for EpicsHardScan {
    async fn current(&mut self) -> Result<Vec<f64>, DeviceError> {
        let reading = self
            .client
            .get(&self.pvs.pos_to_delay, self.read_timeout)
            .await
            .map_err(|e| self.ca_error(e))?;
        match reading.value {
            Value::Double(v) => Ok(vec![v]),
            Value::Long(v) => Ok(vec![v as f64]),
            other => Err(self.error(format!(
                "{} holds {other:?}, not a position",
                self.pvs.pos_to_delay
            ))),
        }
    }

    async fn prepare_relative(&mut self) -> Result<(), DeviceError> {
        self.client
            .put_wait(&self.pvs.trig_pos_auto, &Value::Long(1), self.put_timeout)
            .await
            .map_err(|e| self.ca_error(e))
    }

    async fn move_to(&mut self, positions: &[f64]) -> Result<(), DeviceError> {
        let position = *positions
            .first()
            .ok_or_else(|| self.error("a step without a position"))?;
        self.client
            .put_wait(
                &self.pvs.pos_to_delay,
                &Value::Double(position),
                self.put_timeout,
            )
            .await
            .map_err(|e| self.ca_error(e))
    }
}

#[async_trait]
impl Trigger for EpicsHardScan {
    async fn fire(&mut self) -> Result<SweepOutcome, DeviceError> {
        // Subscribe before the put so neither the 1 nor the return to 0 can
        // be missed; the first update is the current value.
        let mut monitor = self
            .client
            .monitor(&self.pvs.run_hard_scan)
            .await
            .map_err(|e| self.ca_error(e))?;
        match monitor.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(self.ca_error(e)),
            None => return Err(self.error("the RunHardScan monitor ended")),
        }
        self.client
            .put_wait(&self.pvs.run_hard_scan, &Value::Long(1), self.put_timeout)
            .await
            .map_err(|e| self.ca_error(e))?;
        // The write completed, so the sweep has started: the next 0 is its
        // end, even if a server coalesced the 1 away.
        loop {
            match monitor.next().await {
                Some(Ok(v)) if !is_set(&v) => break,
                Some(Ok(_)) => {}
                // A disconnection: the subscription resumes on reconnect,
                // and the step loop's timeout bounds the wait.
                Some(Err(e)) => tracing::warn!("waiting for the sweep: {e}"),
                None => return Err(self.error("the RunHardScan monitor ended")),
            }
        }
        let status = self
            .client
            .get(&self.pvs.scan_status, self.read_timeout)
            .await
            .map_err(|e| self.ca_error(e))?;
        Ok(match status.value {
            Value::Long(0) => SweepOutcome::Ok,
            Value::Long(code) => SweepOutcome::Failed(format!(
                "ScanStatus {code} ({})",
                usize::try_from(code)
                    .ok()
                    .and_then(|i| SCAN_STATUS_LABELS.get(i))
                    .unwrap_or(&"unknown")
            )),
            Value::Text(t) if t == SCAN_STATUS_LABELS[0] => SweepOutcome::Ok,
            other => SweepOutcome::Failed(format!("ScanStatus {other:?}")),
        })
    }
}

fn is_set(value: &Value) -> bool {
    match value {
        Value::Long(v) => *v != 0,
        Value::Double(v) => *v != 0.0,
        _ => false,
    }
}
