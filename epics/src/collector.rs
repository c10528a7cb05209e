//! The PV-group collector as a [`Detector`]: every data and metadata PV of
//! a step read over Channel Access.

use crate::value::from_ca;
use async_trait::async_trait;
use ca::PvClient;
use runner::{Detector, DeviceError, PvRecord, StepData};
use station::PvGroups;
use std::sync::Arc;
use std::time::Duration;

/// Reads every PV of the data and metadata groups concurrently, each with
/// its unit, each within the per-PV timeout; PVs that fail are listed in
/// [`StepData::missing`] and left out.
pub struct PvCollector {
    client: Arc<PvClient>,
    data: PvGroups,
    metadata: PvGroups,
    per_pv_timeout: Duration,
}

impl PvCollector {
    /// A collector of `data` (datasets) and `metadata` (step attributes).
    pub fn new(
        client: Arc<PvClient>,
        data: PvGroups,
        metadata: PvGroups,
        per_pv_timeout: Duration,
    ) -> Self {
        Self {
            client,
            data,
            metadata,
            per_pv_timeout,
        }
    }

    /// Every PV this collector reads.
    pub fn names(&self) -> Vec<String> {
        self.data
            .names()
            .chain(self.metadata.names())
            .map(str::to_string)
            .collect()
    }
}

#[async_trait]
impl Detector for PvCollector {
    async fn read(&mut self) -> Result<StepData, DeviceError> {
        let client = &self.client;
        let timeout = self.per_pv_timeout;
        let data_reads =
            futures::future::join_all(self.data.groups().flat_map(|(group, names)| {
                names
                    .iter()
                    .map(move |name| async move { (group, name, client.get(name, timeout).await) })
            }));
        let meta_reads = futures::future::join_all(
            self.metadata
                .names()
                .map(|name| async move { (name, client.get(name, timeout).await) }),
        );
        let (data, meta) = futures::future::join(data_reads, meta_reads).await;
        let mut step = StepData::default();
        for (group, name, result) in data {
            match result {
                Ok(reading) => step.push(
                    group,
                    PvRecord {
                        name: name.clone(),
                        value: from_ca(reading.value),
                        egu: reading.units,
                    },
                ),
                Err(e) => {
                    tracing::debug!("not recorded: {e}");
                    step.missing.push(name.clone());
                }
            }
        }
        for (name, result) in meta {
            match result {
                Ok(reading) => {
                    step.metadata
                        .insert(name.to_string(), from_ca(reading.value));
                }
                Err(e) => {
                    tracing::debug!("not recorded: {e}");
                    step.missing.push(name.to_string());
                }
            }
        }
        Ok(step)
    }
}
