//! `fws-watlow`: Watlow controllers from the command line. Exit codes: 0
//! done, 1 the device or the port failed (the message says how), 2 bad
//! arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watlow::manager::{DeviceConfig, Manager, PortConfig};
use watlow::modbus::{WordOrder, WordOrderSetting};
use watlow::port::{ModbusParity, PortSettings, Protocol};
use watlow::recorder::{record, PollSource, RecordOptions};
use watlow::registry::{find, Family, ParamSpec};
use watlow::Value;

#[derive(Parser)]
#[command(
    name = "fws-watlow",
    version,
    about = "Read, set, record and discover Watlow EZ-ZONE controllers (Standard Bus, Modbus RTU)",
    after_help = "Examples:\n  fws-watlow read /dev/ttyUSB0 --protocol stdbus --address 1 pv sp\n  fws-watlow set /dev/ttyUSB0 --protocol modbus --address 1 --setpoint 75\n  fws-watlow record /dev/ttyUSB0 --address 1 --rate 10 --duration 60 --sink sqlite:oven.db\n  fws-watlow discover /dev/ttyUSB0 /dev/ttyUSB1\n  fws-watlow sim --protocol stdbus --link /tmp/watlow0"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read parameters (by name, alias or id; default: pv sp).
    Read {
        #[command(flatten)]
        device: DeviceArgs,
        /// Parameters.
        params: Vec<String>,
    },
    /// Write the setpoint (or --param NAME): checked, written once.
    Set {
        #[command(flatten)]
        device: DeviceArgs,
        /// The setpoint, in the wire's unit.
        #[arg(long)]
        setpoint: Option<f64>,
        /// Another parameter to write, with --value.
        #[arg(long, requires = "value")]
        param: Option<String>,
        /// The value for --param.
        #[arg(long)]
        value: Option<f64>,
    },
    /// Record parameters at a fixed cadence into a sink.
    Record {
        #[command(flatten)]
        device: DeviceArgs,
        /// Ticks per second.
        #[arg(long, default_value_t = 1.0)]
        rate: f64,
        /// Seconds to record (until Ctrl-C without it).
        #[arg(long)]
        duration: Option<f64>,
        /// csv:FILE, jsonl:FILE, sqlite:FILE or hdf5:FILE.
        #[arg(long)]
        sink: String,
        /// Parameters (default: pv sp).
        params: Vec<String>,
    },
    /// Look for controllers: each port, baud and protocol, addresses 1..N;
    /// read-only, and a port that fails is reported, never fatal.
    Discover {
        /// Ports to try.
        ports: Vec<PathBuf>,
        /// Highest address tried.
        #[arg(long, default_value_t = 16)]
        max_address: u8,
        /// Seconds to wait for each answer.
        #[arg(long, default_value_t = 0.1)]
        timeout: f64,
    },
    /// Serve simulated PMs on a pseudo-terminal until Ctrl-C.
    Sim {
        /// Line protocol.
        #[arg(long, value_enum, default_value_t = ProtocolArg::Stdbus)]
        protocol: ProtocolArg,
        /// A stable link to the pty (printed either way).
        #[arg(long)]
        link: Option<PathBuf>,
        /// Addresses served.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        addresses: Vec<u8>,
        /// Modbus float word order.
        #[arg(long, value_enum, default_value_t = OrderArg::LowHigh)]
        word_order: OrderArg,
        /// The plant's time constant, seconds.
        #[arg(long, default_value_t = 30.0)]
        tau: f64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    Stdbus,
    Modbus,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrderArg {
    Auto,
    LowHigh,
    HighLow,
}

#[derive(Clone, Copy, ValueEnum)]
enum FamilyArg {
    Pm,
    F4,
    F4p,
    Sd,
}

#[derive(Clone, Copy, ValueEnum)]
enum ParityArg {
    None,
    Even,
    Odd,
}

#[derive(Args)]
struct DeviceArgs {
    /// The serial port.
    port: PathBuf,
    /// Line protocol.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Stdbus)]
    protocol: ProtocolArg,
    /// Bus address (Standard Bus 1..16, Modbus 1..247).
    #[arg(long, default_value_t = 1)]
    address: u8,
    /// Modbus baud (Standard Bus is 38400).
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// Modbus parity.
    #[arg(long, value_enum, default_value_t = ParityArg::None)]
    parity: ParityArg,
    /// Controller family (Modbus).
    #[arg(long, value_enum, default_value_t = FamilyArg::Pm)]
    family: FamilyArg,
    /// Modbus float word order.
    #[arg(long, value_enum, default_value_t = OrderArg::Auto)]
    word_order: OrderArg,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 1.0)]
    timeout: f64,
}

