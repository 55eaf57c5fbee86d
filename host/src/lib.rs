//! The `source-instagram` host as a library: load the connector component once, then run
//! Airbyte commands on isolated instances of it, one at a time or many tenants side by side.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use source_instagram::{commands::{self, RunEnv}, protocol::Output, runtime::Runtime, settings::Settings};
//! let runtime = Runtime::load(None)?;                        // embedded component, cached compile
//! let output = Output::new(Box::new(std::io::stdout()));     // AirbyteMessages, redacted
//! let settings = Settings::from_value(serde_json::json!({"access_token": "…"})).map_err(|f| anyhow::anyhow!(f.message))?;
//! let (result, _instantiate) = commands::read(&runtime, &output, &settings, r#"{"streams":[]}"#, None, &RunEnv::from_env()).await;
//! # Ok(()) }
//! ```
//!
//! `tenants::run_many` runs a file of jobs with per-tenant limits, outputs and a summary.
//! Module map: `runtime` (Engine, component, Store limits), `network` (the `wasi:http` policy),
//! `protocol` (Airbyte messages on an output), `failure` (failure types and messages), `settings` (the user's config as the host sees
//! it), `renewal` (renewing the token at the start of a read), `recording` (`--record`: every
//! exchange as JSON lines, for replay), `commands` (one command on one
//! instance), `tenants` (many), `clock`, `demo`.

pub mod artifact;
pub mod clock;
pub mod commands;
pub mod demo;
pub mod failure;
pub mod login;
pub mod network;
pub mod protocol;
pub mod recording;
pub mod renewal;
pub mod runtime;
pub mod settings;
pub mod tenants;
