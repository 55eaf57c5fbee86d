//! The context handed to stream hooks: emit a record or a checkpoint, and ask a GET, a group
//! of operations or an edge page. What a hook asks is only collected here; the engine packs
//! and sends it after the hook returns (`super::packing`). It must not send, sleep or know
//! what a stream means.

use super::{PRIORITY_EDGE, PRIORITY_INSIGHTS, PRIORITY_SIDE, failures};
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::emit;
use crate::graph::GraphClient;
use crate::metrics::{MetricPolicy, MetricTable};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Everything a hook may use. Requests asked here go out after the hook returns.
pub struct Cx<'a> {
    pub config: &'a Config,
    pub selection: &'a Selection,
    pub table: &'static MetricTable,
    pub now: DateTime<Utc>,
    pub accounts: &'a [Account],
    pub client: &'a GraphClient,
    pub policy: &'a mut MetricPolicy,
    pub(super) counts: &'a mut BTreeMap<&'static str, u64>,
    /// Streams that failed during this read: not wanted any more, nothing of theirs emitted.
    pub(super) failures: &'a failures::Failures,
    pub(super) asked: Vec<Asked>,
}

pub(super) enum Asked {
    Get {
        tag: u64,
        url: String,
        priority: u8,
    },
    Ops {
        ops: Vec<(u64, String)>,
        priority: u8,
        account: Option<usize>,
    },
    /// An edge page as an operation: at most one per batch (a batch answer holds one page).
    Page {
        tag: u64,
        url: String,
        account: Option<usize>,
    },
}

impl Cx<'_> {
    /// Whether `stream` is selected and has not failed.
    pub fn wants(&self, stream: &str) -> bool {
        self.selection.is_selected(stream) && !self.failures.is_failed(stream)
    }

    pub fn record(&mut self, stream: &'static str, data: Map<String, Value>) {
        if self.failures.is_failed(stream) {
            return;
        }
        emit::record(stream, &Value::Object(data));
        *self.counts.entry(stream).or_default() += 1;
    }

    /// A checkpoint of `stream`, covering every record emitted before it.
    /// A failed stream keeps its last checkpoint: later ones are dropped.
    pub fn checkpoint(&mut self, stream: &'static str, state: Value) {
        if self.failures.is_failed(stream) {
            return;
        }
        let count = self.counts.remove(stream).unwrap_or(0);
        emit::state(stream, &state, count);
    }

    /// Records of `stream` emitted since its last checkpoint.
    pub fn uncheckpointed(&self, stream: &str) -> u64 {
        self.counts.get(stream).copied().unwrap_or(0)
    }

    /// GET an absolute URL.
    pub fn get(&mut self, tag: u64, url: String, priority: u8) {
        self.asked.push(Asked::Get { tag, url, priority });
    }

    /// Ask GET operations (relative URLs); each answers on its own through `on_answer`.
    pub fn ops(&mut self, ops: Vec<(u64, String)>) {
        if !ops.is_empty() {
            self.asked.push(Asked::Ops { ops, priority: PRIORITY_INSIGHTS, account: None });
        }
    }

    /// Ask GET operations (relative URLs) whose answers lead to more requests (edge pages,
    /// nodes): sent before insights. Each answers on its own through `on_answer`.
    pub fn edge_ops(&mut self, ops: Vec<(u64, String)>) {
        if !ops.is_empty() {
            self.asked.push(Asked::Ops { ops, priority: PRIORITY_EDGE, account: None });
        }
    }

    /// An edge page (an absolute URL, e.g. a `paging.next`): with the batch API, one edge
    /// operation, packed with the other operations of its step (of account `a`'s objects when
    /// `a` is given, e.g. with that page's insights); else, or off the API's origin, a GET.
    pub fn page(&mut self, tag: u64, url: String, account: Option<usize>) {
        let relative = url.strip_prefix(&self.client.absolute("")).map(str::to_string);
        match relative {
            Some(rel) if self.client.batch_supported() => self.asked.push(Asked::Page { tag, url: rel, account }),
            _ => self.get(tag, url, PRIORITY_EDGE),
        }
    }

    /// A small edge page (an absolute URL, e.g. a `paging.next` of a post's comments) about an
    /// object of account `a`: with the batch API, one edge operation packed with the other
    /// operations of its step about that account, up to a full batch of such pages (unlike
    /// [`Cx::page`], whose large pages go one per batch); else, or off the API's origin, a GET.
    pub fn small_page_of(&mut self, a: usize, tag: u64, url: String) {
        let relative = url.strip_prefix(&self.client.absolute("")).map(str::to_string);
        match relative {
            Some(rel) if self.client.batch_supported() => {
                self.asked.push(Asked::Ops { ops: vec![(tag, rel)], priority: PRIORITY_EDGE, account: Some(a) })
            }
            _ => self.get(tag, url, PRIORITY_EDGE),
        }
    }

    /// A request of a side walk (an absolute URL: tags, public content; see [`PRIORITY_SIDE`]):
    /// with the batch API, an edge operation packed with the other operations of its step
    /// (the account insights of the start, the side walks' other pages), so the side walks
    /// cost few round trips of their own; else, or off the API's origin, a GET.
    pub fn side(&mut self, tag: u64, url: String) {
        let relative = url.strip_prefix(&self.client.absolute("")).map(str::to_string);
        match relative {
            Some(rel) if self.client.batch_supported() => {
                self.asked.push(Asked::Ops { ops: vec![(tag, rel)], priority: PRIORITY_EDGE, account: None })
            }
            _ => self.get(tag, url, PRIORITY_SIDE),
        }
    }

    /// `ops`, all about objects of account `a` (media, stories): the host is told the account,
    /// so a throttle of one account does not hold back the others.
    pub fn ops_of(&mut self, a: usize, ops: Vec<(u64, String)>) {
        if !ops.is_empty() {
            self.asked.push(Asked::Ops { ops, priority: PRIORITY_INSIGHTS, account: Some(a) });
        }
    }

    /// `business_account_id` and `page_id` of account `a`.
    pub fn enrich(&self, record: &mut Map<String, Value>, a: usize) {
        let account = &self.accounts[a];
        record.insert("business_account_id".into(), Value::String(account.ig_id.clone()));
        record.insert("page_id".into(), account.page_id.clone().map(Value::String).unwrap_or(Value::Null));
    }
}
