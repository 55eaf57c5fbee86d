//! The stream table: every stream's name, keys, cursor, sync modes, schema and Graph fields,
//! plus the SPEC and CATALOG documents built from it.
//!
//! Adding a stream is one schema file, one row here and its read hook in `read.rs`. This
//! module must not do I/O; `discover` advertises exactly what this table says, and `read`
//! accepts exactly the same.

use serde_json::{Value, json};

/// One stream as declared to Airbyte.
#[derive(Debug)]
pub struct StreamDef {
    pub name: &'static str,
    pub primary_key: &'static [&'static str],
    /// Source-defined cursor; `Some` means the stream supports incremental sync.
    pub cursor_field: Option<&'static str>,
    pub schema: &'static str,
}

pub const USERS: &str = "users";
pub const MEDIA: &str = "media";
pub const MEDIA_INSIGHTS: &str = "media_insights";
pub const STORIES: &str = "stories";
pub const STORY_INSIGHTS: &str = "story_insights";
pub const USER_INSIGHTS: &str = "user_insights";
pub const USER_LIFETIME_INSIGHTS: &str = "user_lifetime_insights";

pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: USERS,
        primary_key: &["id"],
        cursor_field: None,
        schema: include_str!("../../schemas/users.json"),
    },
    StreamDef {
        name: MEDIA,
        primary_key: &["id"],
        cursor_field: Some("timestamp"),
        schema: include_str!("../../schemas/media.json"),
    },
    StreamDef {
        name: MEDIA_INSIGHTS,
        primary_key: &["id"],
        cursor_field: Some("timestamp"),
        schema: include_str!("../../schemas/media_insights.json"),
    },
    StreamDef {
        name: STORIES,
        primary_key: &["id"],
        cursor_field: None,
        schema: include_str!("../../schemas/stories.json"),
    },
    StreamDef {
        name: STORY_INSIGHTS,
        primary_key: &["id"],
        cursor_field: None,
        schema: include_str!("../../schemas/story_insights.json"),
    },
    StreamDef {
        name: USER_INSIGHTS,
        primary_key: &["business_account_id", "date"],
        cursor_field: Some("date"),
        schema: include_str!("../../schemas/user_insights.json"),
    },
    StreamDef {
        name: USER_LIFETIME_INSIGHTS,
        primary_key: &["business_account_id", "breakdown", "metric"],
        cursor_field: None,
        schema: include_str!("../../schemas/user_lifetime_insights.json"),
    },
];

/// Graph fields of the IG user node for `users` (Facebook Login).
pub const USER_FIELDS: &str =
    "id,ig_id,username,name,biography,website,followers_count,follows_count,media_count,profile_picture_url";
/// The fields Instagram Login serves on graph.instagram.com.
pub const INSTAGRAM_LOGIN_USER_FIELDS: &str =
    "id,username,name,followers_count,follows_count,media_count,profile_picture_url";

pub fn user_fields(login: crate::config::Login) -> &'static str {
    match login {
        crate::config::Login::Facebook => USER_FIELDS,
        crate::config::Login::Instagram => INSTAGRAM_LOGIN_USER_FIELDS,
    }
}
/// Fields of a carousel child, expanded inline on the media edge.
pub const CHILD_FIELDS: &str =
    "id,ig_id,media_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username";
/// Graph fields of the media edge; children come through field expansion (no request per child).
pub fn media_fields() -> String {
    format!(
        "caption,comments_count,id,ig_id,is_comment_enabled,like_count,media_type,media_product_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username,children{{{CHILD_FIELDS}}}"
    )
}
/// Graph fields of the stories edge.
pub const STORY_FIELDS: &str = "caption,id,ig_id,like_count,media_type,media_product_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username";

/// The connection specification.
pub const SPEC: &str = include_str!("../../schemas/spec.json");

pub fn find(name: &str) -> Option<&'static StreamDef> {
    STREAMS.iter().find(|s| s.name == name)
}

impl StreamDef {
    pub fn supports_incremental(&self) -> bool {
        self.cursor_field.is_some()
    }

    /// This stream's AirbyteStream entry for the CATALOG.
    pub fn catalog_entry(&self) -> Value {
        let schema: Value =
            serde_json::from_str(self.schema).expect("stream schemas are valid JSON (checked by tests)");
        let modes: Vec<&str> =
            if self.supports_incremental() { vec!["full_refresh", "incremental"] } else { vec!["full_refresh"] };
        let mut entry = json!({
            "name": self.name,
            "json_schema": schema,
            "supported_sync_modes": modes,
            "source_defined_primary_key": self.primary_key.iter().map(|k| vec![*k]).collect::<Vec<_>>(),
            "is_resumable": self.supports_incremental(),
        });
        if let Some(cursor) = self.cursor_field {
            entry["source_defined_cursor"] = json!(true);
            entry["default_cursor_field"] = json!([cursor]);
        }
        entry
    }
}

/// The SPEC message body.
pub fn spec_json() -> Value {
    json!({
        "documentationUrl": "https://docs.airbyte.com/integrations/sources/instagram",
        "connectionSpecification": serde_json::from_str::<Value>(SPEC).expect("spec.json is valid JSON (checked by tests)"),
        "supportsIncremental": true,
        "supported_destination_sync_modes": ["overwrite", "append", "append_dedup"],
    })
}

/// The CATALOG message body.
pub fn catalog_json() -> Value {
    json!({ "streams": STREAMS.iter().map(StreamDef::catalog_entry).collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded schema parses, is an object schema and declares its keys and cursor.
    #[test]
    fn schemas_declare_keys_and_cursors() {
        for s in STREAMS {
            let schema: Value = serde_json::from_str(s.schema).unwrap();
            let props = schema["properties"].as_object().unwrap_or_else(|| panic!("{} has properties", s.name));
            for k in s.primary_key.iter().chain(s.cursor_field.iter()) {
                assert!(props.contains_key(*k), "{} declares {k}", s.name);
            }
            assert!(props.contains_key("business_account_id"), "{}", s.name);
            assert!(props.contains_key("page_id"), "{}", s.name);
        }
        assert_eq!(catalog_json()["streams"].as_array().unwrap().len(), 7);
        assert!(
            spec_json()["connectionSpecification"]["properties"]["access_token"]["airbyte_secret"].as_bool().unwrap()
        );
    }
}
