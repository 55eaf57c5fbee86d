//! The network policy of the composed command (`source-instagram component --command`): a
//! component that stands between the connector and a stock runtime's `wasi:http`, so that the
//! connector gets the host's retries, pacing and allow-list under `wasmtime run` or `jco run`.
//!
//! It imports the runtime's `wasi:http` and exports its own copy to the connector, with the
//! streams and stdio getters that copy hands out (`types`, `streams`, `convert`): requests are
//! buffered, sent by `send` once their body is finished, and answered with what the policy
//! settled (retries and batch re-sends may block inside `future-incoming-response.get`). The
//! rules themselves are the host's own modules (`network`). The runner tells it the config
//! (`airbyte:connector/network-policy`). It must not change what the connector asks nor the
//! answers Meta gives but by the host's rules.

mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "airbyte:http-policy/http-policy",
        generate_all,
    });
}

mod batch;
mod convert;
mod network;
mod send;
mod streams;
mod types;

pub struct Policy;

impl bindings::exports::airbyte::connector::network_policy::Guest for Policy {
    fn configure(config: String) {
        send::configure(&config);
    }
}

bindings::export!(Policy with_types_in bindings);
