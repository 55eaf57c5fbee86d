//! The read engine: runs every selected stream family of every account together.
//!
//! Owns the read's lifecycle (account list, stream statuses, estimates), the context handed to
//! stream hooks ([`Cx`]: emit a record or a checkpoint, ask a GET or a group of operations),
//! how operations become Graph batch requests of at most 50 (or single GETs with Instagram
//! Login), and the dispatch of each answer to the families that asked. Operations asked while
//! handling one answer (or at the start) are packed together, across families and accounts
//! (edge pages after an account's first travel as operations with that account's insights),
//! and a partial batch of leaf operations waits for later steps while edge answers are
//! outstanding, so a read needs as few round trips as the counted calls allow. Requests go
//! through the [`Scheduler`], so answers are handled in a fixed order whatever `num_workers`;
//! a step's output is held until its requests are sent.
//!
//! A hook's failure stops only its stream (and the streams that need it), see [`failures`].
//!
//! It must not know what a stream means (that is `streams::*`), parse config, catalog or state
//! formats (`config`, `catalog`, `state`), nor sleep or retry throttles (the host does).
//! A GET or operation that Meta rejects for a retired field is asked again without it
//! (`fields`), and one refused as too much data is asked again with smaller pages
//! (`smaller`), before its family sees the answer.

mod cx;
pub mod failures;
pub mod fields;
mod ids;
pub mod ops;
mod packing;
pub mod shape;
mod smaller;
pub mod walk;

use cx::Asked;
pub use cx::Cx;

use crate::accounts::{self, Account};
use crate::catalog::{Selection, StreamDef};
use crate::config::Config;
use crate::emit::{self, Status};
use crate::error::{ConnectorError, Result};
use crate::graph::{ApiError, GraphClient, MAX_BATCH_OPS};
use crate::http::WasiHttp;
use crate::metrics::{self, MetricPolicy};
use crate::scheduler::Scheduler;
use crate::state;
use chrono::{DateTime, Utc};
use packing::{Op, submit};
use serde_json::Value;
use std::collections::BTreeMap;

/// Send priority: edge pages (whose answers lead to more requests) before insights.
pub const PRIORITY_EDGE: u8 = 0;
pub const PRIORITY_INSIGHTS: u8 = 1;
/// Walks off the read's longest chain (tags, public content: a few short walks whose answers
/// lead to no batch): sent with the insights, in the slots the edge pages leave, without
/// counting as an insights backlog; so at the start of a read they do not go before the
/// first edge pages (the media walk, whose answers lead to most of the read).
pub const PRIORITY_SIDE: u8 = 2;

