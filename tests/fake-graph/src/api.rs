//! Graph API semantics for one authenticated call: routing to nodes and
//! edges, `fields=` selection and expansion, and delegation to paging and
//! insights. Transport concerns (HTTP, auth, faults, usage headers, batch
//! envelopes, the request log) live in [`crate::server`].
//!
//! Routes (all `GET`):
//! - `me`, `me/accounts` (pages, paged; `summary=true` adds `total_count`)
//! - `{page-id}` (fields `id,name,category,instagram_business_account{...}`)
//! - `{ig-user-id}`, `{ig-user-id}/media`, `{ig-user-id}/stories`, `{ig-user-id}/insights`
//! - `{media-id}` (post, carousel child or story), `{media-id}/insights`, `{carousel-id}/children`
//! - `ig_hashtag_search`, `{hashtag-id}`, `{hashtag-id}/top_media|recent_media` and the
//!   `business_discovery` field of `{ig-user-id}` (see [`crate::public`])
//! - `{media-id}/comments`, `{comment-id}`, `{comment-id}/replies`, `{ig-user-id}/tags`
//!   (see [`crate::comments`]); `comments{...}` expands on media
//!
//! Anything else answers 100 / 33 ("Unsupported get request…").

use serde_json::{Map, Value, json};

use crate::comments::{self, CommentCx};
use crate::dataset::{Dataset, Media, MediaProductType, ObjectRef, Page, volatile_token};
use crate::faults::PagingCycle;
use crate::fields::{FieldSelection, mentions, parse_fields};
use crate::graph_error::GraphError;
use crate::ig_user::render_ig_user;
use crate::insights;
use crate::paging::{LinkBuilder, paged_response};
use crate::request::GraphCall;

/// Server-wide settings the API layer needs.
pub(crate) struct ApiContext<'a> {
    pub dataset: &'a Dataset,
    /// Base of absolute paging links.
    pub base_url: &'a str,
    pub page_size_cap: usize,
    /// Metrics rejected as unknown (retired by Meta).
    pub retired_metrics: &'a [String],
    pub paging_cycle: Option<PagingCycle>,
    pub refuse_time_paging: bool,
    /// Hashtag searches and platform calls so far.
    pub public: &'a crate::public::PublicState,
    /// Fields Meta has retired, as (node type, field): asking for one anywhere in `fields=`
    /// answers "nonexisting field (x) on node type (T)" (code 100).
    pub retired_fields: &'a [(String, String)],
    /// Comments deleted after they were listed: their `replies` edge answers 100/33.
    pub deleted_comments: &'a [String],
    /// Most media objects (posts and their children) one answer may hold through `media{…}`
    /// expansions of IG users; past it the call fails with code 1 "Please reduce the amount
    /// of data…". `None`: no limit.
    pub max_expanded_media: Option<usize>,
    /// Most objects (items of `data` arrays, at any depth) one answer may hold; past it the
    /// call fails with code 1 "Please reduce the amount of data…". `None`: no limit.
    pub max_answer_objects: Option<usize>,
    /// Media objects the expansions of the current answer hold so far.
    pub expanded_media: &'a std::cell::Cell<usize>,
    /// Behaviours real captures show.
    pub quirks: &'a crate::quirks::QuirkState,
    /// The login whose host the fake answers as (see `FakeOptions::login`).
    pub login: crate::oauth::Login,
}

impl<'a> ApiContext<'a> {
    fn comments(&'a self, call: &'a GraphCall) -> CommentCx<'a> {
        CommentCx {
            ds: self.dataset,
            call,
            base_url: self.base_url,
            cap: self.page_size_cap,
            deleted: self.deleted_comments,
        }
    }
}

const MEDIA_FIELDS: &[&str] = &[
    "alt_text",
    "boost_eligibility_info",
    "caption",
    "children",
    "collaborators",
    "comments",
    "comments_count",
    "copyright_check_information",
    "id",
    "ig_id",
    "is_ai_generated",
    "is_comment_enabled",
    "is_shared_to_feed",
    "legacy_instagram_media_id",
    "like_count",
    "media_audio_type",
    "media_product_type",
    "media_type",
    "media_url",
    "owner",
    "permalink",
    "reposts_count",
    "saved_count",
    "shares_count",
    "shortcode",
    "thumbnail_url",
    "timestamp",
    "total_comments_count",
    "total_like_count",
    "total_views_count",
    "username",
    "view_count",
];

