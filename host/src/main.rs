//! `source-instagram`: runs the Instagram connector component and speaks the Airbyte protocol.
//!
//! Owns the command line (exactly Airbyte's `spec`, `check`, `discover`, `read`, plus `demo`)
//! and what each outcome means: exit codes, CONNECTION_STATUS versus TRACE ERROR, and how a
//! guest error or trap is reported. Only AirbyteMessages go to stdout (see `protocol`).

mod clock;
mod demo;
mod network;
mod protocol;
mod runtime;
mod settings;

use clap::{Parser, Subcommand};
use network::NetworkPolicy;
use protocol::{Failure, FailureType, Output};
use runtime::{ConnectorError, Limits, Runtime, WitFailureType};
use serde_json::Value;
use settings::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "source-instagram", version, about = "Airbyte source for Instagram professional accounts, run as a sandboxed WebAssembly component")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run this connector component (.wasm) instead of the embedded one.
    #[arg(long, global = true, value_name = "FILE")]
    component: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the connector specification.
    Spec,
    /// Check the config and the credentials.
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the catalog of streams.
    Discover {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Read the configured catalog.
    Read {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "FILE")]
        catalog: PathBuf,
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
    /// Run a full read against a built-in sandbox (a fake Graph API with deterministic data);
    /// needs no credentials.
    Demo {
        /// Dataset of the sandbox: small, demo or bench.
        #[arg(long, default_value = "demo")]
        dataset: String,
        /// Print only the summary, not the messages.
        #[arg(long)]
        summary_only: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = Output::stdout();
    let tokio = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            output.error(&Failure::system("Could not start the host's async runtime", e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let code = tokio.block_on(run(cli, output.clone()));
    output.flush();
    code
}

/// A deterministic "now" for the guest (`SOURCE_INSTAGRAM_FAKE_NOW`, RFC 3339); tests and the
/// sandbox use it so incremental windows are reproducible.
fn fixed_now() -> Option<chrono::DateTime<chrono::Utc>> {
    let text = std::env::var("SOURCE_INSTAGRAM_FAKE_NOW").ok()?;
    chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&chrono::Utc))
}

async fn run(cli: Cli, output: Output) -> ExitCode {
    let runtime = match Runtime::load(cli.component.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            output.error(&Failure::system("Could not load the connector component", format!("{e:#}")));
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Command::Spec => spec(&runtime, &output).await,
        Command::Check { config } => return check(&runtime, &output, &config).await,
        Command::Discover { config } => discover(&runtime, &output, &config).await,
        Command::Read { config, catalog, state } => {
            read(&runtime, &output, &config, &catalog, state.as_deref(), fixed_now()).await
        }
        Command::Demo { dataset, summary_only } => return demo::run(&runtime, &dataset, summary_only).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output.error(&failure);
            ExitCode::FAILURE
        }
    }
}

fn from_guest(e: ConnectorError) -> Failure {
    Failure {
        failure_type: match e.failure_type {
            WitFailureType::ConfigError => FailureType::Config,
            WitFailureType::SystemError => FailureType::System,
            WitFailureType::TransientError => FailureType::Transient,
        },
        message: e.message,
        internal: e.internal_message,
        stream: e.stream,
    }
}

/// A trap (crash, deadline, memory limit) of the guest, as the user sees it.
fn from_trap(e: wasmtime::Error) -> Failure {
    let detail = format!("{e:?}");
    let message = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "The connector exceeded its execution deadline and was stopped".to_string(),
        _ if detail.contains("growing memory") || detail.contains("memory allocation") => {
            "The connector component ran out of its memory limit and was stopped".to_string()
        }
        Some(trap) => format!("The connector component crashed ({trap})"),
        None => "The connector component failed unexpectedly".to_string(),
    };
    Failure::system(message, detail)
}