fn order(o: OrderArg) -> WordOrderSetting {
    match o {
        OrderArg::Auto => WordOrderSetting::Auto,
        OrderArg::LowHigh => WordOrderSetting::LowHigh,
        OrderArg::HighLow => WordOrderSetting::HighLow,
    }
}

fn settings(protocol: ProtocolArg, baud: u32, parity: ParityArg) -> PortSettings {
    match protocol {
        ProtocolArg::Stdbus => PortSettings::stdbus(),
        ProtocolArg::Modbus => PortSettings::modbus(
            baud,
            match parity {
                ParityArg::None => ModbusParity::None,
                ParityArg::Even => ModbusParity::Even,
                ParityArg::Odd => ModbusParity::Odd,
            },
        ),
    }
}

const DEVICE: &str = "device";

impl DeviceArgs {
    fn manager(&self) -> Result<Manager, String> {
        Manager::start(vec![PortConfig {
            path: self.port.clone(),
            settings: settings(self.protocol, self.baud, self.parity),
            timeout: secs(self.timeout)?,
            devices: vec![DeviceConfig {
                name: DEVICE.into(),
                address: self.address,
                family: match self.family {
                    FamilyArg::Pm => Family::Pm,
                    FamilyArg::F4 => Family::F4,
                    FamilyArg::F4p => Family::F4p,
                    FamilyArg::Sd => Family::Sd,
                },
                word_order: order(self.word_order),
            }],
        }])
        .map_err(|e| e.to_string())
    }
}

fn secs(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s} s is not a positive duration"))
}

fn params(names: &[String]) -> Result<Vec<&'static ParamSpec>, String> {
    let names: Vec<String> = if names.is_empty() {
        vec!["pv".into(), "sp".into()]
    } else {
        names.to_vec()
    };
    names
        .iter()
        .map(|n| find(n).map_err(|e| e.to_string()))
        .collect()
}

fn shown(v: &Value) -> String {
    match v {
        Value::F64(x) => format!("{x}"),
        Value::I64(x) => x.to_string(),
        Value::Str(s) => s.clone(),
        Value::Unavailable => "unavailable (sensor failed)".into(),
    }
}

async fn read(device: DeviceArgs, names: Vec<String>) -> Result<(), String> {
    let specs = params(&names)?;
    let mut manager = device.manager()?;
    let samples = manager
        .poll_many(&specs, &[1])
        .await
        .map_err(|e| e.to_string())?;
    for spec in &specs {
        match samples.iter().find(|s| s.parameter_id == spec.id) {
            Some(s) => println!("{} ({}): {}", spec.name, spec.id, shown(&s.value)),
            None => {
                return Err(format!(
                    "{} ({}): no answer (see the warning above)",
                    spec.name, spec.id
                ))
            }
        }
    }
    Ok(())
}

async fn set(
    device: DeviceArgs,
    setpoint: Option<f64>,
    param: Option<String>,
    value: Option<f64>,
) -> Result<(), String> {
    let (spec, value) = match (setpoint, param, value) {
        (Some(v), None, _) => (find("setpoint").map_err(|e| e.to_string())?, v),
        (None, Some(p), Some(v)) => (find(&p).map_err(|e| e.to_string())?, v),
        _ => return Err("give --setpoint V, or --param NAME --value V".into()),
    };
    let manager = device.manager()?;
    let stored = manager
        .write(DEVICE, spec, 1, value)
        .await
        .map_err(|e| e.to_string())?;
    println!("{} ({}) = {}", spec.name, spec.id, shown(&stored));
    Ok(())
}

async fn record_cmd(
    device: DeviceArgs,
    rate: f64,
    duration: Option<f64>,
    sink: String,
    names: Vec<String>,
) -> Result<(), String> {
    let specs = params(&names)?;
    let sink = watlow::sinks::open_sink(&sink).map_err(|e| e.to_string())?;
    let manager = device.manager()?;
    let duration = duration.map(secs).transpose()?;
    let recording = record(
        Box::new(manager),
        specs,
        RecordOptions {
            rate_hz: rate,
            duration,
            auto_reconnect: true,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let summary = Arc::clone(&recording.summary);
    let live = std::io::stderr().is_terminal();
    let status = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let s = summary.lock().map(|s| s.clone()).unwrap_or_default();
            if live {
                eprint!(
                    "\r{} ticks, {} late, drift {:.1} ms, {} disconnects   ",
                    s.samples_emitted, s.samples_late, s.max_drift_ms, s.disconnects
                );
                let _ = std::io::stderr().flush();
            }
        }
    });
    let stopper = recording.stopper();
    let on_signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop();
        }
    });
    let rows = watlow::sinks::pipe(&recording.stream, sink, 64, Duration::from_secs(1)).await;
    on_signal.abort();
    status.abort();
    let summary = recording.finish().await.map_err(|e| e.to_string())?;
    if live {
        eprintln!();
    }
    let rows = rows.map_err(|e| e.to_string())?;
    println!(
        "{rows} rows; {} ticks, {} late, max drift {:.2} ms, tick p50 {:.2} ms p99 {:.2} ms, {} disconnects",
        summary.samples_emitted,
        summary.samples_late,
        summary.max_drift_ms,
        summary.tick_duration_ms_p50,
        summary.tick_duration_ms_p99,
        summary.disconnects
    );
    Ok(())
}

