//! The Instagram source connector, compiled to a `wasm32-wasip2` component.
//!
//! This crate owns the connector logic: config, catalog and state parsing, the Graph API
//! client, the stream modules, and the read engine that runs them. It reaches the network only through
//! `wasi:http` (via `waki`), which the host polices, and the outside world only through the
//! `emitter` import. Under `source-instagram` it never sees the access token (the host adds it
//! to allowed requests); under a host that leaves `access_token` in the config, `auth` sends it.
//! It must not format Airbyte envelopes, write to stdout or sleep on rate limits (the host
//! owns all three).

// `ApiError` carries Meta's whole error object; on the real target (wasm32, 4-byte pointers)
// it is half the size clippy measures on a 64-bit host, and errors are the cold path.
#![cfg_attr(not(target_arch = "wasm32"), allow(clippy::result_large_err))]

pub mod accounts;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod days;
pub mod emit;
pub mod engine;
pub mod error;
pub mod graph;
pub mod graph_fields;
pub mod http;
pub mod links;
pub mod metrics;
pub mod parts;
pub mod refusals;
pub mod scheduler;
pub mod state;
pub mod streams;
pub mod transform;
pub mod watch_lists;

mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "source-connector",
    });
}

use bindings::airbyte::connector::types as wit;
use bindings::exports::airbyte::connector::source::Guest;
use error::{ConnectorError, FailureType};

/// The exported component.
#[allow(dead_code)]
struct Connector;

impl Guest for Connector {
    fn spec() -> String {
        streams::spec_json().to_string()
    }

    fn check(config: String) -> Result<(), wit::ConnectorError> {
        let (config, _) = command_config(&config).map_err(to_wit)?;
        engine::check(&config).map_err(to_wit)
    }

    fn discover(config: String) -> Result<String, wit::ConnectorError> {
        command_config(&config).map_err(to_wit)?;
        Ok(streams::catalog_json().to_string())
    }

    fn read(config: String, catalog: String, state: Option<String>) -> Result<(), wit::ConnectorError> {
        let (config, now) = command_config(&config).map_err(to_wit)?;
        engine::read(&config, now, &catalog, state.as_deref(), &streams::Registry).map_err(to_wit)
    }
}

/// The command's config, parsed once (at the command's "now"), and the portable token
/// contract (see `auth`): this call's token, if the host left it in the config.
fn command_config(json: &str) -> error::Result<(config::Config, chrono::DateTime<chrono::Utc>)> {
    let now = chrono::Utc::now();
    match config::Config::parse(json, now) {
        Ok(parsed) => {
            auth::set_from_config(json, &parsed.api_base_url);
            Ok((parsed, now))
        }
        Err(e) => {
            auth::clear();
            Err(e)
        }
    }
}

pub(crate) fn to_wit(e: ConnectorError) -> wit::ConnectorError {
    wit::ConnectorError {
        failure_type: match e.failure {
            FailureType::Config => wit::FailureType::ConfigError,
            FailureType::System => wit::FailureType::SystemError,
            FailureType::Transient => wit::FailureType::TransientError,
        },
        message: e.message,
        internal_message: e.internal,
        stream: e.stream,
    }
}

// Exported only when building the component; native builds (unit tests) link without it.
#[cfg(target_arch = "wasm32")]
bindings::export!(Connector with_types_in bindings);
