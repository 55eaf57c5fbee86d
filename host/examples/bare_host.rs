//! A minimal host for the bare connector component, as another platform would embed it:
//! WASI p2 + `wasi:http` with wasmtime's default hooks (no policy) and an `emitter` that
//! prints each message. It shows the component's contract, not a production runner (see
//! `source-instagram` for the allow-list, token injection, limits and retries).
//!
//! Usage: `bare_host COMPONENT.wasm spec` or `bare_host COMPONENT.wasm discover CONFIG_JSON`.

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "source-connector",
    exports: { default: async },
});

struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: wasmtime_wasi_http::default_hooks() }
    }
}

impl airbyte::connector::types::Host for Host {}

impl airbyte::connector::emitter::Host for Host {
    fn emit_record(&mut self, stream: String, data: String) {
        println!("record {stream}: {data}");
    }
    fn emit_state(&mut self, stream: String, state: String, record_count: u64) {
        println!("state {stream} ({record_count} records): {state}");
    }
    fn log(&mut self, level: airbyte::connector::emitter::LogLevel, message: String) {
        println!("log {level:?}: {message}");
    }
    fn status(&mut self, stream: String, status: airbyte::connector::emitter::StreamStatus) {
        println!("status {stream}: {status:?}");
    }
    fn estimate(&mut self, stream: String, row_estimate: u64) {
        println!("estimate {stream}: {row_estimate}");
    }
    fn stream_error(&mut self, error: airbyte::connector::types::ConnectorError) {
        println!("stream {:?} failed ({:?}): {}", error.stream, error.failure_type, error.message);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(command)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: bare_host COMPONENT.wasm spec|discover [CONFIG_JSON]");
    };
    let engine = Engine::new(&Config::new())?;
    let component = Component::from_file(&engine, path)?;
    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    SourceConnector::add_to_linker::<_, HasSelf<_>>(&mut linker, |h| h)?;
    let host = Host { wasi: WasiCtx::builder().build(), http: WasiHttpCtx::new(), table: ResourceTable::new() };
    let mut store = Store::new(&engine, host);
    let connector = SourceConnector::instantiate_async(&mut store, &component, &linker).await?;
    let source = connector.airbyte_connector_source();
    match command.as_str() {
        "spec" => println!("{}", source.call_spec(&mut store).await?),
        "discover" => {
            let config = args.get(3).cloned().unwrap_or_else(|| "{}".into());
            match source.call_discover(&mut store, &config).await? {
                Ok(catalog) => println!("{catalog}"),
                Err(e) => anyhow::bail!("{:?}: {}", e.failure_type, e.message),
            }
        }
        other => anyhow::bail!("unknown command {other}"),
    }
    Ok(())
}
