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
use sha2::{Digest, Sha256};
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
    /// The job's id (`null` for a line that is not a job at all).
    pub id: Option<String>,
    /// Line of the jobs file (1-based).
    pub line: usize,
    pub command: Option<JobCommand>,
    /// `succeeded`, `failed` (the tenant's run failed, or its check said FAILED) or
    /// `invalid_job` (the job line was rejected and not run).
    pub outcome: &'static str,
    /// What the solo CLI command would have exited with (`null` for an invalid job).
    pub exit_code: Option<i32>,
    pub failure_type: Option<String>,
    pub message: Option<String>,
    pub records: u64,
    pub duration_ms: f64,
    pub instantiate_ms: Option<f64>,
    /// The tenant's output file in the output directory (`null` for an invalid job).
    pub output: Option<String>,
}

impl JobResult {
    fn invalid(line: usize, id: Option<String>, command: Option<JobCommand>, reason: String) -> JobResult {
        JobResult {
            id,
            line,
            command,
            outcome: "invalid_job",
            exit_code: None,
            failure_type: Some("config_error".into()),
            message: Some(reason),
            records: 0,
            duration_ms: 0.0,
            instantiate_ms: None,
            output: None,
        }
    }
}

/// The output file of a job: its id when that is a plain file name, else a file-safe form of
/// it plus a hash of the id, so two different ids never share a file (`a/b`, `a_b`, `a b`).
fn output_name(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if plain {
        return format!("{id}.jsonl");
    }
    let safe: String =
        id.chars().take(60).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let digest = Sha256::digest(id.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{hash}.jsonl")
}

/// A limit of a job: absent, or a finite number above zero.
fn positive(field: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(format!("`{field}` must be a number above 0, got {x}")),
        _ => Ok(()),
    }
}

/// Parse and check every line of the jobs file. Good jobs come back with their line number
/// and output file; every bad line is one `invalid_job` result that names the problem.
fn parse_jobs(text: &str) -> (Vec<(usize, Job, String)>, Vec<JobResult>) {
    let mut good: Vec<(usize, Job, String)> = Vec::new();
    let mut bad = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line_no = n + 1;
        let raw: Option<Value> = serde_json::from_str(line).ok();
        let raw_id = raw.as_ref().and_then(|v| v.get("id")).and_then(Value::as_str).map(str::to_string);
        let job = match serde_json::from_str::<Job>(line) {
            Ok(job) => job,
            Err(e) => {
                bad.push(JobResult::invalid(line_no, raw_id, None, format!("not a job: {e}")));
                continue;
            }
        };
        let file = output_name(&job.id);
        let problem = if job.id.trim().is_empty() {
            Err("`id` is empty".to_string())
        } else if let Some(first) = ids.get(&job.id) {
            Err(format!("the id {:?} is already used by line {first}; ids must be unique", job.id))
        } else if let Some(first) = names.get(&file) {
            Err(format!("its output file {file} would be the same as that of line {first}"))
        } else if job.command == JobCommand::Read && job.catalog.is_none() {
            Err("a read job needs a `catalog` (the configured catalog of the streams to read)".to_string())
        } else {
            positive("memory_mb", job.memory_mb)
                .and_then(|_| positive("deadline_secs", job.deadline_secs))
                .and_then(|_| positive("max_output_mb", job.max_output_mb))
        };
        match problem {
            Ok(()) => {
                ids.insert(job.id.clone(), line_no);
                names.insert(file.clone(), line_no);
                good.push((line_no, job, file));
            }
            Err(reason) => bad.push(JobResult::invalid(line_no, Some(job.id.clone()), Some(job.command), reason)),
        }
    }
    (good, bad)
}

/// Run every valid job of the file; write each tenant's output and `summary.json`. Exits 0
/// when every line was a valid job (whatever the tenants' outcomes), 2 when some lines were
/// rejected (the valid ones still ran) or the files cannot be read or written.
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
    let (jobs, mut invalid) = parse_jobs(&text);
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        eprintln!("run-many: cannot create {}: {e}", out_dir.display());
        return ExitCode::from(2);
    }
    // One compiled component per distinct component file, shared by its tenants.
    let mut runtimes: HashMap<Option<PathBuf>, Arc<Runtime>> = HashMap::new();
    runtimes.insert(None, runtime);
    let mut runnable = Vec::new();
    for (line, job, file) in jobs {
        if !runtimes.contains_key(&job.component) {
            match Runtime::load(job.component.as_deref()) {
                Ok(r) => {
                    runtimes.insert(job.component.clone(), Arc::new(r));
                }
                Err(e) => {
                    let reason = format!("cannot load its component: {e:#}");
                    invalid.push(JobResult::invalid(line, Some(job.id), Some(job.command), reason));
                    continue;
                }
            }
        }
        runnable.push((line, job, file));
    }
    for bad in &invalid {
        eprintln!(
            "run-many: {}:{}: job {} not run: {}",
            jobs_path.display(),
            bad.line,
            bad.id.as_deref().map(|i| format!("{i:?}")).unwrap_or_else(|| "(no id)".into()),
            bad.message.as_deref().unwrap_or("")
        );
    }
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (line, job, file) in runnable {
        let runtime = runtimes[&job.component].clone();
        let slots = slots.clone();
        let env = env.clone();
        let out_dir = out_dir.to_path_buf();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore open");
            run_job(&runtime, line, job, file, &out_dir, &env).await
        });
    }
    let mut results = invalid;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => results.push(r),
            Err(e) => eprintln!("run-many: a job task failed: {e}"),
        }
    }
    results.sort_by_key(|r| r.line);
    let mut inst: Vec<f64> = results.iter().filter_map(|r| r.instantiate_ms).collect();
    inst.sort_by(f64::total_cmp);
    let count = |o: &str| results.iter().filter(|r| r.outcome == o).count();
    let summary = serde_json::json!({
        "jobs": results.len(),
        "succeeded": count("succeeded"),
        "failed": count("failed"),
        "invalid": count("invalid_job"),
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
        "run-many: {} jobs, {} succeeded, {} failed, {} invalid, in {:.2} s; summary in {}",
        summary["jobs"],
        summary["succeeded"],
        summary["failed"],
        summary["invalid"],
        started.elapsed().as_secs_f64(),
        path.display()
    );
    if summary["invalid"] == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) }
}

