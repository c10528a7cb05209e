//! ScanCurrentStep and ScanElapsedTime before each step, as the reference;
//! after each step, the PVs that could not be read, counted in InfoLog.

use crate::Publish;
use async_trait::async_trait;
use runner::Value;
use runner::{CallbackError, StepCallback, StepContext, StepData};
use std::sync::Arc;

/// Publishes the step number (1-based) and the time since the start.
pub struct StatusCallback {
    publish: Arc<dyn Publish>,
}

impl StatusCallback {
    /// A callback publishing through `publish`.
    pub fn new(publish: Arc<dyn Publish>) -> Self {
        Self { publish }
    }
}

#[async_trait]
impl StepCallback for StatusCallback {
    fn name(&self) -> &str {
        "status"
    }

    async fn pre_step(&mut self, ctx: &StepContext) -> Result<(), CallbackError> {
        self.publish
            .publish("ScanCurrentStep", Value::Long(ctx.index as i64 + 1));
        self.publish
            .publish("ScanElapsedTime", Value::Double(ctx.elapsed.as_secs_f64()));
        Ok(())
    }

    async fn post_step(
        &mut self,
        ctx: &StepContext,
        data: &mut StepData,
    ) -> Result<(), CallbackError> {
        if let Some(message) = missing_summary(ctx.index, data) {
            // Info, as the operator asked for a count, not an alarm: the
            // step itself is good.
            tracing::info!("{message}");
        }
        Ok(())
    }
}

/// How many PVs a step could not read, with the first few names.
pub fn missing_summary(index: usize, data: &StepData) -> Option<String> {
    const NAMED: usize = 3;
    if data.missing.is_empty() {
        return None;
    }
    let recorded: usize = data.groups.values().map(Vec::len).sum::<usize>() + data.metadata.len();
    let total = recorded + data.missing.len();
    let mut names = data.missing[..data.missing.len().min(NAMED)].join(", ");
    if data.missing.len() > NAMED {
        names.push_str(&format!(" and {} more", data.missing.len() - NAMED));
    }
    Some(format!(
        "step {}: {} of {total} PVs missing, left out of the file: {names}",
        index + 1,
        data.missing.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner::PvRecord;

    #[test]
    fn the_summary_counts_missing_pvs_among_all_and_names_the_first() {
        let mut data = StepData::default();
        assert_eq!(missing_summary(0, &data), None);
        data.push(
            "scan",
            PvRecord {
                name: "A".into(),
                value: Value::Double(1.0),
                egu: None,
            },
        );
        data.metadata.insert("M".into(), Value::Long(0));
        data.missing = vec!["B".into()];
        assert_eq!(
            missing_summary(2, &data).unwrap(),
            "step 3: 1 of 3 PVs missing, left out of the file: B"
        );
        data.missing = ["B", "C", "D", "E", "F"].map(String::from).to_vec();
        assert_eq!(
            missing_summary(0, &data).unwrap(),
            "step 1: 5 of 7 PVs missing, left out of the file: B, C, D and 2 more"
        );
    }
}
