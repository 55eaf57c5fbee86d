//! Insights of single objects (`media_insights`, `story_insights`): one operation per object,
//! sent in batches, one record per object.
//!
//! Owns the per-object operations of a child stream: their metric set (per media kind and
//! login, minus what Meta rejected), the record shape (`id`, copied parent fields, flattened
//! metrics, `read_at`: lifetime values are a snapshot of when they were read), and re-asking
//! failed operations under the shared policy (`engine::ops`). A metric Meta refuses for one
//! object is left out of that object's next ask, with the metrics refused with it (the
//! crossposted group, see `metrics::MetricTable::refused_with`). It must not page the parent
//! edge or move cursors: the parent's module tracks which accounts are done.

use crate::config::Login;
use crate::emit;
use crate::engine::Cx;
use crate::engine::ops::{self, MAX_INSIGHT_ROUNDS, OpFailure};
use crate::error::{ConnectorError, Result};
use crate::graph::ApiError;
use crate::metrics::MediaKind;
use crate::transform::format_timestamp;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Tags of insights operations start here (lower tags are the parent's own requests).
pub const TAG_BASE: u64 = 1 << 40;

/// A media object or story whose insights are wanted.
pub struct Target {
    pub id: String,
    pub kind: MediaKind,
    /// Index of its account.
    pub account: usize,
    /// Fields copied from the parent onto the insights record.
    pub extra: Map<String, Value>,
}

struct Asked {
    metrics: Vec<&'static str>,
    again: Pending,
}

/// An object to ask (again).
struct Pending {
    target: Target,
    /// Times asked so far.
    rounds: u32,
    /// Of those, answered "Unsupported get request" (100/33): it comes and goes, and is asked
    /// again up to `ops::UNSUPPORTED_GET_ATTEMPTS` times whatever else was refused before.
    unsupported: u32,
    /// Metrics Meta refused for this object (left out of its next asks).
    without: Vec<&'static str>,
}

/// The operations of one insights stream in flight.
pub struct ObjectInsights {
    pub stream: &'static str,
    story: bool,
    asked: BTreeMap<u64, Asked>,
    retry: Vec<Pending>,
    next_tag: u64,
    per_account: BTreeMap<usize, usize>,
    /// Hold records instead of emitting them (`settled`), for a caller that merges more into
    /// them (`object_breakdowns`); the metrics the table asks with a breakdown of their own
    /// are then not asked here.
    pub hold: bool,
    /// With `hold`: (object id, its record, or `None` if it was skipped), in answer order.
    pub settled: Vec<(String, Option<Map<String, Value>>)>,
}

impl ObjectInsights {
    pub fn new(stream: &'static str, story: bool) -> Self {
        ObjectInsights {
            stream,
            story,
            asked: BTreeMap::new(),
            retry: Vec::new(),
            next_tag: TAG_BASE,
            per_account: BTreeMap::new(),
            hold: false,
            settled: Vec::new(),
        }
    }

    pub fn owns(tag: u64) -> bool {
        tag >= TAG_BASE
    }

    /// Operations not yet answered for good for account `a`.
    pub fn pending(&self, a: usize) -> usize {
        self.per_account.get(&a).copied().unwrap_or(0)
    }

    /// Ask the insights of `targets` (one group of operations).
    pub fn ask(&mut self, cx: &mut Cx<'_>, targets: Vec<Target>) {
        let pending =
            targets.into_iter().map(|target| Pending { target, rounds: 0, unsupported: 0, without: Vec::new() });
        self.ask_rounds(cx, pending.collect());
    }

    fn ask_rounds(&mut self, cx: &mut Cx<'_>, targets: Vec<Pending>) {
        let mut ops: std::collections::BTreeMap<usize, Vec<(u64, String)>> = Default::default();
        for again in targets {
            let Pending { target, without, .. } = &again;
            let facebook = cx.config.login == Login::Facebook;
            let mut metrics = cx.policy.active(target.kind.name(), &cx.table.media_metrics(target.kind, facebook));
            metrics.retain(|m| !without.contains(m));
            if self.hold {
                metrics.retain(|m| !cx.table.breaks_down(target.kind, m));
            }
            if metrics.is_empty() {
                if self.hold {
                    self.settled.push((target.id.clone(), None));
                }
                continue;
            }
            let url = cx.client.relative_url(&format!("{}/insights", target.id), &[("metric", &metrics.join(","))]);
            let tag = self.next_tag;
            self.next_tag += 1;
            *self.per_account.entry(target.account).or_default() += 1;
            ops.entry(target.account).or_default().push((tag, url));
            self.asked.insert(tag, Asked { metrics, again });
        }
        // One group per account, so the host knows whose objects each batch is about.
        for (account, group) in ops {
            cx.ops_of(account, group);
        }
    }

    /// One operation's answer; returns the account whose operation is now settled (record
    /// emitted or skipped) or `None` if it will be asked again.
    pub fn on_answer(
        &mut self,
        cx: &mut Cx<'_>,
        tag: u64,
        answer: std::result::Result<Value, ApiError>,
    ) -> Result<Option<usize>> {
        let Some(Asked { metrics, mut again }) = self.asked.remove(&tag) else {
            return Err(ConnectorError::system(format!("an answer for an unknown {} operation", self.stream)));
        };
        let (id, kind, a) = (again.target.id.clone(), again.target.kind, again.target.account);
        *self.per_account.entry(a).or_default() -= 1;
        match answer {
            Ok(body) => {
                let mut record = ops::flatten_insights(&body).map_err(|detail| {
                    ConnectorError::system(format!("The insights of {} are not what Meta documents: {detail}", id))
                        .with_internal(body.to_string())
                        .in_stream(self.stream)
                })?;
                record.insert("id".into(), Value::String(id.clone()));
                record.insert("read_at".into(), Value::String(format_timestamp(cx.now)));
                for (k, v) in &again.target.extra {
                    record.insert(k.clone(), v.clone());
                }
                cx.enrich(&mut record, a);
                if self.hold {
                    self.settled.push((id.clone(), Some(record)));
                } else {
                    cx.record(self.stream, record);
                }
            }
            Err(err) => {
                let doing = format!("reading {} of {}", self.stream, id);
                let story = self.story;
                let unsupported = ops::is_unsupported_get(&err);
                let failure = ops::on_op_error(
                    cx.policy,
                    err,
                    kind.name(),
                    &metrics,
                    again.unsupported,
                    |e| ops::skip_reason(story, e),
                    &doing,
                );
                if let OpFailure::RetryWithout(metric) = failure {
                    for m in cx.table.refused_with(metric) {
                        if !again.without.contains(&m) {
                            again.without.push(m);
                        }
                    }
                }
                match failure {
                    OpFailure::Retry | OpFailure::RetryWithout(_) if again.rounds + 1 >= MAX_INSIGHT_ROUNDS => {
                        return Err(ConnectorError::system(format!(
                            "Meta kept rejecting {} requests for {}",
                            self.stream, id
                        ))
                        .in_stream(self.stream));
                    }
                    OpFailure::Retry | OpFailure::RetryWithout(_) => {
                        *self.per_account.entry(a).or_default() += 1;
                        again.rounds += 1;
                        again.unsupported += u32::from(unsupported);
                        self.retry.push(again);
                        return Ok(None);
                    }
                    OpFailure::Skip(reason) => {
                        emit::warn(&format!("No {} for {} {}: {reason}", self.stream, kind.name(), id));
                        if self.hold {
                            self.settled.push((id.clone(), None));
                        }
                    }
                    OpFailure::Fail(e) => return Err(e.in_stream(self.stream)),
                }
            }
        }
        Ok(Some(a))
    }

    /// Ask again, together, the operations that asked for a retry.
    pub fn flush_retries(&mut self, cx: &mut Cx<'_>) {
        let retry = std::mem::take(&mut self.retry);
        for p in &retry {
            *self.per_account.entry(p.target.account).or_default() -= 1;
        }
        self.ask_rounds(cx, retry);
    }
}
