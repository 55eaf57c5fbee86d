//! The walks down the media edge of `media` (its first page by cursor, time slices for large
//! accounts, a refused slice's cursor fallback, a page too large with the riders' expansions
//! asked again without them) and what each page yields: `media` records, the posts handed to
//! the rider and to `media_insights`, and the slices a first page opens.
//!
//! Owns only the walks; the family (declarations, state, checkpoints) is the parent module.

use super::*;

impl Media {
    /// Start a walk of account `account` at `url`: its first page, a slice, or a fallback.
    pub(super) fn open(
        &mut self,
        cx: &mut Cx<'_>,
        account: usize,
        url: String,
        slice: Option<Slice>,
        first: bool,
        fallback: bool,
    ) {
        let what = match slice {
            Some(_) => "a time slice of the media edge",
            None => "the media edge",
        };
        let walk = Walk::new(format!("{what} of account {}", cx.accounts[account].ig_id), &url);
        let tag = self.next_walk;
        self.next_walk += 1;
        self.progress[account].open_walks += 1;
        // A first page (it starts the longest chain) and slices' pages (parallel walks whose
        // answers must not wait in batches) go alone; see `go_on`.
        cx.get(tag, url.clone(), PRIORITY_EDGE);
        self.walks.insert(tag, EdgeWalk { account, walk, url, slice, first, fallback, bare: false });
    }

    /// Go on with a walk after its page: the next page, or the end of the walk.
    pub(super) fn go_on(&mut self, cx: &mut Cx<'_>, mut w: EdgeWalk, next: Option<String>) {
        match w.walk.follow(next) {
            Some(url) => {
                let tag = self.next_walk;
                self.next_walk += 1;
                // The next page of a cursor walk goes with the insights of the page before.
                if w.slice.is_none() {
                    cx.page(tag, url.clone(), Some(w.account));
                } else {
                    cx.get(tag, url.clone(), PRIORITY_EDGE);
                }
                w.url = url;
                self.walks.insert(tag, w);
            }
            None => {
                let p = &mut self.progress[w.account];
                p.truncated |= w.walk.truncated;
                p.open_walks -= 1;
            }
        }
    }

