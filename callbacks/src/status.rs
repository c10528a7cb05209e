//! ScanCurrentStep and ScanElapsedTime before each step, as the reference.

use crate::Publish;
use async_trait::async_trait;
use ca::Value;
use runner::{CallbackError, StepCallback, StepContext};
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
}
