//! Stream isolation: what a failure inside a stream family's hooks stops.
//!
//! Owns the rule Airbyte's CDK follows: a stream that fails is reported at once (TRACE ERROR
//! with its descriptor, then STREAM_STATUS INCOMPLETE), keeps its last checkpoint (nothing of
//! it is emitted afterwards, see `Cx`), and every other stream is read to the end; the read
//! then ends with one error naming each stream that failed. A family's first declared stream
//! is its edge (the walk the others are about): when the edge fails (a failure naming it, or
//! no selected stream), every selected stream of the family stops (reported under the first
//! selected, the others saying why), whether or not the edge itself is selected; when a child
//! stream (e.g. `media_insights`) fails, the family goes on for the rest. A failure marked `whole_read` (the token was rejected, the API
//! version is gone, the network cannot be reached as configured) ends the read at once.
//!
//! It must not judge errors (the stream modules and `graph` decide what is a failure and of
//! which kind) nor emit records or checkpoints.

use crate::catalog::Selection;
use crate::emit::{self, Status};
use crate::error::{ConnectorError, FailureType, Result};

/// Longest excerpt of one stream's message in the read's final error.
const MESSAGE_EXCERPT: usize = 300;

/// The streams that failed during a read, and the families that stopped.
pub struct Failures {
    /// Failed streams, in the order they failed, with their error.
    failed: Vec<(&'static str, ConnectorError)>,
    /// `dead[f]`: family `f` serves no stream any more; its answers are dropped.
    dead: Vec<bool>,
}

impl Failures {
    pub fn new(families: usize) -> Self {
        Failures { failed: Vec::new(), dead: vec![false; families] }
    }

    pub fn is_failed(&self, stream: &str) -> bool {
        self.failed.iter().any(|(s, _)| *s == stream)
    }

    pub fn is_dead(&self, family: usize) -> bool {
        self.dead[family]
    }

    /// A hook of `family`, which serves `streams` (its edge first, selected or not), failed
    /// with `e`. Returns the error only when it ends the whole read.
    pub fn fail(
        &mut self,
        family: usize,
        streams: &[&'static str],
        selection: &Selection,
        e: ConnectorError,
    ) -> Result<()> {
        if e.whole_read {
            return Err(e);
        }
        let selected: Vec<&'static str> = streams.iter().copied().filter(|s| selection.is_selected(s)).collect();
        let Some(&edge) = selected.first() else {
            // A family serving nothing selected cannot fail a stream; keep the error visible.
            self.dead[family] = true;
            return Err(e);
        };
        let named = e.stream.as_deref().and_then(|s| selected.iter().copied().find(|x| *x == s));
        match named {
            Some(child) if child != streams[0] => self.stop(child, e),
            _ => {
                let cause = e.message.clone();
                let failure = e.failure;
                let mut e = e;
                e.stream = Some(edge.to_string());
                self.stop(edge, e);
                for &child in &selected[1..] {
                    let why = ConnectorError {
                        failure,
                        message: format!(
                            "`{child}` stopped because `{}`, whose objects it reads, failed: {}",
                            streams[0],
                            excerpt(&cause)
                        ),
                        internal: None,
                        stream: Some(child.to_string()),
                        whole_read: false,
                    };
                    self.stop(child, why);
                }
            }
        }
        if selected.iter().all(|s| self.is_failed(s)) {
            self.dead[family] = true;
        }
        Ok(())
    }

    /// Report `stream` failed (once) and remember it.
    fn stop(&mut self, stream: &'static str, e: ConnectorError) {
        if self.is_failed(stream) {
            return;
        }
        emit::stream_error(&e);
        emit::status(stream, Status::Incomplete);
        self.failed.push((stream, e));
    }

    /// How the read ends: `Ok`, or one error naming every stream that failed (typed by the
    /// most demanding failure: a config error before a system error before a transient one).
    pub fn outcome(self) -> Result<()> {
        if self.failed.is_empty() {
            return Ok(());
        }
        let rank = |f: FailureType| match f {
            FailureType::Config => 0,
            FailureType::System => 1,
            FailureType::Transient => 2,
        };
        let failure = self.failed.iter().map(|(_, e)| e.failure).min_by_key(|f| rank(*f)).expect("not empty");
        let names: Vec<&str> = self.failed.iter().map(|(s, _)| *s).collect();
        let parts: Vec<String> = self.failed.iter().map(|(s, e)| format!("{s}: {}", excerpt(&e.message))).collect();
        let internal: Vec<String> = self
            .failed
            .iter()
            .filter_map(|(s, e)| e.internal.as_ref().map(|i| format!("{s}: {}", excerpt(i))))
            .collect();
        let mut e = ConnectorError::system(String::new());
        e.failure = failure;
        e.message = format!(
            "{} stream(s) did not sync completely ({}); every other stream was read to the end. {}",
            names.len(),
            names.join(", "),
            parts.join(" | ")
        );
        if !internal.is_empty() {
            e.internal = Some(internal.join(" | "));
        }
        Err(e)
    }

    /// Streams that failed, in order.
    pub fn streams(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.failed.iter().map(|(s, _)| *s)
    }
}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= MESSAGE_EXCERPT {
        return text.to_string();
    }
    let mut s: String = text.chars().take(MESSAGE_EXCERPT).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(streams: &[&str]) -> Selection {
        let catalog = serde_json::json!({"streams": streams.iter().map(|s| serde_json::json!({
            "stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
            "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"
        })).collect::<Vec<_>>()});
        Selection::parse(&catalog.to_string(), crate::streams::STREAMS).unwrap()
    }

