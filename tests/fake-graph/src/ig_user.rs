//! The IG user node as the fake renders it: its fields (`id`, `username`, counts, the
//! volatile `profile_picture_url`) and the `media{…}` expansion, which is the first page of the
//! node's media edge exactly as `{ig-user-id}/media` serves it, counted against
//! `max_expanded_media` (Meta's code 1 "Please reduce the amount of data…" past it).
//!
//! Routing and the other nodes stay in [`crate::api`].

use serde_json::{Value, json};

use crate::api::{ApiContext, answer, render};
use crate::dataset::{Account, volatile_token};
use crate::fields::FieldSelection;
use crate::graph_error::GraphError;
use crate::request::GraphCall;

const IG_USER_FIELDS: &[&str] = &[
    "biography",
    "followers_count",
    "follows_count",
    "has_profile_pic",
    "id",
    "ig_id",
    "is_published",
    "legacy_instagram_user_id",
    "media",
    "media_count",
    "name",
    "profile_picture_url",
    "shopping_product_tag_eligibility",
    "username",
    "website",
];

/// IG user fields Meta serves with Facebook Login only (graph.instagram.com answers them as
/// fields it does not know; the profile's `biography` and `website` are not among the fields
/// its reference lists).
const FACEBOOK_LOGIN_USER_FIELDS: &[&str] = &[
    "biography",
    "has_profile_pic",
    "ig_id",
    "is_published",
    "legacy_instagram_user_id",
    "shopping_product_tag_eligibility",
    "website",
];

pub(crate) fn render_ig_user(
    ctx: &ApiContext<'_>,
    call: &GraphCall,
    account: &Account,
    selection: Option<&[FieldSelection]>,
) -> Result<Value, GraphError> {
    let mut nested_error = None;
    let universe = crate::api::served_fields(IG_USER_FIELDS, ctx.login, FACEBOOK_LOGIN_USER_FIELDS);
    let node_type = if ctx.login == crate::oauth::Login::Facebook { "ShadowIGUser" } else { "IGUser" };
    let rendered = render(selection, &["id"], &universe, node_type, |field, _| match field {
        "id" => Some(json!(account.ig_user_id)),
        "ig_id" => Some(json!(account.ig_id)),
        "username" => Some(json!(account.username)),
        "name" => Some(json!(account.name)),
        "biography" => Some(json!(account.biography)),
        "website" => Some(json!(account.website)),
        "followers_count" => Some(json!(account.followers_count)),
        "follows_count" => Some(json!(account.follows_count)),
        "media_count" => Some(json!(account.media.len())),
        "has_profile_pic" => Some(json!(account.has_profile_pic())),
        "is_published" => Some(json!(true)),
        "profile_picture_url" => {
            let ccb = volatile_token(call.serial, &account.ig_user_id, 2);
            let ccb = format!("{}-{}", (ccb.as_bytes()[0] % 9) + 1, (ccb.as_bytes()[1] % 9) + 1);
            Some(json!(account.profile_picture_url_served(&ccb)))
        }
        "media" => {
            let field = selection?.iter().find(|f| f.name == "media")?;
            match media_expansion(ctx, call, account, field) {
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

/// `media.limit(n){…}` on an IG user: the first page of its media edge, exactly as
/// `{ig-user-id}/media?fields=…&limit=n` answers it (its `paging.next` leads to that edge).
fn media_expansion(
    ctx: &ApiContext<'_>,
    call: &GraphCall,
    account: &Account,
    field: &FieldSelection,
) -> Result<Value, GraphError> {
    let mut params = Vec::new();
    if let Some(sub) = &field.sub_fields {
        params.push(("fields".to_string(), crate::fields::to_fields_string(sub)));
    }
    params.push(("limit".to_string(), field.limit().unwrap_or(crate::paging::DEFAULT_PAGE_SIZE).to_string()));
    if call.token_in_query
        && let Some(t) = call.params.get("access_token")
    {
        params.push(("access_token".to_string(), t.to_string()));
    }
    let edge = GraphCall {
        method: "GET".into(),
        path: crate::request::GraphPath {
            version: call.path.version.clone(),
            segments: vec![account.ig_user_id.clone(), "media".into()],
        },
        params: crate::request::Params(params),
        body: String::new(),
        token_in_query: call.token_in_query,
        serial: call.serial,
    };
    let page = answer(ctx, &edge)?;
    let held: usize = page["data"]
        .as_array()
        .map(|items| items.iter().map(|m| 1 + m["children"]["data"].as_array().map_or(0, Vec::len)).sum())
        .unwrap_or(0);
    ctx.expanded_media.set(ctx.expanded_media.get() + held);
    match ctx.max_expanded_media {
        Some(max) if ctx.expanded_media.get() > max => Err(GraphError::reduce_data()),
        _ => Ok(page),
    }
}
