//! Issue 25, the Instagram data of 2026, end to end through the real host and component
//! against the fake: the media and story metrics Meta added (reposts, profile activity by
//! action, crossposted and Facebook views refused for media not shared to Facebook, the
//! ads-inclusive totals and story link clicks of Facebook Login), the new media and user fields
//! (per login; a field Meta stops serving), competitor reel views and the read time of each
//! lifetime snapshot (`read_at`). The account data of 2026 is in `account_data_2026.rs`. Every
//! value is checked against what the fake says it must be.

mod common;

use common::checks::*;
use common::*;
use fake_graph::insights::{PROFILE_ACTIVITY_ACTIONS, media_metric_value, profile_activity_parts};
use fake_graph::{DatasetSpec, FakeOptions, Login, MediaKind, Quirks};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The dataset's "now", as records carry it.
const NOW: &str = "2026-11-01T12:00:00+00:00";

/// The metrics Meta added to media and story insights in 2025–2026.
const NEW_METRICS: &[&str] = &[
    "reposts",
    "profile_activity",
    "facebook_views",
    "crossposted_views",
    "total_likes",
    "total_comments",
    "total_views",
    "link_clicks",
];

/// Every post and story gets the new metrics its kind has, with the fake's values: reposts,
/// profile activity with its parts by action (lower case whichever case Meta answers, asked
/// alone with its breakdown), the ads-inclusive totals and story link clicks; Facebook and
/// crossposted views for media shared to Facebook, while Meta's refusal for the others
/// leaves both out of those records only, with one INFO line and one extra request each; every
/// record carries when it was read.
#[test]
fn media_and_story_metrics_of_2026_with_known_answers() {
    let spec = DatasetSpec { media_per_account: 40, ..DatasetSpec::small() };
    let quirks = Quirks { unsupported_get: None, ..Quirks::default() };
    let sb = Sandbox::start_with(spec, FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["stories", "story_insights", "media_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ds = sb.dataset();
    for stream in ["media_insights", "story_insights"] {
        check_schema_and_keys(&r, stream);
        assert!(complete(&r, stream), "{stream}");
    }
    let posts = by_id(&r, "media_insights");
    let stories = by_id(&r, "story_insights");
    let objects: Vec<&fake_graph::Media> = ds.all_media().chain(ds.all_stories()).filter(|m| !m.flags.any()).collect();
    assert_eq!(posts.len() + stories.len(), objects.len());
    let (mut shared, mut unshared) = (BTreeSet::new(), BTreeSet::new());
    for m in &objects {
        let rec = if m.kind() == MediaKind::Story { stories[&m.id] } else { posts[&m.id] };
        for metric in NEW_METRICS.iter().chain(&["reach", "views", "likes"]) {
            assert_eq!(rec.get(*metric).cloned(), media_metric_value(ds, m, metric), "{} {metric}: {rec}", m.id);
        }
        assert_eq!(rec["read_at"], NOW, "{rec}");
        match media_metric_value(ds, m, "profile_activity") {
            Some(total) => {
                let parts: serde_json::Map<String, Value> = PROFILE_ACTIVITY_ACTIONS
                    .iter()
                    .zip(profile_activity_parts(ds, m))
                    .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
                    .collect();
                assert_eq!(rec["profile_activity_breakdown"], Value::Object(parts), "{rec}");
                let sum: u64 = profile_activity_parts(ds, m).iter().sum();
                assert_eq!(total, json!(sum));
            }
            None => assert!(rec.get("profile_activity_breakdown").is_none(), "{rec}"),
        }
        if matches!(m.kind(), MediaKind::Reel | MediaKind::Story) {
            let kind = format!("{:?}", m.kind());
            if m.extras.shared_to_facebook {
                shared.insert(kind)
            } else {
                unshared.insert(kind)
            };
        }
    }
    // Reels and stories both shared to Facebook and not (the refusal costs nothing else).
    assert_eq!(shared.len(), 2, "{shared:?}");
    assert_eq!(unshared.len(), 2, "{unshared:?}");
    let about = |w: &String| w.contains("facebook_views") || w.contains("crossposted_views");
    assert!(logs(&r, "WARN").iter().all(|w| !about(w)), "{:#?}", logs(&r, "WARN"));
    let infos: Vec<String> = logs(&r, "INFO").into_iter().filter(about).collect();
    assert_eq!(infos.len(), 1, "{infos:#?}");
    assert!(infos[0].contains("shared to Facebook"), "{infos:?}");
    // A reel not shared to Facebook: its insights asked twice (refused, then without both).
    let calls = sb.calls();
    let reel = objects.iter().find(|m| m.kind() == MediaKind::Reel && !m.extras.shared_to_facebook).unwrap();
    let asked: Vec<&String> = calls.iter().filter(|c| c.contains(&format!("/{}/insights?", reel.id))).collect();
    assert_eq!(asked.len(), 2, "{asked:#?}");
    assert!(!asked[1].contains("facebook_views") && !asked[1].contains("crossposted_views"), "{asked:?}");
    // The breakdowns are asked alone, as Meta requires.
    let broken: Vec<&String> = calls.iter().filter(|c| c.contains("breakdown=action_type")).collect();
    assert!(!broken.is_empty() && broken.iter().all(|c| c.contains("metric=profile_activity&")), "{broken:?}");
}

/// With Instagram Login (the fake answering as graph.instagram.com, which refuses what Meta
/// reserves for Facebook Login) nothing Facebook-Login-only is asked: every stream completes
/// without a warning about them, and the records carry what Instagram Login serves (the
/// account breakdowns and dated demographics included).
#[test]
fn instagram_login_asks_only_what_it_serves() {
    let sb =
        Sandbox::start_with(DatasetSpec::small(), FakeOptions { login: Login::Instagram, ..FakeOptions::default() });
    let streams = [
        "users",
        "media",
        "media_insights",
        "stories",
        "story_insights",
        "user_insights_breakdowns",
        "user_lifetime_insights",
    ];
    let r = sb.read(&sb.config(json!({"login": "instagram"})), &sb.catalog(&streams), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let facebook_only = [
        "total_likes",
        "total_comments",
        "total_views",
        "link_clicks",
        "reposts_count",
        "saved_count",
        "shares_count",
        "total_like_count",
        "total_comments_count",
        "total_views_count",
        "media_audio_type",
        "collaborators",
        "has_profile_pic",
        "is_published",
    ];
    for stream in streams {
        assert!(complete(&r, stream), "{stream}");
        for rec in r.records(stream) {
            assert!(facebook_only.iter().all(|f| rec.get(*f).is_none()), "{stream}: {rec}");
        }
    }
    for call in sb.calls() {
        let query = call.split_once('?').map_or("", |(_, q)| q);
        assert!(facebook_only.iter().all(|f| !query.contains(f)), "{call}");
    }
    let warns = logs(&r, "WARN");
    assert!(warns.iter().all(|w| facebook_only.iter().all(|f| !w.contains(f))), "{warns:#?}");
    // The account data too: the breakdowns and both timeframes of the token's own account.
    assert!(!r.records("user_insights_breakdowns").is_empty());
    assert_eq!(r.records("user_lifetime_insights").len(), 5 * 3 * 2);
    let account = &sb.dataset().accounts()[0];
    let media = by_id(&r, "media");
    assert_eq!(media.len(), account.media.len());
    for m in &account.media {
        assert_eq!(media[&m.id]["is_ai_generated"], json!(m.extras.is_ai_generated.unwrap()));
    }
    let stories = by_id(&r, "story_insights");
    for s in account.stories.iter().filter(|s| !s.flags.any()) {
        assert_eq!(stories[&s.id].get("reposts").cloned(), media_metric_value(sb.dataset(), s, "reposts"));
    }
}

/// The media fields Meta added (counts equal to the media's insight values, AI label, alt
/// text, audio, reels shared to the feed, collaborators as a list) and the user fields, with
/// Facebook Login.
#[test]
fn media_and_user_fields_with_known_answers() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users", "media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    check_schema_and_keys(&r, "media");
    check_schema_and_keys(&r, "users");
    let ds = sb.dataset();
    let media = by_id(&r, "media");
    let mut with_collaborators = 0;
    for m in ds.all_media() {
        let rec = media[&m.id];
        let x = &m.extras;
        assert_eq!(rec.get("alt_text").cloned(), x.alt_text.as_ref().map(|t| json!(t)), "{rec}");
        assert_eq!(rec["is_ai_generated"], json!(x.is_ai_generated.unwrap()));
        assert_eq!(rec.get("media_audio_type").cloned(), x.media_audio_type.map(|t| json!(t)), "{rec}");
        let reel = m.kind() == MediaKind::Reel;
        assert_eq!(rec.get("is_shared_to_feed").cloned(), reel.then_some(json!(true)), "{rec}");
        for (field, metric) in [
            ("saved_count", "saved"),
            ("shares_count", "shares"),
            ("reposts_count", "reposts"),
            ("total_like_count", "total_likes"),
            ("total_comments_count", "total_comments"),
            ("total_views_count", "total_views"),
        ] {
            assert_eq!(rec.get(field).cloned(), media_metric_value(ds, m, metric), "{field}: {rec}");
        }
        let collaborators: Vec<Value> = x
            .collaborators
            .iter()
            .map(|c| json!({"id": c.id, "username": c.username, "invite_status": c.invite_status}))
            .collect();
        with_collaborators += usize::from(!collaborators.is_empty());
        assert_eq!(rec["collaborators"], json!(collaborators), "{rec}");
    }
    assert!(with_collaborators > 0);
    for account in ds.accounts() {
        let user = r.records("users").into_iter().find(|u| u["id"] == account.ig_user_id.as_str()).unwrap();
        assert_eq!(user["has_profile_pic"], json!(account.has_profile_pic()), "{user}");
        assert_eq!(user["is_published"], json!(true), "{user}");
    }
}

/// A field Meta stops serving (on the media edge, on the IG user, through the account list's
/// field expansion too) fails no stream and warns once: every record is there, without it.
#[test]
fn a_field_meta_stops_serving_is_dropped_with_one_warning() {
    let options = FakeOptions {
        retired_fields: vec![
            ("ShadowIGMedia".into(), "media_audio_type".into()),
            ("ShadowIGMedia".into(), "collaborators".into()),
            ("ShadowIGUser".into(), "is_published".into()),
        ],
        page_size_cap: 5,
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), options);
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users", "media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.records("media").len(), sb.dataset().all_media().count());
    assert_eq!(r.records("users").len(), sb.dataset().accounts().len());
    let warns = logs(&r, "WARN");
    for field in ["media_audio_type", "collaborators", "is_published"] {
        assert!(r.all_records().iter().all(|m| m["record"]["data"].get(field).is_none()), "{field}");
        assert_eq!(warns.iter().filter(|w| w.contains(&format!("`{field}`"))).count(), 1, "{field}: {warns:#?}");
    }
    assert!(r.records("media").iter().all(|m| m["saved_count"].is_number()), "the other new fields stay");
}

