//! Procedures: what one sequence runs, built from the station and the
//! operator's inputs: a plan, a rig, the callback chain and the file
//! policy. The FWS hard scan ([`fws::FwsHardScan`]) is the first kind; a
//! setpoint or threshold scan is another [`Kind`], not an edit of the
//! control cycle or the step loop. A procedure has an id, its parameters
//! and a result, so a queue of them can keep a history.

pub mod fws;

use crate::context::Context;
use crate::task::TaskEnd;
use async_trait::async_trait;
use planner::{Plan, ScanConfig};
use runner::{run_sequence, Control, RetryPolicy, Rig, SequenceReport, StepCallback};
use std::sync::Arc;

/// One sequence, ready to run.
pub struct Procedure {
    /// This daemon's sequence number (1 for the first since start).
    pub id: u64,
    /// Which kind built it ("FWS").
    pub kind: &'static str,
    /// What it was built from, for the log and a queue's history.
    pub parameters: Vec<(&'static str, String)>,
    /// The steps.
    pub plan: Plan,
    /// Whether the plan is relative to the position at the start.
    pub relative: bool,
    /// The hardware.
    pub rig: Box<dyn Rig>,
    /// Around every step, in order.
    pub chain: Vec<Box<dyn StepCallback>>,
    /// The loop's limits and retries.
    pub policy: RetryPolicy,
}

/// What a procedure did.
pub struct ProcedureResult {
    /// The procedure's id.
    pub id: u64,
    /// Its kind.
    pub kind: &'static str,
    /// The step loop's report.
    pub report: SequenceReport,
}

impl Procedure {
    /// Runs it under the operator's `control`.
    pub async fn run(mut self, control: Control) -> ProcedureResult {
        let report = run_sequence(
            &self.plan,
            self.relative,
            self.rig.as_mut(),
            &mut self.chain,
            &self.policy,
            control,
        )
        .await;
        ProcedureResult {
            id: self.id,
            kind: self.kind,
            report,
        }
    }
}

/// What every kind starts from: the checked inputs and the output folder
/// (opened inside the data root).
pub struct Inputs {
    /// The validated scan inputs.
    pub config: ScanConfig,
    /// Where the file goes.
    pub folder: Arc<dataroot::Folder>,
    /// The procedure's id.
    pub id: u64,
}

/// A kind of procedure: how a sequence's rig, plan and chain are built.
#[async_trait]
pub trait Kind: Send + Sync {
    /// Its name in logs and files.
    fn name(&self) -> &'static str;
    /// The procedure for `inputs`, or why it cannot run (nothing written
    /// then but what the end says).
    async fn build(&self, ctx: &Arc<Context>, inputs: Inputs) -> Result<Procedure, TaskEnd>;
}
