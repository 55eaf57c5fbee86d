//! A hostile connector component for the host's isolation tests. It implements the same WIT
//! world as the real connector; `read` misbehaves as the config's `mode` says:
//!
//! - `busy-loop`: spins forever (the host's execution deadline must stop it);
//! - `memory`: allocates until it dies (the host's memory limit must stop it);
//! - `other-host`: requests `target` (a host that is not `api_base_url`; the allow-list must refuse it);
//! - `flood`: emits `count` records of `size` bytes each (output volume under load);
//! - `panic`: panics (a trap the host must report cleanly);
//! - `escape`: tries a raw TCP socket to `target`, the environment and the filesystem, and
//!   reports each attempt (the host grants none of them);
//! - `sleep-then-ok`: a well-behaved run that emits one record.
//!
//! Never used outside tests.

mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "source-connector" });
}

use bindings::airbyte::connector::emitter;
use bindings::airbyte::connector::types::{ConnectorError, FailureType};
use bindings::exports::airbyte::connector::source::Guest;

#[allow(dead_code)]
struct Hostile;

fn mode(config: &str) -> serde_json::Value {
    serde_json::from_str(config).unwrap_or_default()
}

fn fail(message: String) -> ConnectorError {
    ConnectorError { failure_type: FailureType::SystemError, message, internal_message: None, stream: None }
}

impl Guest for Hostile {
    fn spec() -> String {
        r#"{"connectionSpecification":{"type":"object"}}"#.into()
    }

    fn check(_config: String) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn discover(_config: String) -> Result<String, ConnectorError> {
        Ok(r#"{"streams":[]}"#.into())
    }

    fn read(config: String, _catalog: String, _state: Option<String>) -> Result<(), ConnectorError> {
        let cfg = mode(&config);
        match cfg["mode"].as_str().unwrap_or("") {
            "busy-loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 8 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "other-host" => {
                let target = cfg["target"].as_str().unwrap_or("http://127.0.0.1:9/");
                match waki::Client::new().get(target).send() {
                    Ok(r) => Err(fail(format!("the request to {target} got through with HTTP {}", r.status_code()))),
                    Err(e) => Err(fail(format!("the request to {target} failed: {e:#}"))),
                }
            }
            "flood" => {
                let count = cfg["count"].as_u64().unwrap_or(1000);
                let size = cfg["size"].as_u64().unwrap_or(1 << 20) as usize;
                let record = format!(r#"{{"blob":"{}"}}"#, "x".repeat(size));
                for _ in 0..count {
                    emitter::emit_record("flood", &record);
                }
                Ok(())
            }
            "panic" => panic!("hostile guest panics on purpose"),
            "escape" => {
                let target = cfg["target"].as_str().unwrap_or("127.0.0.1:9");
                let socket = match std::net::TcpStream::connect(target) {
                    Ok(_) => "socket: CONNECTED".to_string(),
                    Err(e) => format!("socket: refused ({e})"),
                };
                let env = match std::env::vars().count() {
                    0 => "env: empty".to_string(),
                    n => format!("env: {n} VARIABLES VISIBLE"),
                };
                let fs = match std::fs::read_dir("/") {
                    Ok(_) => "fs: ROOT READABLE".to_string(),
                    Err(e) => format!("fs: refused ({e})"),
                };
                Err(fail(format!("escape attempts: {socket}; {env}; {fs}")))
            }
            "sleep-then-ok" => {
                emitter::emit_record("ok", r#"{"id":"1"}"#);
                Ok(())
            }
            other => Err(fail(format!("unknown mode {other:?}"))),
        }
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(Hostile with_types_in bindings);