/// Media fields Meta serves with Facebook Login only (changelog 22 Apr and 1 Jun 2026; the
/// `collaborators` edge is documented for Facebook Login): graph.instagram.com answers them
/// as fields it does not know.
pub(crate) const FACEBOOK_LOGIN_MEDIA_FIELDS: &[&str] = &[
    "collaborators",
    "media_audio_type",
    "reposts_count",
    "saved_count",
    "shares_count",
    "total_comments_count",
    "total_like_count",
    "total_views_count",
];

/// The fields of `universe` the host of `login` serves.
pub(crate) fn served_fields<'u>(
    universe: &[&'u str],
    login: crate::oauth::Login,
    facebook_only: &[&str],
) -> Vec<&'u str> {
    universe.iter().copied().filter(|f| login == crate::oauth::Login::Facebook || !facebook_only.contains(f)).collect()
}

const PAGE_FIELDS: &[&str] = &[
    "access_token",
    "category",
    "category_list",
    "fan_count",
    "id",
    "instagram_business_account",
    "link",
    "name",
    "tasks",
];

const USER_FIELDS: &[&str] = &[
    "account_type",
    "email",
    "first_name",
    "id",
    "last_name",
    "media_count",
    "name",
    "short_name",
    "user_id",
    "username",
];

/// Answers one authenticated, fault-free call; an answer holding more than
/// `max_answer_objects` objects is refused as too much data, as Meta does (an insights
/// answer's `data` lists metrics of one object, not objects: it is not counted).
pub(crate) fn answer(ctx: &ApiContext<'_>, call: &GraphCall) -> Result<Value, GraphError> {
    let value = answer_unchecked(ctx, call)?;
    let insights = call.path.segments.last().is_some_and(|s| s == "insights");
    match ctx.max_answer_objects {
        Some(max) if !insights && data_items(&value) > max => Err(GraphError::reduce_data()),
        _ => Ok(value),
    }
}

/// Items of every `data` array in `v`, at any depth.
fn data_items(v: &Value) -> usize {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| match (k.as_str(), x) {
                ("data", Value::Array(items)) => items.len() + items.iter().map(data_items).sum::<usize>(),
                _ => data_items(x),
            })
            .sum(),
        Value::Array(items) => items.iter().map(data_items).sum(),
        _ => 0,
    }
}

