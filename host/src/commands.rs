//! The Airbyte commands run against one fresh guest instance, and what each outcome means:
//! CONNECTION_STATUS versus TRACE ERROR, exit codes, and how a guest error or trap is
//! reported. Shared by the CLI (one command per process) and `run-many` (many tenants in one
//! process), so a tenant's output is exactly what a solo run prints.

use crate::clock::Clock;
use crate::network::{self, Limiter, NetworkPolicy, WaitBudget};
use crate::protocol::{Failure, FailureType, Output};
use crate::runtime::{ConnectorError, GuestState, Limits, Runtime, SourceConnector};
use crate::settings::Settings;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Per-run settings that are not the user's config.
#[derive(Clone)]
pub struct RunEnv {
    pub limits: Limits,
    /// A fixed "now" for the guest (sandbox and tests).
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    pub limiters: Arc<LimiterRegistry>,
    pub clock: Clock,
    /// Record every exchange of the command (`--record`; its `now` is then fixed).
    pub recording: Option<Arc<crate::recording::Recording>>,
}

impl RunEnv {
    /// Limits and clock from the environment (`SOURCE_INSTAGRAM_*`), fixed now if set.
    pub fn from_env() -> RunEnv {
        RunEnv {
            limits: Limits::from_env(),
            now: fixed_now(),
            limiters: Arc::default(),
            clock: Clock::from_env(),
            recording: None,
        }
    }
}

/// A deterministic "now" for the guest (`SOURCE_INSTAGRAM_FAKE_NOW`, RFC 3339); tests and the
/// sandbox use it so incremental windows are reproducible.
pub fn fixed_now() -> Option<chrono::DateTime<chrono::Utc>> {
    let text = std::env::var("SOURCE_INSTAGRAM_FAKE_NOW").ok()?;
    chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// One rate-limit budget per app token and API origin, shared by every run in the process
/// that uses them (per IG account inside, see `network::Limiter`).
#[derive(Default)]
pub struct LimiterRegistry {
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
}

impl LimiterRegistry {
    /// Requests sent, retried after a transient failure, throttled, paused for usage, denied.
    pub fn totals(&self) -> [u64; 5] {
        use std::sync::atomic::Ordering::Relaxed;
        let mut t = [0u64; 5];
        for l in self.limiters.lock().unwrap().values() {
            let s = l.stats();
            for (slot, v) in t.iter_mut().zip([&s.sent, &s.retried, &s.throttled, &s.paused, &s.denied]) {
                *slot += v.load(Relaxed);
            }
        }
        t
    }

    pub(crate) fn get(&self, settings: &Settings, clock: Clock) -> Result<Arc<Limiter>, Failure> {
        let key = format!("{:x}|{}", Sha256::digest(settings.token.as_bytes()), settings.origin);
        let mut limiters = self.limiters.lock().unwrap();
        if let Some(l) = limiters.get(&key) {
            return Ok(l.clone());
        }
        let pacing = network::Pacing { slow_from: settings.usage_slowdown_percent, ..network::Pacing::default() };
        let limiter = Limiter::new(pacing, network::RetryLimits::from_env(), clock)
            .map_err(|e| Failure::system("Could not set up the HTTP client", e))?;
        limiters.insert(key, limiter.clone());
        Ok(limiter)
    }
}

fn from_guest(e: ConnectorError) -> Failure {
    crate::runtime::failure_of(e)
}

/// The failure of a command stopped by its execution deadline, wherever it was (running wasm
/// or waiting on the network).
fn deadline_failure(limits: &Limits) -> Failure {
    Failure::system(
        format!(
            "The connector exceeded its execution deadline of {} and was stopped (operator setting SOURCE_INSTAGRAM_DEADLINE_SECS, or `deadline_secs` of a run-many job)",
            network::human(limits.deadline)
        ),
        "execution deadline reached",
    )
}

/// Run one guest call within the command's execution deadline. Epoch interruption stops
/// wasm that computes; this timer also stops a guest that waits on the host (a request that
/// never ends), so a command always ends by its deadline.
async fn within_deadline<T>(
    limits: &Limits,
    output: &Output,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Result<T, Failure> {
    let outcome = match tokio::time::timeout(limits.deadline, call).await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(trap)) => from_trap(trap, limits),
        Err(_) => deadline_failure(limits),
    };
    // The guest was stopped: the streams it had started did not complete.
    output.incomplete_active();
    Err(outcome)
}

/// A trap (crash, deadline, memory or output limit) of the guest, as the user sees it.
fn from_trap(e: wasmtime::Error, limits: &Limits) -> Failure {
    let detail = format!("{e:?}");
    let message = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => return deadline_failure(limits),
        _ if detail.contains(crate::protocol::OUTPUT_LIMIT_MARKER) => {
            "The connector exceeded its output limit and was stopped".to_string()
        }
        _ if detail.contains("growing memory") || detail.contains("memory allocation") => {
            "The connector component ran out of its memory limit and was stopped".to_string()
        }
        Some(trap) => format!("The connector component crashed ({trap})"),
        None => "The connector component failed unexpectedly".to_string(),
    };
    Failure::system(message, detail)
}

/// A started guest and how long instantiation took.
pub struct Instance {
    pub store: wasmtime::Store<GuestState>,
    pub connector: SourceConnector,
    pub instantiate: Duration,
}

/// How patient a command's requests are.
#[derive(Clone, Copy, PartialEq)]
enum Patience {
    /// A read: the limiter's retry limits.
    Read,
    /// `check` and `discover`: answer quickly when the host cannot be reached (one quick retry).
    Quick,
}