async fn discover(ports: Vec<PathBuf>, max_address: u8, timeout: f64) -> Result<(), String> {
    let timeout = secs(timeout)?;
    let pv = find("pv").map_err(|e| e.to_string())?;
    let mut found = 0;
    for port in &ports {
        let tries: Vec<(PortSettings, &str)> = vec![
            (PortSettings::stdbus(), "stdbus 38400"),
            (
                PortSettings::modbus(38_400, ModbusParity::None),
                "modbus 38400",
            ),
            (
                PortSettings::modbus(19_200, ModbusParity::None),
                "modbus 19200",
            ),
            (
                PortSettings::modbus(9_600, ModbusParity::None),
                "modbus 9600",
            ),
        ];
        for (settings, label) in tries {
            let max = match settings.protocol {
                Protocol::StdBus => max_address.min(16),
                Protocol::ModbusRtu => max_address,
            };
            // Every address in one batch: the absent ones time out.
            let devices = (1..=max)
                .map(|address| DeviceConfig {
                    name: format!("address {address}"),
                    address,
                    family: Family::Pm,
                    word_order: WordOrderSetting::Auto,
                })
                .collect();
            let manager = Manager::start(vec![PortConfig {
                path: port.clone(),
                settings,
                timeout,
                devices,
            }]);
            let Ok(mut manager) = manager else { continue };
            match manager.poll_many(&[pv], &[1]).await {
                Ok(samples) => {
                    for s in samples {
                        found += 1;
                        println!(
                            "{}: {label}, address {}: PV {}",
                            port.display(),
                            s.address,
                            shown(&s.value)
                        );
                    }
                }
                Err(e) => println!("{}: {label}: {e}", port.display()),
            }
            // The port is closed before the next settings open it.
            manager.close().await;
        }
    }
    println!("{found} controllers found");
    Ok(())
}

async fn serve_sim(
    protocol: ProtocolArg,
    link: Option<PathBuf>,
    addresses: Vec<u8>,
    word_order: OrderArg,
    tau: f64,
) -> Result<(), String> {
    use sim::watlow::{serve, Controller, ModbusDevice, ModbusLine, Plant, PtyLine, StdBusLine};
    let pty = PtyLine::open(link.as_deref()).map_err(|e| format!("opening a pty: {e}"))?;
    println!("{}", pty.path().display());
    let tau = Duration::try_from_secs_f64(tau).map_err(|e| e.to_string())?;
    let controller = |a: u8| Controller::pm(a, 70.0, Plant::new(tau, 0.05, u64::from(a)));
    let served = match protocol {
        ProtocolArg::Stdbus => {
            let mut line = StdBusLine::new();
            for &a in &addresses {
                if !line.add(a, controller(a)) {
                    return Err(format!("Standard Bus addresses are 1..16, not {a}"));
                }
            }
            tokio::spawn(serve(Arc::new(Mutex::new(line)), pty))
        }
        ProtocolArg::Modbus => {
            let order = match word_order {
                OrderArg::HighLow => WordOrder::HighLow,
                _ => WordOrder::LowHigh,
            };
            let mut line = ModbusLine::new();
            for &a in &addresses {
                line.add(a, ModbusDevice::new(controller(a), order));
            }
            tokio::spawn(serve(Arc::new(Mutex::new(line)), pty))
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        ended = served => match ended {
            Ok(Err(e)) => Err(format!("the simulated line failed: {e}")),
            _ => Ok(()),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Discovery expects silence from most addresses: only errors then.
    let level = match cli.command {
        Command::Discover { .. } => "error",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fws-watlow: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Read { device, params } => read(device, params).await,
            Command::Set {
                device,
                setpoint,
                param,
                value,
            } => set(device, setpoint, param, value).await,
            Command::Record {
                device,
                rate,
                duration,
                sink,
                params,
            } => record_cmd(device, rate, duration, sink, params).await,
            Command::Discover {
                ports,
                max_address,
                timeout,
            } => discover(ports, max_address, timeout).await,
            Command::Sim {
                protocol,
                link,
                addresses,
                word_order,
                tau,
            } => serve_sim(protocol, link, addresses, word_order, tau).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fws-watlow: {e}");
            ExitCode::from(1)
        }
    }
}
