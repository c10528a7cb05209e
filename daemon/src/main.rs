//! `fws-daemon <scanner_index> [--test-mode] ...`: serves the scanner's
//! daemon PVs and runs a scan sequence each time an operator writes
//! Trigger=1. See README.md for the PVs and the settings files.

mod autosave;
mod bridge;
mod cli;
mod context;
mod cycle;
#[cfg(test)]
mod db;
mod embedded_sim;
mod host;
mod journal;
mod logging;
mod memory;
mod procedure;
mod task;
mod throttle;
mod watchdog;

use autosave::{Autosave, Saved};
use ca::Value;
use clap::Parser;
use cli::{Args, PvHost};
use context::Context;
use host::Bridge;
use planner::{ScannerIndex, DEFAULT_MAX_STEPS};
use station::Station;
use station::{Naming, Prefixes, PvGroups};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

/// Exit code for bad arguments or settings (nothing started).
const EXIT_USAGE: u8 = 2;
/// Exit code for a failure while running.
const EXIT_RUNTIME: u8 = 1;
/// Exit code when the watchdog saw the control loop stall.
const EXIT_WATCHDOG: i32 = 3;
/// Test-only: the control loop blocks its thread this many seconds after
/// the start (honoured with --test-mode only), to prove the watchdog.
const STALL_INJECTION_ENV: &str = "FWS_TEST_STALL_AFTER_S";

ca::network_fence!();

fn main() -> ExitCode {
    let code = run();
    logging::flush();
    code
}