/// A stream family's hooks. A family serves one or more streams (a parent edge and the child
/// streams it feeds) and keeps its own per-account progress.
pub trait Family {
    /// The streams this family serves, the edge it walks first (the stream the others read
    /// the objects of); a failure of the edge stops the others too (see [`failures`]).
    fn streams(&self) -> &[&'static str];
    /// Ask the first requests of every account.
    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()>;
    /// One answer (a GET, or one operation of a batch) to a request tagged `tag`.
    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()>;
    /// Called after every HTTP answer's operations were handed to `on_answer` (a point to
    /// re-ask failed operations together and to checkpoint).
    fn after_answers(&mut self, _cx: &mut Cx<'_>) -> Result<()> {
        Ok(())
    }
}

/// What a scheduled request was for.
enum Call {
    Get {
        family: usize,
        tag: u64,
        url: String,
    },
    /// Operations of one or more families: (family, tag, relative URL).
    Batch {
        ops: Vec<(usize, u64, String)>,
    },
}

/// What the engine needs of the stream registry. `lib.rs` hands it in, so the engine never
/// imports the stream modules (imports run one way: streams → engine).
pub trait Registry {
    /// Every stream the connector declares (what `discover` advertises).
    fn declared(&self) -> &'static [&'static StreamDef];
    /// What the account list brings along for the selected streams (field expansion).
    fn prefetch(&self, selection: &Selection, config: &Config) -> accounts::Prefetch;
    /// The families serving the selected streams, in the order their first requests go out.
    fn families(
        &self,
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Vec<Box<dyn Family>>>;
}

/// `read`: every selected stream of every account (`config` parsed once by the caller, at
/// `now`).
pub fn read(
    config: &Config,
    now: DateTime<Utc>,
    catalog_json: &str,
    state_json: Option<&str>,
    registry: &dyn Registry,
) -> Result<()> {
    let selection = Selection::parse(catalog_json, registry.declared())?;
    let input = state::parse_input(state_json)?;
    for note in &selection.notes {
        emit::info(note);
    }
    let names: Vec<&'static str> = selection.names().collect();
    names.iter().for_each(|s| emit::status(s, Status::Started));
    let mut failures = failures::Failures::new(0);
    let result = run(config, &selection, &input, now, registry, &mut failures);
    // What a failed step emitted before its error still goes out, in order.
    emit::release();
    // Failed streams already ended INCOMPLETE; the others end now.
    let status = if result.is_ok() { Status::Complete } else { Status::Incomplete };
    names.iter().filter(|s| !failures.is_failed(s)).for_each(|s| emit::status(s, status));
    result.and_then(|()| failures.outcome())
}

fn run(
    config: &Config,
    selection: &Selection,
    input: &BTreeMap<String, Value>,
    now: DateTime<Utc>,
    registry: &dyn Registry,
    failures: &mut failures::Failures,
) -> Result<()> {
    let client = GraphClient::new(config);
    let accounts = accounts::list(&client, config, registry.prefetch(selection, config))?;
    emit::info(&format!("Reading {} Instagram account(s)", accounts.len()));
    let mut families = registry.families(selection, config, input, &accounts, now)?;
    *failures = failures::Failures::new(families.len());
    let table = metrics::table_for(config.version_major());
    let mut policy = MetricPolicy::new(table);
    let mut counts = BTreeMap::new();
    let mut scheduler: Scheduler<Call, WasiHttp> = Scheduler::new(WasiHttp, config.num_workers);
    // What the hooks of one answer (or of the start) asked, submitted together afterwards.
    let mut asked: Vec<(usize, Asked)> = Vec::new();
    let field_policy = std::cell::RefCell::new(fields::FieldPolicy::default());
    // Leaf operations waiting to fill a batch (see `submit`).
    let mut carried: BTreeMap<Option<usize>, Vec<Op>> = BTreeMap::new();
    // One hook of one family. Its failure stops its stream (see `failures`); only a failure
    // of the whole read is returned. A stopped family's hooks are not called any more.
    let mut step = |family: usize,
                    families: &mut Vec<Box<dyn Family>>,
                    asked: &mut Vec<(usize, Asked)>,
                    failures: &mut failures::Failures,
                    hook: &mut dyn FnMut(&mut dyn Family, &mut Cx<'_>) -> Result<()>|
     -> Result<()> {
        if failures.is_dead(family) {
            return Ok(());
        }
        let mut cx = Cx {
            config,
            selection,
            table,
            now,
            accounts: &accounts,
            client: &client,
            policy: &mut policy,
            counts: &mut counts,
            failures,
            asked: Vec::new(),
        };
        let outcome = hook(families[family].as_mut(), &mut cx);
        let Cx { asked: wanted, .. } = cx;
        match outcome {
            Ok(()) => {
                asked.extend(wanted.into_iter().map(|a| (family, a)));
                Ok(())
            }
            Err(e) => {
                failures.fail(family, families[family].streams(), selection, e)?;
                // Requests asked before the failure still serve the family's other streams.
                if !failures.is_dead(family) {
                    asked.extend(wanted.into_iter().map(|a| (family, a)));
                }
                Ok(())
            }
        }
    };
    // A step's output is held until its requests are sent, so they are in flight while it is
    // written (the output and its order are the same).
    emit::hold();
    for f in 0..families.len() {
        step(f, &mut families, &mut asked, failures, &mut |fam, cx| fam.start(cx))?;
    }
    loop {
        // A request whose path holds something other than a Graph id is not sent: its family
        // gets the refusal as its answer (and may ask more, screened the same way).
        loop {
            let refused = ids::screen(&client, &mut asked);
            if refused.is_empty() {
                break;
            }
            for (family, tag, error) in refused {
                let mut answer = Some(Err(error));
                step(family, &mut families, &mut asked, failures, &mut |fam, cx| {
                    fam.on_answer(cx, tag, answer.take().expect("one answer"))
                })?;
                step(family, &mut families, &mut asked, failures, &mut |fam, cx| fam.after_answers(cx))?;
            }
        }
        // With nothing outstanding, what waited to fill a batch goes too.
        submit(&client, &accounts, &mut scheduler, std::mem::take(&mut asked), &field_policy.borrow(), &mut carried);
        scheduler.send();
        emit::release();
        let Some((call, answer)) = scheduler.next_answer() else {
            if carried.is_empty() {
                break;
            }
            continue;
        };
        emit::hold();
        match call {
            Call::Get { family, tag, url } => {
                let value = client.parse_get(answer, &url);
                let again =
                    field_policy.borrow_mut().retry_url(&url, &value).or_else(|| smaller::retry_url(&url, &value));
                if let Some(again) = again {
                    // A retired field, or too much data: ask again without it, or smaller.
                    let request = client.get_request(&again);
                    scheduler.submit(Call::Get { family, tag, url: again }, request, PRIORITY_EDGE);
                    continue;
                }
                let mut value = Some(value);
                step(family, &mut families, &mut asked, failures, &mut |fam, cx| {
                    fam.on_answer(cx, tag, value.take().expect("one answer"))
                })?;
                step(family, &mut families, &mut asked, failures, &mut |fam, cx| fam.after_answers(cx))?;
            }
            Call::Batch { ops } => {
                let urls: Vec<&str> = ops.iter().map(|(_, _, u)| u.as_str()).collect();
                // A batch call that failed as a whole fails each of its operations: each family
                // judges its own (asks again, skips, or stops its stream).
                let results = client.parse_batch(answer, &urls).unwrap_or_else(|e| vec![Err(e); urls.len()]);
                let mut results: Vec<Option<_>> = results.into_iter().map(Some).collect();
                // An operation rejected for a retired field (or as too much data) is asked again
                // (as a GET) without it (or with smaller pages).
                for (i, (family, tag, url)) in ops.iter().enumerate() {
                    let absolute = client.absolute(url);
                    let again = results[i].as_ref().and_then(|r| {
                        field_policy.borrow_mut().retry_url(&absolute, r).or_else(|| smaller::retry_url(&absolute, r))
                    });
                    if let Some(again) = again {
                        results[i] = None;
                        let request = client.get_request(&again);
                        scheduler.submit(Call::Get { family: *family, tag: *tag, url: again }, request, PRIORITY_EDGE);
                    }
                }
                // Each family gets its operations in batch order, then its `after_answers`.
                let mut order: Vec<usize> = Vec::new();
                for (f, _, _) in &ops {
                    if !order.contains(f) {
                        order.push(*f);
                    }
                }
                // One step per operation, so one operation's failure does not cost the others.
                for f in order {
                    for (i, (g, tag, _)) in ops.iter().enumerate() {
                        if *g == f
                            && let Some(result) = results[i].take()
                        {
                            let mut result = Some(result);
                            step(f, &mut families, &mut asked, failures, &mut |fam, cx| {
                                fam.on_answer(cx, *tag, result.take().expect("one answer"))
                            })?;
                        }
                    }
                    step(f, &mut families, &mut asked, failures, &mut |fam, cx| fam.after_answers(cx))?;
                }
            }
        }
    }
    Ok(())
}

/// `check`: the token sees at least one Instagram account (`config` parsed by the caller).
pub fn check(config: &Config) -> Result<()> {
    let client = GraphClient::new(config);
    let accounts = accounts::list(&client, config, accounts::Prefetch::default())?;
    emit::info(&format!("Found {} Instagram business account(s)", accounts.len()));
    Ok(())
}

/// A fatal problem with a stream's data.
pub fn bad_data(stream: &str, what: &str, item: &Value) -> ConnectorError {
    ConnectorError::system(format!("The Graph API returned {what}"))
        .with_internal(item.to_string().chars().take(500).collect::<String>())
        .in_stream(stream)
}
