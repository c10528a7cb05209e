//! `fws-sim`: the simulated FWS IOC on its own, for a daemon started with
//! `--test-mode --no-sim` or any other CA client.

use clap::Parser;
use planner::ScannerIndex;
use sim::{SimConfig, SimIoc};
use station::{Naming, Prefixes, PvGroups};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Serves the Test:* PVs of a simulated wire scanner over Channel Access.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Scanner index (test prefixes are the same for every index).
    #[arg(long, default_value_t = 1)]
    index: i64,
    /// Beam, sweep and fault settings (YAML); defaults without it.
    #[arg(long)]
    sim_config: Option<PathBuf>,
    /// TCP/UDP port to serve on (default: EPICS_CA_SERVER_PORT, else 5064).
    #[arg(long)]
    port: Option<u16>,
}

ca::network_fence!();

fn main() -> ExitCode {
    ca::own_shutdown();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match ca::fence::Fence::install_from_env() {
        Ok(Some(allowed)) => eprintln!("fws-sim: binding only on {allowed:?}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("fws-sim: {e}");
            return ExitCode::from(2);
        }
    }
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fws-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let index = ScannerIndex::try_from(args.index).map_err(|e| e.to_string())?;
    let prefixes = Prefixes::new(index, Naming::Test).map_err(|e| e.to_string())?;
    let config = match &args.sim_config {
        Some(path) => SimConfig::load(path).map_err(|e| e.to_string())?,
        None => SimConfig::default(),
    };
    let data = PvGroups::reference_data()
        .and_then(|g| g.with_prefixes(&prefixes))
        .map_err(|e| e.to_string())?;
    let metadata = PvGroups::reference_metadata()
        .and_then(|g| g.with_prefixes(&prefixes))
        .map_err(|e| e.to_string())?;
    let ioc = Arc::new(SimIoc::new(&prefixes, &data, &metadata, config));
    let port = args.port.unwrap_or_else(|| {
        std::env::var("EPICS_CA_SERVER_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(5064)
    });
    let (server, writes) =
        ca::PvServer::start(ioc.pv_specs(), port, 1024).map_err(|e| e.to_string())?;
    let server = Arc::new(server);
    eprintln!(
        "fws-sim: serving {} PVs (scan prefix {}) on port {}",
        ioc.pv_specs().len(),
        prefixes.scan,
        server.port()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        tokio::select! {
            _ = sim::drive(ioc, server, writes) => {}
            _ = ca::shutdown_signal() => eprintln!("fws-sim: stopping"),
        }
    });
    Ok(())
}