async fn run_job(
    runtime: &Runtime,
    line: usize,
    job: Job,
    file_name: String,
    out_dir: &Path,
    env: &RunEnv,
) -> JobResult {
    let started = Instant::now();
    let path = out_dir.join(&file_name);
    let sink: Box<dyn std::io::Write + Send> = match std::fs::File::create(&path) {
        Ok(f) => Box::new(std::io::BufWriter::new(f)),
        Err(e) => {
            let reason = format!("cannot create its output file {}: {e}", path.display());
            return JobResult::invalid(line, Some(job.id), Some(job.command), reason);
        }
    };
    let max_output = job.max_output_mb.unwrap_or(1024.0);
    let output = Output::new(sink).with_limit((max_output * 1048576.0) as u64);
    let mut limits = env.limits.clone();
    if let Some(mb) = job.memory_mb {
        limits.memory_bytes = (mb * 1048576.0) as usize;
    }
    if let Some(secs) = job.deadline_secs {
        limits.deadline = std::time::Duration::from_secs_f64(secs.min(1e9));
    }
    let env = RunEnv { limits, ..env.clone() };
    let settings = Settings::from_value_for(job.config.clone(), &output);
    let (exit_code, failure, took) = match job.command {
        JobCommand::Check => {
            let outcome = commands::check(runtime, &output, settings, &env).await;
            (outcome.code, outcome.failure, outcome.instantiate)
        }
        JobCommand::Read => {
            let catalog = job.catalog.as_ref().map(Value::to_string).unwrap_or_default();
            let state = job.state.as_ref().map(Value::to_string);
            match settings {
                Ok(s) => {
                    let (result, took) = commands::read(runtime, &output, &s, &catalog, state.as_deref(), &env).await;
                    match result {
                        Ok(()) => (0, None, took),
                        Err(f) => {
                            output.error(&f);
                            (1, Some(f), took)
                        }
                    }
                }
                Err(f) => {
                    output.error(&f);
                    (1, Some(f), None)
                }
            }
        }
    };
    output.flush();
    JobResult {
        id: Some(job.id),
        line,
        command: Some(job.command),
        outcome: if failure.is_none() { "succeeded" } else { "failed" },
        exit_code: Some(exit_code),
        failure_type: failure.as_ref().map(|f| f.failure_type.as_str().to_string()),
        message: failure.map(|f| output.redact(&f.message)),
        records: output.record_counts().values().sum(),
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        instantiate_ms: took.map(|d| d.as_secs_f64() * 1e3),
        output: Some(file_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Different ids never share an output file; plain ids keep their name.
    #[test]
    fn output_names_are_unique() {
        let names: Vec<String> = ["a/b", "a_b", "a b", "a?b", "../x", ""].iter().map(|i| output_name(i)).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(output_name("tenant-42"), "tenant-42.jsonl");
        assert!(names.iter().all(|n| !n.contains('/') && !n.starts_with('.')), "{names:?}");
    }

    /// Every bad line is reported with its reason; good lines still run.
    #[test]
    fn bad_jobs_are_named() {
        let c = r#""config": {"access_token": "t"}"#;
        let text = format!(
            "{{\"id\": \"a\", \"command\": \"check\", {c}}}\n\
             {{\"id\": \"a\", \"command\": \"check\", {c}}}\n\
             {{\"id\": \"r\", \"command\": \"read\", {c}}}\n\
             {{\"id\": \"m\", \"command\": \"check\", \"memory_mb\": 0, {c}}}\n\
             {{\"id\": \"d\", \"command\": \"check\", \"deadline_secs\": -1, {c}}}\n\
             not json\n"
        );
        let (good, bad) = parse_jobs(&text);
        assert_eq!(good.len(), 1);
        let reasons: Vec<&str> = bad.iter().map(|b| b.message.as_deref().unwrap()).collect();
        assert!(reasons[0].contains("already used by line 1"), "{reasons:?}");
        assert!(reasons[1].contains("needs a `catalog`"), "{reasons:?}");
        assert!(reasons[2].contains("memory_mb"), "{reasons:?}");
        assert!(reasons[3].contains("deadline_secs"), "{reasons:?}");
        assert!(reasons[4].contains("not a job"), "{reasons:?}");
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
    }
}