async fn instance(
    runtime: &Runtime,
    output: &Output,
    settings: Option<&Settings>,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(wasmtime::Store<runtime::GuestState>, runtime::SourceConnector), Failure> {
    let policy = match settings {
        Some(s) => {
            output.add_secret(&s.token);
            let pacing = network::Pacing { slow_from: s.usage_slowdown_percent, ..network::Pacing::default() };
            let limits = network::RetryLimits { max_total_wait: s.max_rate_limit_wait, ..network::RetryLimits::default() };
            let limiter = network::Limiter::new(pacing, limits, clock::Clock::from_env());
            NetworkPolicy::new(s.origin.clone(), Some(s.token.clone()), output.clone(), limiter)
        }
        // No config (spec): no network at all.
        None => NetworkPolicy::new(
            network::Origin { scheme: "none".into(), host: "none".into(), port: 0 },
            None,
            output.clone(),
            network::Limiter::new(network::Pacing::default(), network::RetryLimits::default(), clock::Clock::real()),
        ),
    };
    runtime
        .instantiate(policy, output.clone(), &Limits::from_env(), now)
        .await
        .map_err(|e| Failure::system("Could not start the connector component", format!("{e:#}")))
}

async fn spec(runtime: &Runtime, output: &Output) -> Result<(), Failure> {
    let (mut store, conn) = instance(runtime, output, None, None).await?;
    let spec = conn.airbyte_connector_source().call_spec(&mut store).await.map_err(from_trap)?;
    let spec: Value = serde_json::from_str(&spec).map_err(|e| Failure::system("The connector returned an invalid spec", e.to_string()))?;
    output.spec(spec);
    Ok(())
}

async fn check(runtime: &Runtime, output: &Output, config: &std::path::Path) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(f) => {
            output.connection_status(false, Some(&f.message));
            return ExitCode::SUCCESS;
        }
    };
    let result = async {
        let (mut store, conn) = instance(runtime, output, Some(&settings), fixed_now()).await?;
        conn.airbyte_connector_source().call_check(&mut store, &settings.guest_config).await.map_err(from_trap)
    }
    .await;
    match result {
        Ok(Ok(())) => {
            output.connection_status(true, None);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            let failure = from_guest(e);
            if failure.failure_type == FailureType::Config {
                output.connection_status(false, Some(&failure.message));
                ExitCode::SUCCESS
            } else {
                output.error(&failure);
                ExitCode::FAILURE
            }
        }
        Err(failure) => {
            output.error(&failure);
            ExitCode::FAILURE
        }
    }
}

async fn discover(runtime: &Runtime, output: &Output, config: &std::path::Path) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    let (mut store, conn) = instance(runtime, output, Some(&settings), fixed_now()).await?;
    let catalog = conn
        .airbyte_connector_source()
        .call_discover(&mut store, &settings.guest_config)
        .await
        .map_err(from_trap)?
        .map_err(from_guest)?;
    let catalog: Value =
        serde_json::from_str(&catalog).map_err(|e| Failure::system("The connector returned an invalid catalog", e.to_string()))?;
    output.catalog(catalog);
    Ok(())
}

/// The catalog the component advertises (for the sandbox's configured catalog).
pub(crate) async fn streams_catalog(runtime: &Runtime, output: &Output, settings: &Settings) -> Result<Value, Failure> {
    let (mut store, conn) = instance(runtime, output, Some(settings), None).await?;
    let catalog = conn
        .airbyte_connector_source()
        .call_discover(&mut store, &settings.guest_config)
        .await
        .map_err(from_trap)?
        .map_err(from_guest)?;
    serde_json::from_str(&catalog).map_err(|e| Failure::system("The connector returned an invalid catalog", e.to_string()))
}

pub(crate) async fn read(
    runtime: &Runtime,
    output: &Output,
    config: &std::path::Path,
    catalog: &std::path::Path,
    state: Option<&std::path::Path>,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    let catalog = settings::read_json_file(catalog, "catalog")?.to_string();
    let state = match state {
        Some(p) => Some(settings::read_json_file(p, "state")?.to_string()),
        None => None,
    };
    read_with(runtime, output, &settings, &catalog, state.as_deref(), now).await
}

pub(crate) async fn read_with(
    runtime: &Runtime,
    output: &Output,
    settings: &Settings,
    catalog: &str,
    state: Option<&str>,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), Failure> {
    let (mut store, conn) = instance(runtime, output, Some(settings), now).await?;
    conn.airbyte_connector_source()
        .call_read(&mut store, &settings.guest_config, catalog, state)
        .await
        .map_err(from_trap)?
        .map_err(from_guest)
}
