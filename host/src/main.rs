//! `source-instagram`: runs the Instagram connector component and speaks the Airbyte protocol.
//!
//! Owns the command line: exactly Airbyte's `spec`, `check`, `discover`, `read`, plus `demo`
//! (the built-in sandbox), `run-many` (many tenants in one process), `login` (Meta's OAuth in a
//! browser, see `login`) and `component` (writes the component, bare or as a `wasi:cli/run`
//! command, see `artifact`); `check` and `read` take `--record FILE` (see `recording`). What
//! each command
//! does and means lives in `commands`; only AirbyteMessages go to stdout (see `protocol`).

use clap::{Parser, Subcommand};
use source_instagram::commands::{self, RunEnv};
use source_instagram::protocol::{Failure, Output};
use source_instagram::runtime::Runtime;
use source_instagram::settings::{self, Settings};
use source_instagram::{artifact, demo, recording, runtime, tenants};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "source-instagram",
    version,
    about = "Airbyte source for Instagram professional accounts, run as a sandboxed WebAssembly component"
)]
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
        #[command(flatten)]
        record: RecordArgs,
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
        #[command(flatten)]
        record: RecordArgs,
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
    /// Log in with Meta in a browser (Facebook Login, or Business Login for Instagram with
    /// --login instagram) and write the long-lived token, checked, into a config file; the
    /// token is never printed.
    Login {
        /// The Meta app's id (for Instagram Login, its Instagram app id).
        #[arg(long, value_name = "ID")]
        app_id: String,
        /// The app's secret (for Instagram Login, its Instagram app secret).
        #[arg(long, value_name = "SECRET")]
        app_secret: String,
        #[arg(long, value_enum, default_value = "facebook")]
        login: source_instagram::login::LoginKind,
        /// The config file to write or update.
        #[arg(long, value_name = "FILE", default_value = "config.json")]
        config: PathBuf,
        /// Local port for Meta's redirect to http://localhost:PORT/callback (0: any free port);
        /// the app must list that redirect URI.
        #[arg(long, default_value_t = 8976)]
        port: u16,
        /// Only print the login URL; do not open a browser.
        #[arg(long)]
        no_browser: bool,
        /// One origin for every Meta host (e.g. the sandbox's fake Graph API); also written as
        /// the config's `api_base_url`.
        #[arg(long, value_name = "URL")]
        api_base_url: Option<String>,
        /// How long to wait for the login in the browser.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Write the connector component (the embedded one, or --component) to a file, for other
    /// component runtimes; with --command, composed into a `wasi:cli/run` command that takes
    /// Airbyte's CLI (`wasmtime run -S http --dir . FILE read --config …`, `jco run FILE …`).
    Component {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Compose the connector with a stdout emitter, the network policy (retries, pacing,
        /// allow-list; `command/http-policy`) and an argument runner.
        #[arg(long)]
        command: bool,
    },
    /// Run many jobs (check or read, each with its own config, catalog, state and limits) in
    /// one process, each in its own sandboxed instance.
    RunMany {
        /// JSON lines, one job each: {"id", "command": "check"|"read", "config", "catalog",
        /// "state", "component", "memory_mb", "deadline_secs", "max_output_mb"}.
        #[arg(long, value_name = "FILE")]
        jobs: PathBuf,
        /// Each job's messages go to DIR/<id>.jsonl; results to DIR/summary.json.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Jobs running at once (1 to 1024).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
        concurrency: u32,
    },
}

/// `--record FILE` and its option.
#[derive(clap::Args)]
struct RecordArgs {
    /// Record every exchange with the Graph API to FILE (JSON lines; tokens, the app secret and
    /// proxy credentials removed), for replay by the fake Graph API (`fake-graph --replay FILE`).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// With --record: also replace free text (captions, comments, usernames, names, media
    /// links) by placeholders, so the file can be shared.
    #[arg(long, requires = "record")]
    record_redact_text: bool,
}

impl RecordArgs {
    /// `env`, recording when asked to (the guest's clock then fixed, see `recording`).
    fn env(
        &self,
        env: &RunEnv,
        command: &str,
        settings: &Settings,
        inputs: (Option<&serde_json::Value>, Option<&serde_json::Value>),
        output: &Output,
    ) -> Result<RunEnv, Failure> {
        let Some(path) = &self.record else { return Ok(env.clone()) };
        recording::recording_env(env, path, self.record_redact_text, command, settings, inputs, output)
    }
}

pub fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = Cli::parse();
    let output = Output::stdout().with_progress_from_env();
    // One command: the guest runs on this thread and its HTTP connections on one worker. Each
    // thread that allocates gets its own malloc arena; a second worker's arena held another
    // ~2 MiB of response buffers at a read's peak, and a current-thread runtime (one arena)
    // delayed each step's requests until the guest waited (BENCHMARKS.md). run-many's tenants
    // share two workers.
    let builder = match cli.command {
        Command::RunMany { .. } => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build(),
        _ => tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build(),
    };
    let tokio = match builder {
        Ok(rt) => rt,
        Err(e) => {
            output.error(&Failure::system("Could not start the host's async runtime", e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let code = tokio.block_on(run(cli, output.clone()));
    output.flush();
    output.finish_progress();
    code
}

/// glibc serves blocks of 128 KiB and more (response bodies, media pages) with their own
/// mapping, returned on free, until the first such block is freed: then it raises that
/// threshold, and later bodies come from the arenas, where their holes keep the peak RSS ~1 MiB
/// higher on a large read (BENCHMARKS.md). Setting the threshold keeps it fixed. musl's malloc
/// maps large blocks anyway.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

async fn run(cli: Cli, output: Output) -> ExitCode {
    if let Command::Component { out, command } = &cli.command {
        let written = match cli.component.as_deref() {
            Some(path) => std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("reading the component {}: {e}", path.display()))
                .and_then(|bytes| artifact::write(out, &bytes, *command)),
            None => artifact::write(out, runtime::EMBEDDED_COMPONENT, *command),
        };
        return match written {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("source-instagram component: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match Runtime::load(cli.component.as_deref()) {
        Ok(r) => std::sync::Arc::new(r),
        Err(e) => {
            output.error(&Failure::system("Could not load the connector component", format!("{e:#}")));
            return ExitCode::FAILURE;
        }
    };
    let env = RunEnv::from_env();
    let outcome = match cli.command {
        Command::Spec => commands::spec(&runtime, &output, &env).await,
        Command::Check { config, record } => {
            let settings = Settings::load(&config, &output);
            let env = match &settings {
                Ok(s) => match record.env(&env, "check", s, (None, None), &output) {
                    Ok(env) => env,
                    Err(failure) => {
                        output.error(&failure);
                        return ExitCode::FAILURE;
                    }
                },
                Err(_) => env,
            };
            let outcome = commands::check(&runtime, &output, settings, &env).await;
            return ExitCode::from(outcome.code as u8);
        }
        Command::Discover { config } => {
            async {
                let settings = Settings::load(&config, &output)?;
                output.catalog(commands::discover(&runtime, &output, &settings, &env).await?);
                Ok(())
            }
            .await
        }
        Command::Read { config, catalog, state, record } => {
            async {
                let settings = Settings::load(&config, &output)?;
                let catalog = settings::read_json_file(&catalog, "catalog")?;
                let state = match state {
                    Some(p) => Some(settings::read_json_file(&p, "state")?),
                    None => None,
                };
                let env = record.env(&env, "read", &settings, (Some(&catalog), state.as_ref()), &output)?;
                let (catalog, state) = (catalog.to_string(), state.map(|s| s.to_string()));
                commands::read(&runtime, &output, &settings, &catalog, state.as_deref(), &env).await.0
            }
            .await
        }
        Command::Demo { dataset, summary_only } => return demo::run(&runtime, &dataset, summary_only, &env).await,
        Command::RunMany { jobs, out, concurrency } => {
            return tenants::run_many(runtime, &jobs, &out, concurrency as usize, &env).await;
        }
        Command::Login { app_id, app_secret, login, config, port, no_browser, api_base_url, timeout_secs } => {
            let args = source_instagram::login::LoginArgs {
                app_id,
                app_secret,
                login,
                config,
                port,
                open_browser: !no_browser,
                api_base_url,
                timeout: std::time::Duration::from_secs(timeout_secs),
            };
            source_instagram::login::run(&args, &runtime, &output, &env).await
        }
        Command::Component { .. } => unreachable!("handled before the runtime is loaded"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output.error(&failure);
            ExitCode::FAILURE
        }
    }
}
