//! The component as an artifact: what `source-instagram component --out FILE` writes.
//!
//! Owns two outputs: the bare connector component (the embedded one, or `--component`), and
//! the composed `wasi:cli/run` command that stock runtimes can run with Airbyte's CLI. The
//! command is composed with `wac-graph` from three components: the stdout emitter (exports
//! `emitter` and `types`), the connector, and the argument runner (imports `source`, exports
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

const EMITTER: &str = "airbyte:connector/emitter@0.1.0";
const TYPES: &str = "airbyte:connector/types@0.1.0";
const SOURCE: &str = "airbyte:connector/source@0.1.0";

/// Write the connector component (`command` false) or the composed command to `out`.
pub fn write(out: &Path, connector: &[u8], command: bool) -> Result<()> {
    let bytes = if command { compose_command(connector)? } else { connector.to_vec() };
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))
}

/// Compose `connector` into a `wasi:cli/run` command: emitter → connector → runner.
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
    let run_export = {
        let world = &graph.types()[graph[runner].ty()];
        world
            .exports
            .keys()
            .find(|name| name.starts_with("wasi:cli/run@"))
            .cloned()
            .ok_or_else(|| anyhow!("the argument runner does not export wasi:cli/run"))?
    };

    let emitter_instance = graph.instantiate(emitter);
    let source_instance = graph.instantiate(source);
    let runner_instance = graph.instantiate(runner);
    let types = graph.alias_instance_export(emitter_instance, TYPES)?;
    let emit = graph.alias_instance_export(emitter_instance, EMITTER)?;
    graph.set_instantiation_argument(source_instance, TYPES, types)?;
    graph
        .set_instantiation_argument(source_instance, EMITTER, emit)
        .context("the connector component does not import airbyte:connector/emitter@0.1.0")?;
    let source_export = graph
        .alias_instance_export(source_instance, SOURCE)
        .context("the connector component does not export airbyte:connector/source@0.1.0")?;
    graph.set_instantiation_argument(runner_instance, TYPES, types)?;
    graph.set_instantiation_argument(runner_instance, SOURCE, source_export)?;
    let run = graph.alias_instance_export(runner_instance, &run_export)?;
    graph.export(run, &run_export)?;
    Ok(graph.encode(EncodeOptions { validate: true, ..EncodeOptions::default() })?)
}
