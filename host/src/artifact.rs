//! The component as an artifact: what `source-instagram component --out FILE` writes.
//!
//! Owns two outputs: the bare connector component (the embedded one, or `--component`), and
//! the composed `wasi:cli/run` command that stock runtimes can run with Airbyte's CLI. The
//! command is composed with `wac-graph` from four components: the stdout emitter (exports
//! `emitter` and `types`), the network policy (`command/http-policy`: exports `wasi:http` and
//! the streams and stdio it hands out, to the connector only, and `network-policy`), the
//! connector, and the argument runner (imports `source` and `network-policy`, exports
//! `wasi:cli/run`); every other import stays a WASI import of the result. It must not run or
//! validate the connector (the runtimes do that), nor change its bytes.

use anyhow::{Context, Result, anyhow};
use std::path::Path;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// The stdout emitter of the composed command (`command/stdout-emitter`).
pub static STDOUT_EMITTER: &[u8] = include_bytes!(env!("STDOUT_EMITTER_WASM"));
/// The argument runner of the composed command (`command/runner`).
pub static COMMAND_RUNNER: &[u8] = include_bytes!(env!("COMMAND_RUNNER_WASM"));
/// The network policy of the composed command (`command/http-policy`).
pub static HTTP_POLICY: &[u8] = include_bytes!(env!("HTTP_POLICY_WASM"));

const EMITTER: &str = "airbyte:connector/emitter@0.1.0";
const TYPES: &str = "airbyte:connector/types@0.1.0";
const SOURCE: &str = "airbyte:connector/source@0.1.0";
const NETWORK_POLICY: &str = "airbyte:connector/network-policy@0.1.0";

/// Write the connector component (`command` false) or the composed command to `out`.
pub fn write(out: &Path, connector: &[u8], command: bool) -> Result<()> {
    let bytes = if command { compose_command(connector)? } else { connector.to_vec() };
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))
}

/// Compose `connector` into a `wasi:cli/run` command: emitter and policy → connector → runner.
pub fn compose_command(connector: &[u8]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let mut register = |name: &str, bytes: &[u8]| -> Result<_> {
        let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
            .with_context(|| format!("reading the {name} component"))?;
        Ok(graph.register_package(package)?)
    };
    let emitter = register("airbyte:stdout-emitter", STDOUT_EMITTER)?;
    let source = register("airbyte:source-instagram", connector)?;
    let runner = register("airbyte:command-runner", COMMAND_RUNNER)?;
    let policy = register("airbyte:http-policy", HTTP_POLICY)?;
    let run_export = {
        let world = &graph.types()[graph[runner].ty()];
        world
            .exports
            .keys()
            .find(|name| name.starts_with("wasi:cli/run@"))
            .cloned()
            .ok_or_else(|| anyhow!("the argument runner does not export wasi:cli/run"))?
    };

    // What the policy stands in for: the WASI interfaces it exports, each given to the connector
    // under the name (version) the connector imports.
    let connector_imports: Vec<String> = graph.types()[graph[source].ty()].imports.keys().cloned().collect();
    // Streams are the policy's for the whole connector: an import that hands out the runtime's
    // own streams (files, sockets) could not be given to it alongside.
    if let Some(other) =
        connector_imports.iter().find(|i| i.starts_with("wasi:filesystem/types@") || i.starts_with("wasi:sockets/tcp@"))
    {
        return Err(anyhow!(
            "the connector imports {other}, whose streams the network policy (command/http-policy) does not stand in for; such a connector cannot be composed into a command"
        ));
    }
    let unversioned = |name: &str| name.split('@').next().unwrap_or(name).to_string();
    let virtualized: Vec<(String, String)> = graph.types()[graph[policy].ty()]
        .exports
        .keys()
        .filter(|name| name.starts_with("wasi:"))
        .filter_map(|export| {
            let import = connector_imports.iter().find(|i| unversioned(i) == unversioned(export))?;
            Some((export.clone(), import.clone()))
        })
        .collect();
    if !virtualized.iter().any(|(export, _)| export.starts_with("wasi:http/outgoing-handler@")) {
        return Err(anyhow!("the connector component does not import wasi:http/outgoing-handler"));
    }

    let emitter_instance = graph.instantiate(emitter);
    let policy_instance = graph.instantiate(policy);
    let source_instance = graph.instantiate(source);
    let runner_instance = graph.instantiate(runner);
    let types = graph.alias_instance_export(emitter_instance, TYPES)?;
    let emit = graph.alias_instance_export(emitter_instance, EMITTER)?;
    graph.set_instantiation_argument(source_instance, TYPES, types)?;
    for (export, import) in &virtualized {
        let node = graph.alias_instance_export(policy_instance, export)?;
        graph
            .set_instantiation_argument(source_instance, import, node)
            .with_context(|| format!("giving the connector the policy's {export}"))?;
    }
    let configure = graph.alias_instance_export(policy_instance, NETWORK_POLICY)?;
    graph
        .set_instantiation_argument(source_instance, EMITTER, emit)
        .context("the connector component does not import airbyte:connector/emitter@0.1.0")?;
    let source_export = graph
        .alias_instance_export(source_instance, SOURCE)
        .context("the connector component does not export airbyte:connector/source@0.1.0")?;
    graph.set_instantiation_argument(runner_instance, TYPES, types)?;
    graph.set_instantiation_argument(runner_instance, SOURCE, source_export)?;
    graph.set_instantiation_argument(runner_instance, NETWORK_POLICY, configure)?;
    let run = graph.alias_instance_export(runner_instance, &run_export)?;
    graph.export(run, &run_export)?;
    Ok(graph.encode(EncodeOptions { validate: true, ..EncodeOptions::default() })?)
}
