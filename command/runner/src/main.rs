//! The argument runner of the composed command (`source-instagram component --command`).
//!
//! Owns Airbyte's connector CLI for stock runtimes (`wasmtime run`, `jco run`): `spec`,
//! `check --config F`, `discover --config F`, `read --config F --catalog F [--state F]`. It
//! reads the files through WASI (the runtime must grant their directory), calls the connector's
//! `source` export and prints SPEC / CONNECTION_STATUS / CATALOG / TRACE ERROR the way
//! `source-instagram` does; records and the rest come from the stdout emitter. It hands the
//! config to the network policy (`command/http-policy`) before the connector sees it. It must
//! not interpret configs, catalogs or states (the connector owns those) nor touch the network.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "command-runner",
    });
}

use bindings::airbyte::connector::types::{ConnectorError, FailureType};
use bindings::airbyte::connector::{network_policy, source};
use serde_json::{Value, json};
use std::process::ExitCode;

const USAGE: &str = "usage: source-instagram.wasm spec | check --config FILE | discover --config FILE | read --config FILE --catalog FILE [--state FILE]";

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `--name VALUE` pairs after the command; each name at most once and only the ones allowed.
fn options(args: &[String], allowed: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let name = flag
            .strip_prefix("--")
            .filter(|n| allowed.contains(n))
            .ok_or_else(|| format!("unexpected argument {flag}"))?;
        let value = rest.next().ok_or_else(|| format!("{flag} needs a file"))?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("{flag} given twice"));
        }
        out.push((name.to_string(), value.clone()));
    }
    Ok(out)
}

/// The text of the file given as `--name`, checked to be JSON.
fn json_file(opts: &[(String, String)], name: &str) -> Result<Option<String>, String> {
    let Some((_, path)) = opts.iter().find(|(n, _)| n == name) else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {name} file {path}: {e} (is its directory granted to the runtime?)"))?;
    serde_json::from_str::<Value>(&text).map_err(|e| format!("the {name} file {path} is not JSON: {e}"))?;
    Ok(Some(text))
}

fn required(opts: &[(String, String)], name: &str) -> Result<String, String> {
    json_file(opts, name)?.ok_or_else(|| format!("--{name} FILE is required"))
}

/// The config file, told to the network policy first (it allows only the config's API origin).
fn config(opts: &[(String, String)]) -> Result<String, String> {
    let config = required(opts, "config")?;
    network_policy::configure(&config);
    Ok(config)
}

fn trace_error(message: &str, failure_type: &str, internal: Option<&str>, stream: Option<&str>) {
    let mut error = json!({"message": message, "failure_type": failure_type});
    if let Some(internal) = internal {
        error["internal_message"] = json!(internal);
    }
    if let Some(stream) = stream {
        error["stream_descriptor"] = json!({"name": stream});
    }
    println!("{}", json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms(), "error": error}}));
}

fn report(e: &ConnectorError) -> ExitCode {
    let failure_type = match e.failure_type {
        FailureType::ConfigError => "config_error",
        FailureType::SystemError => "system_error",
        FailureType::TransientError => "transient_error",
    };
    trace_error(&e.message, failure_type, e.internal_message.as_deref(), e.stream.as_deref());
    ExitCode::FAILURE
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (command, rest) = args.split_first().ok_or("no command")?;
    match command.as_str() {
        "spec" => {
            options(rest, &[])?;
            let spec: Value =
                serde_json::from_str(&source::spec()).map_err(|e| format!("the connector's spec is not JSON: {e}"))?;
            println!("{}", json!({"type": "SPEC", "spec": spec}));
            Ok(ExitCode::SUCCESS)
        }
        "check" => {
            let config = config(&options(rest, &["config"])?)?;
            let status = match source::check(&config) {
                Ok(()) => json!({"status": "SUCCEEDED"}),
                // Like Airbyte's CDK: a config problem is a FAILED status, anything else an error.
                Err(e) if e.failure_type == FailureType::ConfigError => {
                    json!({"status": "FAILED", "message": e.message})
                }
                Err(e) => return Ok(report(&e)),
            };
            println!("{}", json!({"type": "CONNECTION_STATUS", "connectionStatus": status}));
            Ok(ExitCode::SUCCESS)
        }
        "discover" => {
            let config = config(&options(rest, &["config"])?)?;
            match source::discover(&config) {
                Ok(catalog) => {
                    let catalog: Value = serde_json::from_str(&catalog)
                        .map_err(|e| format!("the connector's catalog is not JSON: {e}"))?;
                    println!("{}", json!({"type": "CATALOG", "catalog": catalog}));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(report(&e)),
            }
        }
        "read" => {
            let opts = options(rest, &["config", "catalog", "state"])?;
            let (config, catalog) = (config(&opts)?, required(&opts, "catalog")?);
            match source::read(&config, &catalog, json_file(&opts, "state")?.as_deref()) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => Ok(report(&e)),
            }
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            trace_error(&format!("Invalid command line: {problem}"), "config_error", None, None);
            ExitCode::from(2)
        }
    }
}