fn answer_unchecked(ctx: &ApiContext<'_>, call: &GraphCall) -> Result<Value, GraphError> {
    let ds = ctx.dataset;
    let segments = &call.path.segments;
    let method = call.method.to_ascii_uppercase();
    let Some(first) = segments.first() else {
        return Err(GraphError::unsupported_request(&method, ""));
    };
    let links = LinkBuilder { base_url: ctx.base_url, call };
    let is_account = |id: &str| ds.account(id).is_some();
    if let Some(answer) = crate::public::answer_hashtags(ds.public(), ctx.public, ds.now(), &links, is_account) {
        return answer;
    }
    if method == "GET" && segments.len() > 2 {
        return Err(GraphError::unknown_path_components(&segments[2..]));
    }
    if method != "GET" {
        return Err(GraphError::unsupported_request(&method, first));
    }
    let selection = match call.params.get("fields").filter(|f| !f.trim().is_empty()) {
        Some(raw) => Some(parse_fields(raw)?),
        None => None,
    };
    let selection = selection.as_deref();
    if let Some(sel) = selection
        && let Some((node, field)) = ctx.retired_fields.iter().find(|(_, f)| mentions(sel, f))
    {
        return Err(GraphError::nonexisting_field(field, node));
    }
    if let Some(comment) = comments::find_comment(ds, first) {
        if let Some(e) = ctx.quirks.unsupported_get(call, first) {
            return Err(e);
        }
        let cx = ctx.comments(call);
        return match segments.get(1).map(String::as_str) {
            None => cx.render(&comment, selection),
            Some("replies") => cx.replies_edge(first, selection),
            Some(_) => Err(GraphError::unsupported_request(&method, first)),
        };
    }
    let object = if first == "me" { Some(ObjectRef::Me) } else { ds.lookup(first) };
    let Some(object) = object else {
        return Err(GraphError::unsupported_request(&method, first));
    };

    match (object, segments.get(1).map(String::as_str)) {
        (ObjectRef::Me, None) => {
            let (id, name) = ds.me();
            // With an Instagram-Login token (graph.instagram.com) `me` is the Instagram
            // professional account: `user_id`, `username`, `account_type` and `media_count`
            // describe the dataset's first account.
            let ig = ds.accounts().first();
            render(selection, &["id", "name"], USER_FIELDS, "User", |field, _| match field {
                "id" => Some(json!(id)),
                "name" => Some(json!(name)),
                "user_id" => ig.map(|a| json!(a.ig_user_id)),
                "username" => ig.map(|a| json!(a.username)),
                "account_type" => ig.map(|_| json!("BUSINESS")),
                "media_count" => ig.map(|a| json!(a.media.len())),
                _ => None,
            })
        }
        (ObjectRef::Me, Some("accounts")) => {
            let items = ds
                .pages()
                .iter()
                .map(|p| render_page(ctx, call, p, selection, &["name", "category", "id"]))
                .collect::<Result<Vec<_>, _>>()?;
            let mut extra = Vec::new();
            if call.params.get("summary") == Some("true") {
                extra.push(("summary", json!({ "total_count": ds.pages().len() })));
            }
            paged_response(items, &links, ctx.page_size_cap, extra)
        }
        (ObjectRef::Page(p), None) => render_page(ctx, call, &ds.pages()[p], selection, &["name", "id"]),
        (ObjectRef::IgUser(a), None) => {
            // `business_discovery.username(…){…}` looks at another account through this one.
            let (discovery, rest): (Vec<_>, Vec<_>) =
                selection.unwrap_or_default().iter().cloned().partition(|f| f.name == "business_discovery");
            let rest = if selection.is_some() { Some(rest.as_slice()) } else { None };
            let mut node = render_ig_user(ctx, call, &ds.accounts()[a], rest)?;
            for field in &discovery {
                node["business_discovery"] = crate::public::business_discovery(ds.public(), field)?;
            }
            Ok(node)
        }
        (ObjectRef::IgUser(a), Some("media")) => {
            let (since, until) = time_range(call, ctx.refuse_time_paging)?;
            let items = ds.accounts()[a]
                .media
                .iter()
                .take(MEDIA_EDGE_CAP)
                .filter(|m| since.is_none_or(|s| m.timestamp.timestamp() >= s))
                .filter(|m| until.is_none_or(|u| m.timestamp.timestamp() <= u))
                .map(|m| render_media(ctx, call, m, selection))
                .collect::<Result<Vec<_>, _>>()?;
            let page = paged_response(items, &links, ctx.page_size_cap, Vec::new())?;
            Ok(match ctx.paging_cycle {
                Some(cycle) => break_paging(page, cycle, call, &links, ctx.page_size_cap),
                None => page,
            })
        }
        (ObjectRef::IgUser(a), Some("stories")) => {
            let items = ds.accounts()[a]
                .stories
                .iter()
                .map(|m| render_media(ctx, call, m, selection))
                .collect::<Result<Vec<_>, _>>()?;
            paged_response(items, &links, ctx.page_size_cap, Vec::new())
        }
        (ObjectRef::IgUser(a), Some("tags")) => {
            comments::tags_edge(ds, &ds.accounts()[a], selection, &links, ctx.page_size_cap)
        }
        (ObjectRef::IgUser(a), Some("insights")) => insights::account_insights(
            ds,
            &ds.accounts()[a],
            &call.params,
            &links,
            ctx.retired_metrics,
            &ctx.quirks.quirks,
        ),
        (ObjectRef::Post { .. } | ObjectRef::Child { .. } | ObjectRef::Story { .. }, edge) => {
            let media = ds.media(first).expect("indexed media exists");
            if let Some(e) = ctx.quirks.unsupported_get(call, first) {
                return Err(e);
            }
            match edge {
                None => render_media(ctx, call, media, selection),
                Some("insights") => insights::media_insights(
                    ds,
                    media,
                    &call.params,
                    ctx.retired_metrics,
                    &ctx.quirks.quirks,
                    ctx.login,
                ),
                Some("comments") if matches!(object, ObjectRef::Post { .. }) => {
                    ctx.comments(call).edge(&comments::comments_of(ds, media), selection)
                }
                Some("children") if media.is_carousel() => {
                    let items = media.children.iter().map(|c| render_media(ctx, call, c, selection)).collect::<Result<
                        Vec<_>,
                        _,
                    >>(
                    )?;
                    paged_response(items, &links, ctx.page_size_cap, Vec::new())
                }
                Some(_) => Err(GraphError::unsupported_request(&method, first)),
            }
        }
        _ => Err(GraphError::unsupported_request(&method, first)),
    }
}