    /// A child stream's failure stops only it; the edge's stops the family.
    #[test]
    fn child_and_edge_failures() {
        let sel = selection(&["media", "media_insights", "users"]);
        let mut f = Failures::new(2);
        f.fail(0, &["media", "media_insights"], &sel, ConnectorError::system("x").in_stream("media_insights")).unwrap();
        assert!(f.is_failed("media_insights") && !f.is_failed("media") && !f.is_dead(0));
        f.fail(0, &["media", "media_insights"], &sel, ConnectorError::transient("y")).unwrap();
        assert!(f.is_failed("media") && f.is_dead(0));
        let e = f.outcome().unwrap_err();
        assert_eq!(e.failure, FailureType::System);
        assert!(e.message.contains("media_insights, media"), "{}", e.message);
    }

    /// When the edge fails, its children stop with it and say why; a whole-read failure ends
    /// the read.
    #[test]
    fn edge_failure_stops_children() {
        let sel = selection(&["stories", "story_insights"]);
        let mut f = Failures::new(1);
        f.fail(0, &["stories", "story_insights"], &sel, ConnectorError::transient("down").in_stream("stories"))
            .unwrap();
        assert!(f.is_failed("story_insights") && f.is_dead(0));
        assert_eq!(f.streams().collect::<Vec<_>>(), vec!["stories", "story_insights"]);
        let mut g = Failures::new(1);
        let fatal = ConnectorError::config("token").for_whole_read();
        assert!(g.fail(0, &["stories"], &sel, fatal).is_err());
        assert!(g.outcome().is_ok());
    }

    /// The edge is the family's first declared stream, selected or not: with `media` not
    /// selected, a failure of `media_insights` stops only it and `media_comments` goes on; a
    /// failure of the walk (naming `media`) stops both, reported under the first selected.
    #[test]
    fn edge_is_first_declared() {
        let family = ["media", "media_insights", "media_comments"];
        let sel = selection(&["media_insights", "media_comments"]);
        let mut f = Failures::new(1);
        f.fail(0, &family, &sel, ConnectorError::system("op").in_stream("media_insights")).unwrap();
        assert!(f.is_failed("media_insights") && !f.is_failed("media_comments") && !f.is_dead(0));
        f.fail(0, &family, &sel, ConnectorError::system("walk").in_stream("media")).unwrap();
        assert!(f.is_failed("media_comments") && f.is_dead(0));

        let sel = selection(&["media_comments"]);
        let mut g = Failures::new(1);
        g.fail(0, &family, &sel, ConnectorError::system("walk").in_stream("media")).unwrap();
        assert!(g.is_failed("media_comments") && g.is_dead(0));
        assert_eq!(g.outcome().unwrap_err().failure, FailureType::System);
    }
}