/// Competitor reels carry their views (business discovery `view_count`); other posts none.
#[test]
fn competitor_reels_carry_their_views() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(public_lists()), &sb.catalog(&["competitor_media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    check_schema_and_keys(&r, "competitor_media");
    let got = by_id(&r, "competitor_media");
    let mut reels = 0;
    for c in &sb.dataset().public().competitors {
        for m in c.media.iter().filter(|m| got.contains_key(&m.id)) {
            reels += usize::from(m.view_count.is_some());
            assert_eq!(got[&m.id].get("view_count").cloned(), m.view_count.map(|v| json!(v)), "{}", got[&m.id]);
        }
    }
    assert!(reels > 0);
}

/// Meta documents that it refuses the crossposted metrics of media not shared to Facebook, not
/// the wording: refused with a bare "(#100) Invalid parameter" naming no metric, those media are
/// asked again without both and keep every other metric, the media shared to Facebook keep
/// them, and one INFO line (quoting Meta) says so.
#[test]
fn an_unnamed_crossposted_refusal_leaves_the_other_metrics() {
    let quirks = Quirks { unsupported_get: None, crossposted_refusal_unnamed: true, ..Quirks::default() };
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["stories", "story_insights", "media_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ds = sb.dataset();
    let posts = by_id(&r, "media_insights");
    let stories = by_id(&r, "story_insights");
    let objects: Vec<&fake_graph::Media> = ds.all_media().chain(ds.all_stories()).filter(|m| !m.flags.any()).collect();
    assert_eq!(posts.len() + stories.len(), objects.len());
    let mut unshared = 0;
    for m in &objects {
        let rec = if m.kind() == MediaKind::Story { stories[&m.id] } else { posts[&m.id] };
        unshared += usize::from(!m.extras.shared_to_facebook);
        for metric in NEW_METRICS.iter().chain(&["reach", "views"]) {
            assert_eq!(rec.get(*metric).cloned(), media_metric_value(ds, m, metric), "{} {metric}: {rec}", m.id);
        }
    }
    assert!(unshared > 0);
    let about = |w: &String| w.contains("facebook_views") || w.contains("crossposted_views");
    assert!(logs(&r, "WARN").iter().all(|w| !about(w)), "{:#?}", logs(&r, "WARN"));
    let infos: Vec<String> = logs(&r, "INFO").into_iter().filter(about).collect();
    assert_eq!(infos.len(), 1, "{infos:#?}");
    assert!(infos[0].contains("(#100) Invalid parameter"), "the fake named no metric: {infos:?}");
}