/// Renders a node: the requested fields (or `defaults`), `id` always included,
/// unknown field names rejected, fields without a value omitted.
pub(crate) fn render(
    selection: Option<&[FieldSelection]>,
    defaults: &[&str],
    universe: &[&str],
    node_type: &str,
    mut value_of: impl FnMut(&str, Option<&[FieldSelection]>) -> Option<Value>,
) -> Result<Value, GraphError> {
    let default_selection: Vec<FieldSelection> = defaults.iter().map(|name| FieldSelection::plain(name)).collect();
    let selection = selection.unwrap_or(&default_selection);
    let mut out = Map::new();
    if let Some(id) = value_of("id", None) {
        out.insert("id".into(), id);
    }
    for field in selection {
        if !universe.contains(&field.name.as_str()) {
            return Err(GraphError::nonexisting_field(&field.name, node_type));
        }
        if field.name == "id" {
            continue;
        }
        if let Some(value) = value_of(&field.name, field.sub_fields.as_deref()) {
            out.insert(field.name.clone(), value);
        }
    }
    Ok(Value::Object(out))
}

fn render_page(
    ctx: &ApiContext<'_>,
    call: &GraphCall,
    page: &Page,
    selection: Option<&[FieldSelection]>,
    defaults: &[&str],
) -> Result<Value, GraphError> {
    let mut nested_error = None;
    let rendered = render(selection, defaults, PAGE_FIELDS, "Page", |field, sub| match field {
        "id" => Some(json!(page.id)),
        "name" => Some(json!(page.name)),
        "category" => Some(json!(page.category)),
        "link" => Some(json!(format!("https://www.facebook.com/{}", page.id))),
        "tasks" => Some(json!(["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"])),
        "instagram_business_account" => {
            let account = ctx.dataset.account(page.ig_user_id.as_deref()?)?;
            match render_ig_user(ctx, call, account, sub) {
                Ok(v) => Some(v),
                Err(e) => {
                    nested_error = Some(e);
                    None
                }
            }
        }
        _ => None,
    })?;
    match nested_error {
        Some(e) => Err(e),
        None => Ok(rendered),
    }
}

fn render_media(
    ctx: &ApiContext<'_>,
    call: &GraphCall,
    media: &Media,
    selection: Option<&[FieldSelection]>,
) -> Result<Value, GraphError> {
    let mut nested_error = None;
    let universe = served_fields(MEDIA_FIELDS, ctx.login, FACEBOOK_LOGIN_MEDIA_FIELDS);
    let node_type = if ctx.login == crate::oauth::Login::Facebook { "ShadowIGMedia" } else { "IGMedia" };
    let insight = |metric: &str| crate::insights::media_metric_value(ctx.dataset, media, metric);
    let rendered = render(selection, &["id"], &universe, node_type, |field, sub| match field {
        "id" => Some(json!(media.id)),
        "ig_id" => Some(json!(media.ig_id)),
        "caption" => media.caption.as_ref().map(|c| json!(c)),
        "comments_count" => media.comments_count.map(|c| json!(c)),
        "like_count" => media.like_count.map(|c| json!(c)),
        "is_comment_enabled" => media.is_comment_enabled.map(|c| json!(c)),
        "is_shared_to_feed" => (media.product_type == MediaProductType::Reels).then_some(Value::Bool(true)),
        "is_ai_generated" => media.extras.is_ai_generated.map(Value::Bool),
        "alt_text" => media.extras.alt_text.as_ref().map(|t| json!(t)),
        "media_audio_type" => media.extras.media_audio_type.map(|t| json!(t)),
        // The counts Meta added as fields are the media's insight values.
        "saved_count" => insight("saved"),
        "shares_count" => insight("shares"),
        "reposts_count" => insight("reposts"),
        "total_like_count" => insight("total_likes"),
        "total_comments_count" => insight("total_comments"),
        "total_views_count" => insight("total_views"),
        "collaborators" => Some(render_collaborators(media, sub)),
        "media_type" => Some(json!(media.media_type.as_str())),
        "media_product_type" => Some(json!(media.product_type.as_str())),
        "media_url" => Some(json!(media.media_url_served(&volatile_token(call.serial, &media.id, 12)))),
        "thumbnail_url" => media.thumbnail_url.as_ref().map(|u| json!(u)),
        "permalink" => Some(json!(media.permalink)),
        "shortcode" => Some(json!(media.shortcode)),
        "timestamp" => Some(json!(media.timestamp_graph())),
        "username" => Some(json!(media.username)),
        "owner" => {
            let owner_fields: &[&str] = &["id", "username"];
            let mut owner = Map::new();
            owner.insert("id".into(), json!(media.owner_id));
            if let Some(sub) = sub {
                for f in sub {
                    match f.name.as_str() {
                        "id" => {}
                        "username" => {
                            owner.insert("username".into(), json!(media.username));
                        }
                        other if !owner_fields.contains(&other) => {
                            nested_error = Some(GraphError::nonexisting_field(other, "ShadowIGUser"));
                        }
                        _ => {}
                    }
                }
            }
            Some(Value::Object(owner))
        }
        "comments" if media.role == crate::dataset::MediaRole::Post => {
            let modifiers = selection
                .and_then(|s| s.iter().find(|f| f.name == "comments"))
                .map(|f| f.modifiers.iter().filter(|(n, _)| n == "limit").cloned().collect())
                .unwrap_or_default();
            let field = FieldSelection { name: "comments".into(), sub_fields: sub.map(<[_]>::to_vec), modifiers };
            match ctx.comments(call).nested(
                &media.id,
                "comments",
                &comments::comments_of(ctx.dataset, media),
                &field,
            )? {
                Ok(v) => Some(v),
                Err(e) => {
                    nested_error = Some(e);
                    None
                }
            }
        }
        "children" if media.is_carousel() => {
            let children: Result<Vec<Value>, GraphError> = media
                .children
                .iter()
                .map(|child| match sub {
                    Some(sub) => render_media(ctx, call, child, Some(sub)),
                    None => Ok(json!({ "id": child.id })),
                })
                .collect();
            match children {
                Ok(data) => Some(json!({ "data": data })),
                Err(e) => {
                    nested_error = Some(e);
                    None
                }
            }
        }
        _ => None,
    })?;
    match nested_error {
        Some(e) => Err(e),
        None => Ok(rendered),
    }
}