async fn instance(
    runtime: &Runtime,
    output: &Output,
    settings: Option<&Settings>,
    env: &RunEnv,
    patience: Patience,
) -> Result<Instance, Failure> {
    let policy = match settings {
        Some(s) => {
            output.add_secret(&s.token);
            let limiter = env.limiters.get(s, env.clock)?;
            let limits = (patience == Patience::Quick).then(|| limiter.limits().quick());
            NetworkPolicy::new(
                s.origin.clone(),
                Some(s.token.clone()),
                output.clone(),
                limiter,
                WaitBudget::new(s.max_rate_limit_wait),
                limits,
            )
            .with_appsecret_proof(s.app_secret())
            .with_recording(env.recording.clone())
        }
        // No config (spec): no network at all.
        None => NetworkPolicy::new(
            network::Origin { scheme: "none".into(), host: "none".into(), port: 0 },
            None,
            output.clone(),
            Limiter::new(network::Pacing::default(), network::RetryLimits::default(), env.clock)
                .map_err(|e| Failure::system("Could not set up the HTTP client", e))?,
            WaitBudget::new(Duration::ZERO),
            None,
        ),
    };
    let started = Instant::now();
    let (store, connector) = runtime.instantiate(policy, output.clone(), &env.limits, env.now).await.map_err(|e| {
        let detail = format!("{e:?}");
        if detail.contains("memory") {
            Failure::system(
                format!(
                    "The connector component could not start within its memory limit of {} MiB: raise SOURCE_INSTAGRAM_MEMORY_MB (or a run-many job's `memory_mb`); 64 MiB or more is enough for every stream",
                    env.limits.memory_bytes >> 20
                ),
                detail,
            )
        } else {
            Failure::system("Could not start the connector component", detail)
        }
    })?;
    Ok(Instance { store, connector, instantiate: started.elapsed() })
}

pub async fn spec(runtime: &Runtime, output: &Output, env: &RunEnv) -> Result<(), Failure> {
    let mut i = instance(runtime, output, None, env, Patience::Quick).await?;
    let spec =
        within_deadline(&env.limits, output, i.connector.airbyte_connector_source().call_spec(&mut i.store)).await?;
    let spec: Value = serde_json::from_str(&spec)
        .map_err(|e| Failure::system("The connector returned an invalid spec", e.to_string()))?;
    output.spec(spec);
    Ok(())
}

/// What `check` ended with.
pub struct CheckOutcome {
    /// 0 for SUCCEEDED and for FAILED (config problems, as Airbyte's CDK), 1 after a TRACE ERROR.
    pub code: i32,
    /// Why the check failed: a FAILED status (config_error) or the TRACE ERROR.
    pub failure: Option<Failure>,
    pub instantiate: Option<Duration>,
}

/// `check`: FAILED (exit 0) for config problems, TRACE ERROR (exit 1) for anything else.
/// First completes a login when the config holds a token we never renewed (see `renewal`).
pub async fn check(
    runtime: &Runtime,
    output: &Output,
    settings: Result<Settings, Failure>,
    env: &RunEnv,
) -> CheckOutcome {
    let settings = match settings {
        Ok(s) => s,
        Err(f) => {
            output.connection_status(false, Some(&f.message));
            return CheckOutcome { code: 0, failure: Some(f), instantiate: None };
        }
    };
    // A token the platform's OAuth flow left (short-lived) is exchanged for a long-lived one.
    let renewed = crate::renewal::renew(output, &settings, env, crate::renewal::Moment::Check).await;
    let settings = renewed.unwrap_or(settings);
    let mut took = None;
    let result = async {
        let mut i = instance(runtime, output, Some(&settings), env, Patience::Quick).await?;
        took = Some(i.instantiate);
        let call = i.connector.airbyte_connector_source().call_check(&mut i.store, &settings.guest_config);
        within_deadline(&env.limits, output, call).await
    }
    .await;
    let (code, failure) = match result {
        Ok(Ok(())) => {
            output.connection_status(true, None);
            (0, None)
        }
        Ok(Err(e)) => {
            let failure = from_guest(e);
            if failure.failure_type == FailureType::Config {
                output.connection_status(false, Some(&failure.message));
                (0, Some(failure))
            } else {
                output.error(&failure);
                (1, Some(failure))
            }
        }
        Err(failure) => {
            output.error(&failure);
            (1, Some(failure))
        }
    };
    CheckOutcome { code, failure, instantiate: took }
}

pub async fn discover(runtime: &Runtime, output: &Output, settings: &Settings, env: &RunEnv) -> Result<Value, Failure> {
    let mut i = instance(runtime, output, Some(settings), env, Patience::Quick).await?;
    let call = i.connector.airbyte_connector_source().call_discover(&mut i.store, &settings.guest_config);
    let catalog = within_deadline(&env.limits, output, call).await?.map_err(from_guest)?;
    serde_json::from_str(&catalog)
        .map_err(|e| Failure::system("The connector returned an invalid catalog", e.to_string()))
}

/// `read`; on failure the caller prints the TRACE ERROR. Returns the instantiation time.
/// First renews the token when due (see `renewal`); the read then uses the new one.
pub async fn read(
    runtime: &Runtime,
    output: &Output,
    settings: &Settings,
    catalog: &str,
    state: Option<&str>,
    env: &RunEnv,
) -> (Result<(), Failure>, Option<Duration>) {
    let renewed = crate::renewal::renew(output, settings, env, crate::renewal::Moment::Read).await;
    let settings = renewed.as_ref().unwrap_or(settings);
    let mut i = match instance(runtime, output, Some(settings), env, Patience::Read).await {
        Ok(i) => i,
        Err(f) => return (Err(f), None),
    };
    let call = i.connector.airbyte_connector_source().call_read(&mut i.store, &settings.guest_config, catalog, state);
    let result = within_deadline(&env.limits, output, call).await.and_then(|r| r.map_err(from_guest));
    (result, Some(i.instantiate))
}
