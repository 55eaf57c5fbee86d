//! Loading and running the connector component under wasmtime.
//!
//! Owns the Engine, the compiled component (embedded in the binary, compiled once and cached
//! on disk so later starts only deserialize it), the linker with exactly the capabilities the
//! guest gets (WASI without filesystem, environment or sockets; `wasi:http` through the
//! network policy; the emitter), and the per-run Store with its limits. It must not decide
//! what a failure means to the user (see `main`).

use crate::network::NetworkPolicy;
use crate::protocol::Output;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "source-connector",
    imports: { default: trappable },
    exports: { default: async },
});

pub use airbyte::connector::types::{ConnectorError, FailureType as WitFailureType};

/// The component built from `guest/` by `build.rs`.
pub static EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("GUEST_WASM"));
/// The SHA-256 of [`EMBEDDED_COMPONENT`] (hex), computed at build time.
const EMBEDDED_DIGEST: &str = env!("GUEST_WASM_SHA256");

/// Epoch ticks per second (the execution deadline's resolution).
const EPOCH_TICK: Duration = Duration::from_millis(100);

/// Limits applied to each guest instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub memory_bytes: usize,
    /// Wall-clock budget of one command, enforced by epoch interruption while wasm runs.
    pub deadline: Duration,
}

impl Limits {
    /// Defaults, overridden by `SOURCE_INSTAGRAM_MEMORY_MB` and `SOURCE_INSTAGRAM_DEADLINE_SECS`
    /// (operator settings, not user config).
    pub fn from_env() -> Limits {
        let mut l = Limits::default();
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok()).filter(|v| *v > 0.0);
        if let Some(mb) = num("SOURCE_INSTAGRAM_MEMORY_MB") {
            l.memory_bytes = (mb * 1048576.0) as usize;
        }
        if let Some(secs) = num("SOURCE_INSTAGRAM_DEADLINE_SECS") {
            l.deadline = Duration::from_secs_f64(secs);
        }
        l
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_bytes: 512 << 20, deadline: Duration::from_secs(24 * 3600) }
    }
}

/// Per-instance host state.
pub struct GuestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    policy: NetworkPolicy,
    output: Output,
    limits: StoreLimits,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.policy }
    }
}

impl airbyte::connector::types::Host for GuestState {}

impl GuestState {
    /// Once its output limit is reached, the guest is stopped (a trap) on its next message.
    fn output_budget(&self) -> wasmtime::Result<()> {
        if self.output.exceeded() {
            return Err(wasmtime::Error::msg(crate::protocol::OUTPUT_LIMIT_MARKER));
        }
        Ok(())
    }
}

impl airbyte::connector::emitter::Host for GuestState {
    fn emit_record(&mut self, stream: String, data: String) -> wasmtime::Result<()> {
        if let Err(e) = self.output.record(&stream, &data) {
            self.output.log("ERROR", &format!("The connector emitted an invalid record: {e}"));
        }
        self.output_budget()
    }

    fn emit_state(&mut self, stream: String, state: String, record_count: u64) -> wasmtime::Result<()> {
        if let Err(e) = self.output.state(&stream, &state, record_count) {
            self.output.log("ERROR", &format!("The connector emitted an invalid state: {e}"));
        }
        self.output_budget()
    }

    fn log(&mut self, level: airbyte::connector::emitter::LogLevel, message: String) -> wasmtime::Result<()> {
        use airbyte::connector::emitter::LogLevel as L;
        let level = match level {
            L::Fatal => "FATAL",
            L::Error => "ERROR",
            L::Warn => "WARN",
            L::Info => "INFO",
            L::Debug => "DEBUG",
            L::Trace => "TRACE",
        };
        self.output.log(level, &message);
        self.output_budget()
    }

    fn status(&mut self, stream: String, status: airbyte::connector::emitter::StreamStatus) -> wasmtime::Result<()> {
        use airbyte::connector::emitter::StreamStatus as S;
        let status = match status {
            S::Started => "STARTED",
            S::Running => "RUNNING",
            S::Complete => "COMPLETE",
            S::Incomplete => "INCOMPLETE",
        };
        self.output.stream_status(&stream, status);
        self.output_budget()
    }

    fn estimate(&mut self, stream: String, row_estimate: u64) -> wasmtime::Result<()> {
        self.output.estimate(&stream, row_estimate);
        self.output_budget()
    }

    fn stream_error(&mut self, error: ConnectorError) -> wasmtime::Result<()> {
        self.output.error(&failure_of(error));
        self.output_budget()
    }
}

/// A guest's failure as the host reports it.
pub fn failure_of(e: ConnectorError) -> crate::protocol::Failure {
    use crate::protocol::FailureType;
    crate::protocol::Failure {
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

/// A fixed wall clock for the guest (sandbox and tests: a deterministic "now").
struct FixedWallClock(Duration);

impl wasmtime_wasi::HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// The engine and the compiled component, shared by every run in the process.
pub struct Runtime {
    engine: Engine,
    pre: SourceConnectorPre<GuestState>,
}

impl Runtime {
    /// Load the embedded component, or `override_path` when given.
    pub fn load(override_path: Option<&Path>) -> Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let component = match override_path {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| format!("reading the component {}", p.display()))?;
                cached_component(&engine, &bytes, None)?
            }
            None => cached_component(&engine, EMBEDDED_COMPONENT, Some(EMBEDDED_DIGEST))?,
        };
        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        SourceConnector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let pre = SourceConnectorPre::new(linker.instantiate_pre(&component)?)?;

        // Drives the execution deadline; one ticker for the process.
        let ticker = engine.weak();
        std::thread::spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
        Ok(Runtime { engine, pre })
    }

    /// A fresh, isolated instance: its own Store, limits, network policy and output.
    pub async fn instantiate(
        &self,
        policy: NetworkPolicy,
        output: Output,
        limits: &Limits,
        fixed_now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(Store<GuestState>, SourceConnector)> {
        let mut wasi = WasiCtx::builder();
        // The guest's stdout must never reach the protocol stream: send it to stderr.
        wasi.stdout(wasmtime_wasi::cli::stderr()).inherit_stderr();
        if let Some(now) = fixed_now {
            let since_epoch = Duration::from_millis(now.timestamp_millis().max(0) as u64);
            wasi.wall_clock(FixedWallClock(since_epoch));
        }
        let state = GuestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            policy,
            output,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .instances(8)
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }
}

/// Where compiled components are cached.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOURCE_INSTAGRAM_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("source-instagram");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache").join("source-instagram");
    }
    std::env::temp_dir().join("source-instagram-cache")
}

/// Compile `wasm` once per (component, wasmtime version, engine settings, CPU) and reuse the
/// artifact. Only artifacts this program wrote are ever loaded.
/// `digest`: the SHA-256 of `wasm` in hex when known, so a cache hit never reads `wasm`.
fn cached_component(engine: &Engine, wasm: &[u8], digest: Option<&str>) -> Result<Component> {
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let digest = digest.map_or_else(|| hex(&Sha256::digest(wasm)), str::to_string);
    let key = format!("{}-{:016x}", &digest[..32], compat.finish());
    let dir = cache_dir();
    let path = dir.join(format!("{key}.cwasm"));
    if path.exists() {
        // SAFETY: the file is named by the hash of the component and of this engine's
        // compatibility settings, and is only ever written by this function.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component =
        Component::new(engine, wasm).map_err(|e| anyhow::anyhow!("compiling the connector component: {e:?}"))?;
    if let Ok(bytes) = component.serialize() {
        let _ = std::fs::create_dir_all(&dir);
        let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, &bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(component)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