fn run() -> ExitCode {
    let args = Args::parse();
    let mut setup = match Setup::from_args(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fws-daemon: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // The environment is set while this is the only thread (logging starts
    // the log file's writer thread).
    if args.test_mode {
        loopback_defaults();
    }
    ca::own_shutdown();
    if let Err(e) = logging::init(&setup.log_dir) {
        eprintln!("fws-daemon: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    if let Err(e) = setup.create_data_root() {
        error!("{e}");
        return ExitCode::from(EXIT_USAGE);
    }
    // Before any socket exists.
    match ca::fence::Fence::install_from_env() {
        Ok(Some(allowed)) => {
            let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            info!(
                "network: binding only on {} (EPICS_CAS_INTF_ADDR_LIST, EPICS_CA_AUTO_ADDR_LIST=NO)",
                list.join(", ")
            );
        }
        Ok(None) => info!(
            "network: every interface (EPICS_CAS_INTF_ADDR_LIST names none, or \
             EPICS_CA_AUTO_ADDR_LIST is not NO)"
        ),
        Err(e) => {
            error!("{e}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    // Before the first sequence can start, and before the async runtime
    // (HDF5 blocks): a file the last daemon left open.
    let recovered = journal::Journal::new(&setup.data_root, setup.index.get()).recover();
    // The file system's part of the start, before the runtime too: the
    // async workers never wait for a disk.
    let data_root = match dataroot::DataRoot::open(&setup.data_root) {
        Ok(root) => Arc::new(root),
        Err(e) => {
            error!("data root {}: {e}", setup.data_root.display());
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let autosave_path = Autosave::path_for(&setup.data_root, setup.index.get());
    let (saved, saved_problem) = match setup.pv_host {
        PvHost::Embedded => Saved::load(&autosave_path),
        // The site IOC keeps the inputs (with its own autosave).
        PvHost::Ioc => (Saved::default(), None),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let files = Files {
        recovered,
        data_root,
        autosave_path,
        saved,
        saved_problem,
    };
    match runtime.block_on(serve(setup, files)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Everything decided from the command line and settings before starting.
struct Setup {
    index: ScannerIndex,
    prefixes: Prefixes,
    station: Station,
    data_root: PathBuf,
    log_dir: PathBuf,
    sim: Option<embedded_sim::Settings>,
    groups: (PvGroups, PvGroups),
    /// Test-only stall injection (see [`STALL_INJECTION_ENV`]).
    stall_after: Option<Duration>,
    /// `--custom-callback`: what to run, and its per-call timeout.
    custom: Option<context::CustomSettings>,
    /// Who hosts the daemon's PVs.
    pv_host: PvHost,
}

impl Setup {
    fn from_args(args: &Args) -> Result<Self, String> {
        let index = ScannerIndex::try_from(args.scanner_index).map_err(|e| e.to_string())?;
        if args.pv_host == PvHost::Ioc && args.test_mode && !args.no_sim {
            return Err(
                "--pv-host ioc: the daemon serves no PVs, so the simulator cannot be \
                        built in; run fws-sim and add --no-sim"
                    .into(),
            );
        }
        if args.custom_callback.is_none() && args.custom_callback_timeout.is_some() {
            return Err("--custom-callback-timeout needs --custom-callback".into());
        }
        let custom = args
            .custom_callback
            .as_deref()
            .map(|path| {
                custom_callback(
                    path,
                    args.custom_callback_timeout
                        .unwrap_or(cli::DEFAULT_CUSTOM_CALLBACK_TIMEOUT_S),
                )
            })
            .transpose()?;
        let naming = if args.test_mode {
            Naming::Test
        } else {
            Naming::Production
        };
        let station = match &args.config {
            Some(path) => Station::load(path)?,
            None => Station::default(),
        };
        let prefixes = station.apply(Prefixes::new(index, naming).map_err(|e| e.to_string())?);
        let log_dir = args
            .log_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("var/log/fws-daemon/fws-{:02}", index.get())));
        let sim = if args.test_mode && !args.no_sim {
            Some(embedded_sim::Settings::load(args.sim_config.as_deref())?)
        } else {
            if args.sim_config.is_some() {
                return Err("--sim-config needs --test-mode without --no-sim".into());
            }
            None
        };
        let groups = (
            load_groups(station.pv_groups.data.as_deref(), PvGroups::reference_data)?
                .with_prefixes(&prefixes)
                .map_err(|e| e.to_string())?,
            load_groups(
                station.pv_groups.metadata.as_deref(),
                PvGroups::reference_metadata,
            )?
            .with_prefixes(&prefixes)
            .map_err(|e| e.to_string())?,
        );
        // Asked for, never guessed: the working folder may be / (a
        // systemd unit without WorkingDirectory), and OutputPath may name
        // any folder inside the data root.
        let data_root = args
            .data_root
            .clone()
            .or_else(|| station.data_root.clone())
            .ok_or(
                "no data root: give --data-root DIR, or data_root in the --config station file \
                 (the systemd unit uses /var/lib/fws-daemon); every output file and extra PV \
                 file must lie inside it",
            )?;
        let stall_after = match std::env::var(STALL_INJECTION_ENV) {
            Ok(v) if args.test_mode => Some(
                v.parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| {
                        format!("{STALL_INJECTION_ENV}={v:?}: not a number of seconds")
                    })?,
            ),
            Ok(_) => {
                return Err(format!(
                    "{STALL_INJECTION_ENV} is a test-only setting: it needs --test-mode"
                ))
            }
            Err(_) => None,
        };
        Ok(Self {
            index,
            prefixes,
            station,
            data_root,
            log_dir,
            sim,
            groups,
            stall_after,
            custom,
            pv_host: args.pv_host,
        })
    }

    /// Creates the data root if needed and makes its path absolute (after
    /// logging starts, so that a failure is in the log file too).
    fn create_data_root(&mut self) -> Result<(), String> {
        let problem = |e: std::io::Error| format!("data root {}: {e}", self.data_root.display());
        std::fs::create_dir_all(&self.data_root).map_err(problem)?;
        let real = self.data_root.canonicalize().map_err(problem)?;
        if real.parent().is_none() {
            return Err(format!(
                "data root {}: the file system's root may not be the data root (OutputPath \
                 could then name any folder of the machine); use a folder of its own, such as \
                 /var/lib/fws-daemon",
                self.data_root.display()
            ));
        }
        self.data_root = real;
        Ok(())
    }
}

/// The custom callback's command: checked now, so a typo is a usage error
/// rather than a failure at every sequence.
fn custom_callback(path: &Path, timeout_s: f64) -> Result<context::CustomSettings, String> {
    let timeout = Duration::try_from_secs_f64(timeout_s)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            format!("--custom-callback-timeout {timeout_s}: must be a number of seconds > 0")
        })?;
    let real = path
        .canonicalize()
        .map_err(|e| format!("--custom-callback {}: {e}", path.display()))?;
    if !real.is_file() {
        return Err(format!("--custom-callback {}: not a file", path.display()));
    }
    let python = std::env::var_os("FWS_PYTHON").unwrap_or_else(|| "python3".into());
    Ok(context::CustomSettings {
        command: callbacks::custom::command_for(&real, python),
        timeout,
    })
}

fn load_groups(
    path: Option<&Path>,
    default: fn() -> Result<PvGroups, station::PvGroupError>,
) -> Result<PvGroups, String> {
    match path {
        None => default().map_err(|e| e.to_string()),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            PvGroups::parse_yaml(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

/// Test mode talks to its own simulator: keep Channel Access on loopback
/// unless the site configured it.
fn loopback_defaults() {
    for (key, value) in [
        ("EPICS_CA_ADDR_LIST", "127.0.0.1"),
        ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
        ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1"),
        ("EPICS_CAS_BEACON_ADDR_LIST", "127.0.0.1"),
        ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO"),
    ] {
        if std::env::var_os(key).is_none() {
            // Before any thread starts (the runtime is built after this).
            std::env::set_var(key, value);
        }
    }
}

/// What the start read from disk before the runtime started.
struct Files {
    /// A file the last daemon left open, marked.
    recovered: Result<Option<journal::Recovered>, String>,
    data_root: Arc<dataroot::DataRoot>,
    /// The autosave file (used with embedded PVs only).
    autosave_path: PathBuf,
    /// The inputs it holds.
    saved: Saved,
    /// Why it could not be read.
    saved_problem: Option<String>,
}

async fn serve(mut setup: Setup, files: Files) -> Result<(), String> {
    let Files {
        recovered,
        data_root,
        autosave_path,
        saved,
        saved_problem,
    } = files;
    let main = setup.prefixes.main.clone();
    let max_steps = setup.station.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
    let liveness = Arc::new(watchdog::Liveness::default());
    let client = Arc::new(
        ca::PvClient::new(Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?,
    );
    let specs = bridge::bridge_pvs(&main, max_steps);
    let mut autosave_writer = None;
    let (bridge, writes, sim, autosave, hosting) = match setup.pv_host {
        PvHost::Embedded => {
            let (restored, specs) = restore(&setup, specs, &saved, saved_problem);
            let (autosave, writer) = Autosave::start(autosave_path, saved, autosave::PERIOD)?;
            autosave_writer = Some(writer);
            let settings = setup.sim.take();
            let (server, writes, sim) = start_server(&setup, specs, settings)?;
            let hosting = format!(
                "serving {main}* on port {}, {restored} inputs restored{}",
                server.port(),
                if sim.is_some() {
                    ", simulator built in"
                } else {
                    ""
                }
            );
            let sim = sim.map(|s| (s, Arc::clone(&server)));
            (
                Bridge::Embedded(server),
                writes,
                sim,
                Some(autosave),
                hosting,
            )
        }
        PvHost::Ioc => {
            let (events, writes) = tokio::sync::mpsc::channel(1024);
            let watched: Vec<String> = specs
                .iter()
                .filter(|s| s.writable)
                .map(|s| s.name.clone())
                .collect();
            let missing = client.connect_all(&watched).await;
            if !missing.is_empty() {
                warn!(
                    "{} of the IOC's operator PVs not connected yet (first: {}); waiting for them",
                    missing.len(),
                    missing[0]
                );
            }
            // A daemon that died mid-scan left Trigger and Busy at 1 in the
            // IOC: clear them before the monitors start, so a restart never
            // begins a scan by itself.
            for name in ["Trigger", "Busy"] {
                let full = format!("{main}{name}");
                if let Err(e) = client
                    .put_wait(&full, &Value::Long(0), Duration::from_secs(5))
                    .await
                {
                    warn!("clearing {full} at start: {e}");
                }
            }
            let ioc = host::IocBridge::start(Arc::clone(&client), &specs, events);
            let hosting = format!("with its PVs {main}* in a site IOC (no server of its own)");
            (Bridge::Ioc(ioc), writes, None, None, hosting)
        }
    };
    let mut ctx = Context::new(
        setup.index,
        setup.prefixes.clone(),
        data_root,
        max_steps,
        setup.station.timing.clone(),
        setup.groups.clone(),
        bridge,
        client,
    );
    ctx.durability = setup.station.durability;
    if let Some(custom) = setup.custom.clone() {
        info!(
            "custom callback: {} (each call within {:.1} s)",
            custom.command.program.display(),
            custom.timeout.as_secs_f64()
        );
        ctx.custom = Some(custom);
    }
    let ctx = Arc::new(ctx);
    logging::publish_to(ctx.publisher.clone());
    info!(
        "fws-daemon {} {hosting} (data root {})",
        env!("CARGO_PKG_VERSION"),
        setup.data_root.display(),
    );
    match recovered {
        Ok(None) => {}
        // No file came of it (see journal::mark).
        Ok(Some(found)) if !found.marked && found.exit_status.is_empty() => {
            warn!("{:?}: {}", found.file, found.reason)
        }
        Ok(Some(found)) if !found.marked => info!(
            "the last daemon's note named {:?}, which it had closed after all ({})",
            found.file, found.exit_status
        ),
        Ok(Some(found)) => {
            warn!(
                "the last daemon left {:?} open: marked {} ({})",
                found.file, found.exit_status, found.reason
            );
            if found.exit_status == runner::ExitStatus::Interrupted.label() {
                ctx.set(
                    "ScanExitStatus",
                    Value::Long(runner::ExitStatus::Interrupted as i64),
                );
                ctx.set(
                    "ScanExitReason",
                    Value::Text(format!("{:?}: {}", found.file, found.reason)),
                );
            }
        }
        Err(e) => warn!("a file the last daemon left open could not be marked: {e}"),
    }
    // Started with the loop it watches (not during setup, which may wait
    // for an IOC longer than a short limit).
    let limit = watchdog::limit(setup.station.timing.watchdog_s.map(station::secs));
    watchdog::spawn(Arc::clone(&liveness), limit, |message| {
        error!("{message}");
        logging::flush();
        std::process::exit(EXIT_WATCHDOG);
    })
    .map_err(|e| format!("cannot start the watchdog thread: {e}"))?;
    let watch = cycle::Watch {
        liveness,
        stall_after: setup.stall_after,
    };
    cycle::run(
        Arc::clone(&ctx),
        writes,
        sim,
        autosave,
        watch,
        ca::shutdown_signal(),
    )
    .await;
    if let Some(writer) = autosave_writer {
        // The inputs the cycle saved last, on disk before the exit.
        if let Err(e) = tokio::task::spawn_blocking(move || writer.finish()).await {
            warn!("autosave: the last inputs may not be saved: {e}");
        }
    }
    if let Bridge::Ioc(ioc) = &ctx.bridge {
        ioc.flush(Duration::from_secs(5), &format!("{main}Busy"))
            .await;
    }
    Ok(())
}

/// The autosaved inputs (read before the runtime started) as the specs'
/// initial values, where they still meet their PV's rule.
fn restore(
    setup: &Setup,
    mut specs: Vec<ca::PvSpec>,
    autosave: &Saved,
    problem: Option<String>,
) -> (usize, Vec<ca::PvSpec>) {
    let main = &setup.prefixes.main;
    if let Some(problem) = problem {
        warn!("autosave not restored, using defaults: {problem}");
    }
    let mut restored = 0;
    for spec in &mut specs {
        let Some(name) = spec.name.strip_prefix(main.as_str()) else {
            continue;
        };
        if let Some(saved) = bridge::INPUTS
            .contains(&name)
            .then(|| autosave.get(name))
            .flatten()
        {
            match spec.kind.check(saved) {
                Ok(()) => {
                    spec.initial = saved.clone();
                    restored += 1;
                }
                Err(reason) => warn!("autosaved {name} not restored ({reason}); default kept"),
            }
        }
    }
    (restored, specs)
}

/// The embedded server: the bridge PVs, and the simulator's in test mode.
#[allow(clippy::type_complexity)]
fn start_server(
    setup: &Setup,
    mut specs: Vec<ca::PvSpec>,
    sim: Option<embedded_sim::Settings>,
) -> Result<
    (
        Arc<ca::PvServer>,
        tokio::sync::mpsc::Receiver<ca::WriteEvent>,
        Option<embedded_sim::Embedded>,
    ),
    String,
> {
    let sim =
        sim.map(|settings| embedded_sim::Embedded::new(settings, &setup.prefixes, &setup.groups));
    if let Some(sim) = &sim {
        specs.extend(sim.specs());
    }
    let port = std::env::var("EPICS_CA_SERVER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5064);
    let (server, writes) = ca::PvServer::start(specs, port, 1024).map_err(|e| e.to_string())?;
    Ok((Arc::new(server), writes, sim))
}
