//! The command line: the reference's, plus ours (`--data-root`,
//! `--config`, `--no-sim`, `--pv-host`, `--sim-config`,
//! `--custom-callback-timeout`).

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// A scan daemon for EPICS fast wire scanners.
#[derive(Debug, Parser)]
#[command(name = "fws-daemon", version)]
pub struct Args {
    /// Scanner index, 0..99 (production names exist for 1..6).
    pub scanner_index: i64,
    /// Use the Test:* prefixes and, unless --no-sim, the built-in simulator.
    #[arg(long)]
    pub test_mode: bool,
    /// A custom callback, run as a child process: a program speaking the
    /// JSON-lines protocol, or a reference-style Python file (.py, with
    /// get_pre_callback / get_post_callback) run through the bundled adapter.
    #[arg(long, value_name = "PATH")]
    pub custom_callback: Option<PathBuf>,
    /// Seconds the custom callback may take to answer each message
    /// (default 10; needs --custom-callback).
    #[arg(long, value_name = "SECONDS")]
    pub custom_callback_timeout: Option<f64>,
    /// Log folder (default var/log/fws-daemon/fws-NN).
    #[arg(long, value_name = "PATH")]
    pub log_dir: Option<PathBuf>,
    /// Every output and extra-PV file must lie inside this folder (else the
    /// config's data_root; one of the two is required; not /).
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Station settings (YAML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// In test mode, do not start the built-in simulator (run fws-sim).
    #[arg(long)]
    pub no_sim: bool,
    /// Simulator settings (YAML: beam, sweep time, faults).
    #[arg(long, value_name = "FILE")]
    pub sim_config: Option<PathBuf>,
    /// Who hosts the daemon's PVs.
    #[arg(long, value_enum, default_value_t = PvHost::Embedded)]
    pub pv_host: PvHost,
}

/// The custom callback's per-message timeout when none is given.
pub const DEFAULT_CUSTOM_CALLBACK_TIMEOUT_S: f64 = 10.0;

/// Who hosts the daemon's PVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PvHost {
    /// Our own Channel Access server.
    Embedded,
    /// A site IOC that loads deploy/db/fws_daemon.db; the daemon is its client.
    Ioc,
}
