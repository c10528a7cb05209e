//! The FWS hard scan: the scanner IOC's sweeps over Channel Access, the
//! default PV groups plus the operator's extra files, the status, Gauss-fit,
//! custom and HDF5 callbacks, one file per sequence.

use super::{Inputs, Kind, Procedure};
use crate::context::Context;
use crate::task::{blocking, text, JournalCallback, TaskEnd};
use async_trait::async_trait;
use callbacks::custom::Session;
use callbacks::{
    CustomCallback, FitInputs, GaussFitCallback, Hdf5Writer, RootAttributes, StatusCallback,
};
use epics::{EpicsHardScan, EpicsRig, HardScanPvs, PvCollector};
use planner::{OutputPathCheck, ScanLimits, WithinDataRoot};
use runner::{Rig, StepCallback};
use station::PvGroups;
use std::path::Path;
use std::sync::Arc;
use tracing::{info, warn};

/// Most bytes of an extra PV-group file (DataFilePath, MetadataFilePath).
pub const MAX_EXTRA_FILE_BYTES: u64 = 1 << 20;
/// Most PV names an extra PV-group file may add (each is read at every
/// step).
pub const MAX_EXTRA_PVS: usize = 10_000;

/// The wire scanner's hard scan, the reference's one procedure.
pub struct FwsHardScan;

#[async_trait]
impl Kind for FwsHardScan {
    fn name(&self) -> &'static str {
        "FWS"
    }

    async fn build(&self, ctx: &Arc<Context>, inputs: Inputs) -> Result<Procedure, TaskEnd> {
        let Inputs { config, folder, id } = inputs;
        let (data, metadata) = groups(ctx).await;
        let mut rig = EpicsRig::new(
            hard_scan(ctx),
            PvCollector::new(
                Arc::clone(&ctx.client),
                data,
                metadata,
                station::secs(ctx.timing.pv_read_s),
            ),
        );
        let current = if config.relative {
            match rig.current().await {
                Ok(p) => p.first().copied(),
                Err(e) => {
                    return Err(TaskEnd::io_fail(format!(
                        "reading the current position: {e}"
                    )))
                }
            }
        } else {
            None
        };
        let limits = ScanLimits {
            max_steps: ctx.max_steps,
        };
        let plan = config
            .plan(current, &limits)
            .map_err(|e| TaskEnd::not_started(e.to_string()))?;
        let name = config
            .file_path(ctx.index, chrono::Local::now().naive_local())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = RootAttributes {
            num_scans: config.num_scans,
            position_scan: Some(config.position_scan()),
            relative_scan: config.relative,
            start_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            username: ca::whoami(),
            daemon_version: format!("fws-daemon (Rust) {}", env!("CARGO_PKG_VERSION")),
            plan: plan.steps().map(|s| s.positions[0]).collect(),
        };
        info!(
            "scan of {} steps from {} to {} mm into {:?}",
            plan.len(),
            config.start,
            config.end,
            folder.path().join(&name)
        );
        let custom_root = ctx.custom.is_some().then(|| root.clone());
        let writer = Hdf5Writer::open(folder, name, root, ctx.publisher.clone())
            .await
            .map_err(|e| TaskEnd::io_fail(e.to_string()))?
            .with_durability(ctx.durability);
        let file = writer.path().to_path_buf();
        let journal = JournalCallback::start(&ctx.journal, &writer).await;
        let mut chain: Vec<Box<dyn StepCallback>> = vec![
            Box::new(StatusCallback::new(ctx.publisher.clone())),
            // Before the writer: the fit results go into each step's scan group.
            Box::new(GaussFitCallback::new(
                &ctx.prefixes.main,
                FitInputs {
                    position: format!("{}InterpolatedPosCh1", ctx.prefixes.scan),
                    traces_group: "struck".into(),
                },
                ctx.publisher.clone(),
            )),
        ];
        if let (Some(custom), Some(root)) = (&ctx.custom, custom_root) {
            // After the fit (its results go in the message), before the writer
            // (the callback's extras go in the file).
            chain.push(Box::new(CustomCallback::new(
                custom.command.clone(),
                custom.timeout,
                Session {
                    main_prefix: ctx.prefixes.main.clone(),
                    file_path: file.to_string_lossy().into_owned(),
                    root,
                },
            )));
        }
        chain.push(Box::new(writer));
        chain.push(Box::new(journal));
        Ok(Procedure {
            id,
            kind: self.name(),
            parameters: vec![
                ("NumScans", config.num_scans.to_string()),
                ("ScanStart", config.start.to_string()),
                ("ScanEnd", config.end.to_string()),
                ("RelativeScan", config.relative.to_string()),
            ],
            plan,
            relative: config.relative,
            rig: Box::new(rig),
            chain,
            policy: ctx.timing.policy(),
        })
    }
}

fn hard_scan(ctx: &Context) -> EpicsHardScan {
    EpicsHardScan::new(
        Arc::clone(&ctx.client),
        HardScanPvs::new(&ctx.prefixes),
        station::secs(ctx.timing.put_s),
        station::secs(ctx.timing.pv_read_s),
    )
}

/// The default groups plus the operator's extra files (full PV names),
/// read and parsed now on the blocking pool; a file that cannot be used is
/// a warning, not a failure.
async fn groups(ctx: &Context) -> (PvGroups, PvGroups) {
    let mut data = ctx.data_groups.clone();
    let mut metadata = ctx.metadata_groups.clone();
    for (pv, target) in [
        ("DataFilePath", &mut data),
        ("MetadataFilePath", &mut metadata),
    ] {
        let wanted = text(ctx, pv);
        if wanted.is_empty() {
            continue;
        }
        let root = Arc::clone(&ctx.data_root);
        let asked = wanted.clone();
        match blocking(move || extra_groups(&root, &asked)).await {
            Ok(extra) => {
                info!("{pv}: {} extra PVs from {wanted:?}", extra.len());
                target.merge(&extra);
            }
            Err(e) => warn!("{pv} {wanted:?} not used, going on with the defaults: {e}"),
        }
    }
    (data, metadata)
}

fn extra_groups(root: &dataroot::DataRoot, wanted: &str) -> Result<PvGroups, String> {
    let rule = WithinDataRoot {
        root: root.path().to_path_buf(),
    };
    let path = rule.resolve(wanted)?;
    let relative = root.relative(&path).unwrap_or(Path::new(""));
    let bytes = root
        .read(relative, MAX_EXTRA_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let groups = PvGroups::parse_yaml(&text).map_err(|e| e.to_string())?;
    if groups.names().any(|n| n.contains('{')) {
        return Err("runtime files take full PV names, not {prefix} templates".into());
    }
    if groups.len() > MAX_EXTRA_PVS {
        return Err(format!(
            "{} PV names, more than the {MAX_EXTRA_PVS} an extra file may add",
            groups.len()
        ));
    }
    Ok(groups)
}
