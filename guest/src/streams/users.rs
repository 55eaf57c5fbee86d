//! `users`: the IG user node of every account.
//!
//! Owns the stream's declaration and its hooks: the node the account list brought along, or
//! else one GET per account; one record and one checkpoint per node. It must not page or ask
//! insights.

use super::StreamDef;
use crate::engine::{Cx, Family, bad_data};
use crate::error::Result;
use crate::graph::ApiError;
use crate::state;
use crate::transform;
use serde_json::Value;

pub const USERS: StreamDef = StreamDef {
    name: "users",
    primary_key: &["id"],
    cursor_field: None,
    schema: include_str!("../../../schemas/users.json"),
    parent: None,
    fields: Some(USER_FIELDS),
};

pub use crate::graph_fields::{INSTAGRAM_LOGIN_USER_FIELDS, USER_FIELDS, user_fields};

/// The family: stateless, the tag is the account index.
pub struct Users;

impl Family for Users {
    fn streams(&self) -> &'static [&'static str] {
        &[USERS.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let fields = user_fields(cx.config.login);
        // One operation per account the account list did not bring the node of: they go out in
        // a batch with whatever else is asked at the start.
        let mut ops = Vec::new();
        for (a, account) in cx.accounts.iter().enumerate() {
            match account.prefetched.take_user() {
                Some(user) => self.on_answer(cx, a as u64, Ok(Value::Object(user)))?,
                None => ops.push((a as u64, cx.client.relative_url(&account.ig_id, &[("fields", fields)]))),
            }
        }
        cx.edge_ops(ops);
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let a = tag as usize;
        let doing = format!("reading Instagram account {}", cx.accounts[a].ig_id);
        let user = answer.map_err(|e| e.into_connector(&doing).in_stream(USERS.name))?;
        let Value::Object(mut user) = user else {
            return Err(bad_data(USERS.name, "an IG user node that is not a JSON object", &user));
        };
        transform::clean_object(&mut user);
        cx.enrich(&mut user, a);
        cx.record(USERS.name, user);
        cx.checkpoint(USERS.name, state::no_cursor_state());
        Ok(())
    }
}