    pub(super) fn on_page(
        &mut self,
        cx: &mut Cx<'_>,
        mut w: EdgeWalk,
        answer: std::result::Result<Value, ApiError>,
    ) -> Result<()> {
        let a = w.account;
        // The walk's own failures are the edge's: they stop every stream of the family.
        let edge_stream = MEDIA.name;
        let page = match answer.and_then(|v| graph::parse_page(v, &w.url)) {
            Ok(page) => page,
            Err(ApiError::Graph { error, .. })
                if error.is_too_much_data() && !w.bare && self.bare_url(&w).is_some() =>
            {
                // Too much even at one post a page (the engine halved it down to one): this
                // walk goes on without the rider's expansions, which the rider reads itself.
                emit::info(&format!(
                    "Meta refused a page of {} as too much data even at one post ({}); reading it without the comments, which are read on their own",
                    w.walk.edge, error.message
                ));
                w.url = self.bare_url(&w).expect("checked");
                w.bare = true;
                let tag = self.next_walk;
                self.next_walk += 1;
                cx.get(tag, w.url.clone(), PRIORITY_EDGE);
                self.walks.insert(tag, w);
                return Ok(());
            }
            Err(ApiError::Graph { error, .. }) if w.slice.is_some() && !w.fallback && !error.is_throttle() => {
                // Meta refused time-based paging here: read this slice by cursor instead.
                emit::info(&format!(
                    "Meta refused a time slice of the media edge of account {} ({}); reading it by cursor",
                    cx.accounts[a].ig_id, error.message
                ));
                self.progress[a].open_walks -= 1;
                if let Some(url) = self.progress[a].first_next.clone() {
                    self.open(cx, a, url, w.slice, false, true);
                }
                return Ok(());
            }
            Err(e) => {
                return Err(e.into_connector("reading the media of the Instagram accounts").in_stream(edge_stream));
            }
        };
        if !w.walk.accept(&page) {
            self.go_on(cx, w, None);
            return Ok(());
        }
        let mut targets = Vec::new();
        let mut stamps = Vec::new();
        let p = &self.progress[a];
        let (media_cutoff, insights_cutoff, stop_before) = (p.media_cutoff, p.insights_cutoff, p.stop_before);
        let keep =
            |cut: Option<DateTime<Utc>>, ts: Option<DateTime<Utc>>| !matches!((cut, ts), (Some(c), Some(t)) if t < c);
        for item in page.data {
            let Value::Object(mut media) = item else {
                return Err(bad_data(edge_stream, "a media item that is not an object", &item));
            };
            let Some(id) = media.get("id").and_then(Value::as_str).map(str::to_string) else {
                return Err(bad_data(edge_stream, "a media item without `id`", &Value::Object(media)));
            };
            let ts = media.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp);
            if let Some(t) = ts {
                stamps.push(t);
            }
            if let Some(slice) = w.slice
                && (ts.is_some_and(|t| !slice.contains(t)) || self.progress[a].first_ids.contains(&id))
            {
                continue;
            }
            if w.first {
                self.progress[a].first_ids.insert(id.clone());
            }
            if let Some(t) = ts {
                let p = &mut self.progress[a];
                p.newest = Some(p.newest.map_or(t, |n| n.max(t)));
            }
            if let Some(rider) = self.rider.as_mut() {
                rider.on_post(cx, a, &mut media, !w.bare)?;
            }
            transform::clean_object(&mut media);
            transform::inline_children(&mut media);
            transform::inline_collaborators(&mut media);
            cx.enrich(&mut media, a);
            if cx.wants(MEDIA_INSIGHTS.name) && keep(insights_cutoff, ts) {
                let kind = MediaKind::of(
                    media.get("media_type").and_then(Value::as_str).unwrap_or(""),
                    media.get("media_product_type").and_then(Value::as_str).unwrap_or(""),
                );
                let mut extra = Map::new();
                for k in ["media_type", "media_product_type", "timestamp"] {
                    if let Some(v) = media.get(k) {
                        extra.insert(k.into(), v.clone());
                    }
                }
                targets.push(Target { id, kind, account: a, extra });
            }
            if cx.wants(MEDIA.name) && keep(media_cutoff, ts) {
                cx.record(MEDIA.name, media);
            }
        }
        // The edge is newest first: once a page reaches past what is wanted, stop.
        let oldest = stamps.iter().min().copied();
        let floor = [stop_before, w.slice.and_then(|s| s.lo)].into_iter().flatten().max();
        let past = matches!((floor, oldest), (Some(f), Some(o)) if o < f);
        let next = page.next.filter(|_| !past);
        if w.first && next.is_some() {
            let plan = media_slices::plan(cx.accounts[a].media_count, &stamps, stop_before);
            if let Some(slices) = plan {
                self.progress[a].first_next = next.clone();
                self.go_on(cx, w, None);
                for slice in slices {
                    let mut query: Vec<(&str, String)> =
                        vec![("fields", self.fields.clone()), ("limit", PAGE_LIMIT.to_string())];
                    query.extend(slice.query());
                    let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let url = cx.client.url(&format!("{}/media", cx.accounts[a].ig_id), &q);
                    self.open(cx, a, url, Some(slice), false, false);
                }
                self.ask_insights(cx, targets);
                return Ok(());
            }
        }
        w.first = false;
        self.go_on(cx, w, next);
        self.ask_insights(cx, targets);
        Ok(())
    }

    /// `w`'s URL without the rider's expansions, if it has a rider whose expansions it asks.
    pub(super) fn bare_url(&self, w: &EdgeWalk) -> Option<String> {
        media_riders::without_expansions(&w.url, self.rider.as_ref()?.fields())
    }

    /// The insights operations of a page's posts, and their breakdown operations.
    fn ask_insights(&mut self, cx: &mut Cx<'_>, targets: Vec<Target>) {
        if self.insights.hold {
            self.breakdowns.ask(cx, targets.iter().map(|t| (t.id.clone(), t.account, t.kind)).collect());
        }
        self.insights.ask(cx, targets);
    }
}