/// `collaborators{id,username,invite_status}`: the post's collaborators as Meta's edge lists
/// them (`{"data": [...]}`, empty for a post without any, and for stories, which Meta does not
/// support collaborators on).
fn render_collaborators(media: &Media, sub: Option<&[FieldSelection]>) -> Value {
    let wanted = |name: &str| sub.is_none_or(|s| s.iter().any(|f| f.name == name));
    let data: Vec<Value> = media
        .extras
        .collaborators
        .iter()
        .map(|c| {
            let mut o = Map::new();
            o.insert("id".into(), json!(c.id));
            if wanted("username") {
                o.insert("username".into(), json!(c.username));
            }
            if wanted("invite_status") {
                o.insert("invite_status".into(), json!(c.invite_status));
            }
            Value::Object(o)
        })
        .collect();
    json!({ "data": data })
}

/// Meta serves at most the 10,000 newest posts of an account on the media edge.
pub const MEDIA_EDGE_CAP: usize = 10_000;

/// Time-based paging of the media edge: `since` and `until` (unix seconds; both bounds are
/// kept here — Meta does not document whether they are inclusive).
fn time_range(call: &GraphCall, refuse: bool) -> Result<(Option<i64>, Option<i64>), GraphError> {
    let parse = |name: &str| -> Result<Option<i64>, GraphError> {
        match call.params.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(_) if refuse => {
                Err(GraphError::invalid_parameter(format!("Param {name} is not supported on this edge")))
            }
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| GraphError::invalid_parameter(format!("Param {name} must be a unix timestamp"))),
        }
    };
    Ok((parse("since")?, parse("until")?))
}

/// Applies a [`PagingCycle`] fault to a media page.
fn break_paging(mut page: Value, cycle: PagingCycle, call: &GraphCall, links: &LinkBuilder<'_>, cap: usize) -> Value {
    if page.pointer("/paging/next").is_none() {
        return page;
    }
    let has_after = call.params.get("after").is_some();
    let step: u32 = call.params.get("fcycle").and_then(|v| v.parse().ok()).unwrap_or(0);
    let new_next = match cycle {
        PagingCycle::Alternating => {
            let after = page.pointer("/paging/cursors/after").and_then(Value::as_str).unwrap_or("").to_string();
            Some(match step {
                0 => links.url_with(&[("after", after), ("fcycle", "1".into())], &["before"]),
                1 => links.url_with(&[("after", after), ("fcycle", "2".into())], &["before"]),
                // Back to the URL of step 1 (page 1's `next`).
                _ => {
                    let first =
                        crate::paging::encode_cursor(crate::paging::page_size(&call.params, cap).unwrap_or(1) - 1);
                    links.url_with(&[("after", first), ("fcycle", "1".into())], &["before"])
                }
            })
        }
        PagingCycle::RepeatedPage if has_after => {
            let n: u32 = call.params.get("fresh").and_then(|v| v.parse().ok()).unwrap_or(0);
            Some(links.url_with(&[("fresh", (n + 1).to_string())], &[]))
        }
        PagingCycle::SelfLink if has_after => Some(links.url_with(&[], &[])),
        _ => None,
    };
    if let Some(n) = new_next {
        page["paging"]["next"] = Value::String(n);
    }
    page
}
