//! `run-many`: many tenants' jobs in one process.
//!
//! Owns job parsing, bounded concurrency and per-tenant isolation: each job gets its own
//! Store (from the one compiled component, instantiated from a pre-linked `InstancePre`), its
//! own memory cap and execution deadline, its own network allow-list (from its own config),
//! its own output file (exactly what a solo `read` would print) with a size cap, and a line in
//! `summary.json`. Rate-limit budgets are shared between jobs that share an app token and
//! origin (see `commands::LimiterRegistry`). A tenant's failure never touches another's.

use crate::commands::{self, RunEnv};
use crate::protocol::Output;
use crate::runtime::Runtime;
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// One tenant's job (a line of the jobs file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub id: String,
    pub command: JobCommand,
    pub config: Value,
    #[serde(default)]
    pub catalog: Option<Value>,
    #[serde(default)]
    pub state: Option<Value>,
    /// Another component to run (tests use misbehaving ones).
    #[serde(default)]
    pub component: Option<PathBuf>,
    #[serde(default)]
    pub memory_mb: Option<f64>,
    #[serde(default)]
    pub deadline_secs: Option<f64>,
    /// Cap on this tenant's output (default 1 GiB).
    #[serde(default)]
    pub max_output_mb: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum JobCommand {
    Check,
    Read,
}

/// One line of `summary.json`.
#[derive(Debug, Serialize)]
pub struct JobResult {
    pub id: String,
    pub command: JobCommand,
    pub exit_code: i32,
    pub failure_type: Option<String>,
    pub message: Option<String>,
    pub records: u64,
    pub duration_ms: f64,
    pub instantiate_ms: Option<f64>,
    pub output: String,
}

/// File-safe tenant id.
fn safe_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

pub async fn run_many(
    runtime: Arc<Runtime>,
    jobs_path: &Path,
    out_dir: &Path,
    concurrency: usize,
    env: &RunEnv,
) -> ExitCode {
    let text = match std::fs::read_to_string(jobs_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("run-many: cannot read {}: {e}", jobs_path.display());
            return ExitCode::from(2);
        }
    };
    let mut jobs = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str::<Job>(line) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                eprintln!("run-many: {}:{}: not a job: {e}", jobs_path.display(), n + 1);
                return ExitCode::from(2);
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        eprintln!("run-many: cannot create {}: {e}", out_dir.display());
        return ExitCode::from(2);
    }
    // One compiled component per distinct component file, shared by its tenants.
    let mut runtimes: HashMap<Option<PathBuf>, Arc<Runtime>> = HashMap::new();
    runtimes.insert(None, runtime);
    for job in &jobs {
        if !runtimes.contains_key(&job.component) {
            match Runtime::load(job.component.as_deref()) {
                Ok(r) => {
                    runtimes.insert(job.component.clone(), Arc::new(r));
                }
                Err(e) => {
                    eprintln!("run-many: job {}: cannot load its component: {e:#}", job.id);
                    return ExitCode::from(2);
                }
            }
        }
    }
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let runtime = runtimes[&job.component].clone();
        let slots = slots.clone();
        let env = env.clone();
        let out_dir = out_dir.to_path_buf();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore open");
            (index, run_job(&runtime, job, &out_dir, &env).await)
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => results.push(r),
            Err(e) => eprintln!("run-many: a job task failed: {e}"),
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<JobResult> = results.into_iter().map(|(_, r)| r).collect();
    let mut inst: Vec<f64> = results.iter().filter_map(|r| r.instantiate_ms).collect();
    inst.sort_by(f64::total_cmp);
    let summary = serde_json::json!({
        "jobs": results.len(),
        "succeeded": results.iter().filter(|r| r.exit_code == 0).count(),
        "failed": results.iter().filter(|r| r.exit_code != 0).count(),
        "wall_ms": started.elapsed().as_secs_f64() * 1e3,
        "instantiate_ms_median": inst.get(inst.len() / 2),
        "results": results,
    });
    let path = out_dir.join("summary.json");
    if let Err(e) = std::fs::write(&path, serde_json::to_string_pretty(&summary).unwrap()) {
        eprintln!("run-many: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    eprintln!(
        "run-many: {} jobs, {} succeeded, {} failed, in {:.2} s; summary in {}",
        summary["jobs"],
        summary["succeeded"],
        summary["failed"],
        started.elapsed().as_secs_f64(),
        path.display()
    );
    ExitCode::SUCCESS
}

async fn run_job(runtime: &Runtime, job: Job, out_dir: &Path, env: &RunEnv) -> JobResult {
    let started = Instant::now();
    let file_name = format!("{}.jsonl", safe_id(&job.id));
    let path = out_dir.join(&file_name);
    let sink: Box<dyn std::io::Write + Send> = match std::fs::File::create(&path) {
        Ok(f) => Box::new(std::io::BufWriter::new(f)),
        Err(_) => Box::new(std::io::sink()),
    };
    let max_output = job.max_output_mb.unwrap_or(1024.0);
    let output = Output::new(sink).with_limit((max_output * 1048576.0) as u64);
    let mut limits = env.limits.clone();
    if let Some(mb) = job.memory_mb.filter(|m| *m > 0.0) {
        limits.memory_bytes = (mb * 1048576.0) as usize;
    }
    if let Some(secs) = job.deadline_secs.filter(|s| *s > 0.0) {
        limits.deadline = std::time::Duration::from_secs_f64(secs);
    }
    let env = RunEnv { limits, ..env.clone() };
    let settings = Settings::from_value(job.config.clone());
    let (exit_code, failure, took) = match job.command {
        JobCommand::Check => {
            let (code, took) = commands::check(runtime, &output, settings, &env).await;
            (code, None, took)
        }
        JobCommand::Read => {
            let catalog = job.catalog.as_ref().map(Value::to_string).unwrap_or_else(|| r#"{"streams":[]}"#.into());
            let state = job.state.as_ref().map(Value::to_string);
            match settings {
                Ok(s) => {
                    let (result, took) = commands::read(runtime, &output, &s, &catalog, state.as_deref(), &env).await;
                    match result {
                        Ok(()) => (0, None, took),
                        Err(f) => (1, Some(f), took),
                    }
                }
                Err(f) => (1, Some(f), None),
            }
        }
    };
    if let Some(f) = &failure {
        output.error(f);
    }
    output.flush();
    JobResult {
        id: job.id,
        command: job.command,
        exit_code,
        failure_type: failure.as_ref().map(|f| f.failure_type.as_str().to_string()),
        message: failure.map(|f| f.message),
        records: output.record_counts().values().sum(),
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        instantiate_ms: took.map(|d| d.as_secs_f64() * 1e3),
        output: file_name,
    }
}
