//! Business discovery and hashtag search end to end, through the real host and component
//! against the fake's public world: `competitor_profiles`, `competitor_media` and
//! `hashtag_media` checked against their schemas, primary keys and the fake's known answer;
//! unknown names skipped with a warning; Meta's 30-hashtags-in-7-days budget kept across
//! syncs through state (a config past it is a `config_error` naming the extra hashtags); the
//! Instagram Login warning; and platform-limit throttles waited out.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Every call the fake served, batch operations included (public-content calls travel as batch
/// operations with the batch API): its path and query parameters.
fn asked(sb: &Sandbox) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for q in sb.fake.requests() {
        if q.is_batch() {
            for u in q.batch_relative_urls() {
                let (path, query) = u.split_once('?').unwrap_or((&u, ""));
                let pairs = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                out.push((format!("/{}", path.trim_start_matches('/')), pairs));
            }
        } else {
            out.push((q.path.clone(), q.query.clone()));
        }
    }
    out
}

/// The `fields` asked of every call that names `needle` in them.
fn fields_naming(sb: &Sandbox, needle: &str) -> Vec<String> {
    asked(sb)
        .into_iter()
        .flat_map(|(_, q)| q.into_iter().filter(|(k, _)| k == "fields").map(|(_, v)| v))
        .filter(|f| f.contains(needle))
        .collect()
}

/// Each record matches its schema, carries its whole key (unique) and the account fields.
fn check_stream(r: &Run, stream: &str, sb: &Sandbox) {
    let validator = jsonschema::validator_for(&schema(stream)).unwrap();
    let first = &sb.dataset().accounts()[0];
    let mut keys = BTreeSet::new();
    for rec in r.records(stream) {
        let errors: Vec<String> = validator.iter_errors(rec).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{stream} record {rec} violates its schema: {errors:?}");
        let key: Vec<String> = primary_key(stream).iter().map(|k| rec[*k].to_string()).collect();
        assert!(key.iter().all(|k| k != "null"), "{stream} record without its key: {rec}");
        assert!(keys.insert(key.clone()), "{stream} duplicate primary key {key:?}");
        assert_eq!(rec["business_account_id"], first.ig_user_id.as_str(), "{stream}: {rec}");
        assert_eq!(rec["page_id"], first.page_id.as_str(), "{stream}: {rec}");
        if let Some(t) = rec["timestamp"].as_str() {
            assert!(t.ends_with("+00:00"), "{stream}.timestamp is RFC 3339: {t}");
        }
    }
}

fn warnings(r: &Run) -> Vec<String> {
    r.of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["level"] == "WARN")
        .map(|l| l["log"]["message"].as_str().unwrap().to_string())
        .collect()
}

fn ids(records: &[&Value]) -> Vec<String> {
    records.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// Profiles (one per known competitor, today's date), posts up to the limit paged with
/// `media.after(…)` inside business discovery; the unknown username is skipped with a warning.
#[test]
fn competitors_end_to_end() {
    let sb = Sandbox::start(DatasetSpec::small());
    let world = sb.dataset().public().clone();
    let cfg = sb
        .config(json!({"competitor_usernames": public_lists()["competitor_usernames"], "competitor_media_limit": 120}));
    let r = sb.read(&cfg, &sb.catalog(&["competitor_profiles", "competitor_media"]), None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    check_stream(&r, "competitor_profiles", &sb);
    check_stream(&r, "competitor_media", &sb);
    let profiles = r.records("competitor_profiles");
    let names: Vec<&str> = profiles.iter().map(|p| p["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["rival_roasters", "summit_gear", "quiet_studio"]);
    for p in &profiles {
        let c = world.competitor(p["username"].as_str().unwrap()).unwrap();
        assert_eq!(p["followers_count"], c.followers_count, "{p}");
        assert_eq!(p["media_count"], c.media.len(), "{p}");
        assert_eq!(p["id"], c.id.as_str());
        assert_eq!(p["date"], "2026-11-01", "the UTC day of the read");
    }
    let media = r.records("competitor_media");
    let mut want: Vec<String> =
        world.competitor("rival_roasters").unwrap().media.iter().map(|m| m.id.clone()).collect();
    want.extend(world.competitor("summit_gear").unwrap().media.iter().take(120).map(|m| m.id.clone()));
    assert_eq!(ids(&media), want, "the newest 120 posts of each competitor, in order");
    let hidden = media.iter().find(|m| m["like_count"].is_null()).expect("a post with hidden likes");
    assert!(hidden["comments_count"].is_number());
    assert!(media.iter().all(|m| m["competitor_username"].is_string() && m["competitor_id"].is_string()));
    let w = warnings(&r);
    assert_eq!(w.iter().filter(|m| m.contains("@nobody_here")).count(), 1, "{w:#?}");
    // summit_gear: 50 + 50 + 20 posts, the later pages through `.after(` inside the field.
    let discovery = fields_naming(&sb, "username(summit_gear)");
    assert_eq!(discovery.len(), 3, "{discovery:#?}");
    assert!(discovery[1].contains("media.after(") && discovery[2].contains(".limit(20)"), "{discovery:#?}");
    // Meta pages discovery media by cursor only, and a page may hold fewer posts than asked
    // with more behind it: the competitor's `media_count` says when all were read, so
    // rival_roasters' 7 posts (fewer than the 50 asked, all of them) take one call, with no
    // empty page after them.
    let rival = fields_naming(&sb, "username(rival_roasters)");
    assert_eq!(rival.len(), 1, "{rival:#?}");
    assert_eq!(
        r.records("competitor_media").iter().filter(|m| m["competitor_username"] == "rival_roasters").count(),
        7
    );
}

/// Top and recent media of each hashtag equal the fake's; recent media only covers 24 h; the
/// unknown hashtag is skipped with a warning.
#[test]
fn hashtag_media_end_to_end() {
    let sb = Sandbox::start(DatasetSpec::small());
    let world = sb.dataset().public().clone();
    let now = sb.dataset().now();
    let r = sb.read(&sb.config(json!({"hashtags": public_lists()["hashtags"]})), &sb.catalog(&["hashtag_media"]), None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    check_stream(&r, "hashtag_media", &sb);
    let recs = r.records("hashtag_media");
    for name in ["sunset", "coffee"] {
        let tag = world.hashtag_named(name).unwrap();
        let of = |edge: &str| -> Vec<&Value> {
            recs.iter().copied().filter(|x| x["hashtag_id"] == tag.id.as_str() && x["edge"] == edge).collect()
        };
        let top: Vec<String> = tag.top_media().iter().map(|m| m.id.clone()).collect();
        let recent: Vec<String> = tag.recent_media(now).iter().map(|m| m.id.clone()).collect();
        assert!(!recent.is_empty() && recent.len() < tag.media.len(), "the fake keeps older posts out of recent");
        assert_eq!(ids(&of("top_media")), top, "#{name} top media");
        assert_eq!(ids(&of("recent_media")), recent, "#{name} recent media");
        assert!(of("top_media").iter().all(|x| x["hashtag_name"] == name));
    }
    let w = warnings(&r);
    assert_eq!(w.iter().filter(|m| m.contains("#nosuchtag")).count(), 1, "{w:#?}");
    // Only fields the hashtag edges serve are asked (the fake refuses others, as Meta does):
    // one call per edge and known hashtag, one search per hashtag, nothing refused and asked again.
    assert!(!w.iter().any(|m| m.contains("field")), "{w:#?}");
    let calls = sb.calls();
    let count = |needle: &str| calls.iter().filter(|c| c.split('?').next().unwrap().ends_with(needle)).count();
    assert_eq!((count("/top_media"), count("/recent_media"), count("/ig_hashtag_search")), (2, 2, 3), "{calls:#?}");
    let mut state = r.final_state();
    let tags = hashtag_state(&mut state)["hashtags"].as_object().unwrap().clone();
    assert_eq!(tags.keys().collect::<Vec<_>>(), ["coffee", "sunset"]);
}

/// The `hashtag_media` stream state inside a final state (mutable, to age it).
fn hashtag_state(state: &mut Value) -> &mut Value {
    let list = state.as_array_mut().unwrap();
    let entry = list.iter_mut().find(|m| m["stream"]["stream_descriptor"]["name"] == "hashtag_media").unwrap();
    &mut entry["stream"]["stream_state"]
}

fn hashtag_searches(sb: &Sandbox) -> usize {
    asked(sb).iter().filter(|(path, _)| path.ends_with("/ig_hashtag_search")).count()
}

fn config_error(r: &Run) -> String {
    assert_ne!(r.code, 0, "{}", r.stdout);
    let e = r.error().unwrap_or_else(|| panic!("a TRACE error: {}", r.stdout));
    assert_eq!(e["failure_type"], "config_error", "{e}");
    e["message"].as_str().unwrap().to_string()
}

/// A hashtag is searched once: the next sync takes its id from the state; a config that would
/// pass 30 unique hashtags in 7 days (counting those in the state) is refused before any
/// search, naming exactly the extra hashtags.
#[test]
fn hashtag_budget_survives_across_syncs() {
    let sb = Sandbox::start(DatasetSpec::small());
    let account = sb.dataset().accounts()[0].ig_user_id.clone();
    let cat = sb.catalog(&["hashtag_media"]);
    let cfg = sb.config(json!({"hashtags": ["sunset", "coffee"]}));
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(hashtag_searches(&sb), 2);
    sb.fake.clear_requests();
    let second = sb.read(&cfg, &cat, Some(&first.final_state()));
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert_eq!(hashtag_searches(&sb), 0, "ids come from the state");
    assert_eq!(ids(&second.records("hashtag_media")), ids(&first.records("hashtag_media")));

    // 2 in the state + 29 new = 31: the last one is refused, nothing is searched.
    let mut many = vec!["sunset".to_string(), "coffee".to_string()];
    many.extend((1..=29).map(|i| format!("tag{i:02}")));
    let over = sb.read(&sb.config(json!({"hashtags": many})), &cat, Some(&second.final_state()));
    let message = config_error(&over);
    assert!(message.contains("`hashtags`") && message.contains("#tag29"), "{message}");
    assert!(!message.contains("#tag28"), "only the extra hashtag is named: {message}");
    assert_eq!(hashtag_searches(&sb), 0);
    // 28 new fit exactly.
    many.pop();
    let fits = sb.read(&sb.config(json!({"hashtags": many})), &cat, Some(&second.final_state()));
    assert_eq!(fits.code, 0, "{}", fits.stdout);
    assert_eq!(sb.fake.searched_hashtags(&account).len(), 30);
    let mut state = fits.final_state();
    assert_eq!(hashtag_state(&mut state)["hashtags"].as_object().unwrap().len(), 30);
    // Searches of 8 days ago no longer count against the budget.
    let mut old = state.clone();
    for v in hashtag_state(&mut old)["hashtags"].as_object_mut().unwrap().values_mut() {
        v["searched_at"] = json!("2026-10-24T12:00:00+00:00");
    }
    // Then the connector lets a new one through and it is Meta (whose 30 searches are recent
    // in real time) that refuses; with the real dates the connector refuses it itself.
    let aged = config_error(&sb.read(&sb.config(json!({"hashtags": ["handmade"]})), &cat, Some(&old)));
    assert!(aged.contains("Meta refused") && aged.contains("#handmade"), "{aged}");
    let recent = config_error(&sb.read(&sb.config(json!({"hashtags": ["handmade"]})), &cat, Some(&state)));
    assert!(recent.contains("cannot be searched now") && recent.contains("#handmade"), "{recent}");
}

/// Without state the connector cannot know what other tools searched: Meta's own budget
/// error (24/2207034) is a `config_error` naming the hashtag.
#[test]
fn metas_budget_error_is_a_config_error() {
    let sb = Sandbox::start(DatasetSpec::small());
    let cat = sb.catalog(&["hashtag_media"]);
    let thirty: Vec<String> = (1..=30).map(|i| format!("tag{i:02}")).collect();
    let r = sb.read(&sb.config(json!({ "hashtags": thirty })), &cat, None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let lost_state = sb.read(&sb.config(json!({"hashtags": ["sunset"]})), &cat, None);
    let message = config_error(&lost_state);
    assert!(
        message.contains("Meta refused") && message.contains("#sunset") && message.contains("`hashtags`"),
        "{message}"
    );
}

/// With Instagram Login the lists get one warning naming them, and the other streams are read.
#[test]
fn instagram_login_warns_once_and_reads_the_rest() {
    let sb = Sandbox::start(DatasetSpec::small());
    let mut cfg = public_lists();
    cfg["login"] = json!("instagram");
    let r = sb.read(
        &sb.config(cfg),
        &sb.catalog(&["users", "competitor_profiles", "competitor_media", "hashtag_media"]),
        None,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let w: Vec<String> = warnings(&r).into_iter().filter(|m| m.contains("Facebook Login")).collect();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("`competitor_usernames`") && w[0].contains("`hashtags`"), "{}", w[0]);
    assert_eq!(r.records("users").len(), 1);
    for s in PUBLIC_STREAMS {
        assert!(r.records(s).is_empty(), "{s}");
    }
    assert!(
        sb.fake
            .requests()
            .iter()
            .all(|q| !q.path.contains("hashtag") && !q.query.iter().any(|(_, v)| v.contains("business_discovery"))),
        "no business discovery or hashtag request"
    );
}

/// Past Meta's platform rate limit (code 17) the host pauses the platform-counted calls, says
/// so, and the read completes once the window has passed; the account's own streams are read
/// in full.
#[test]
fn platform_limit_throttles_are_waited_out() {
    let options = FakeOptions {
        platform_calls_per_hour: 3,
        // Tests run the host's clock 60000 times faster: 10 ms here are 10 minutes there.
        platform_window: Duration::from_millis(10),
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), options);
    let mut cfg = public_lists();
    cfg["rate_limit_max_wait_minutes"] = json!(1440);
    let r = sb.read(
        &sb.config(cfg),
        &sb.catalog(&["media", "competitor_profiles", "competitor_media", "hashtag_media"]),
        None,
    );
    assert_eq!(r.code, 0, "{:#?}", r.logs());
    // More platform calls than one window allows (3): the fake refused some with code 17
    // (inside their batches), which the host says it waited out.
    let platform = asked(&sb)
        .iter()
        .filter(|(path, q)| {
            path.contains("hashtag")
                || path.ends_with("_media")
                || q.iter().any(|(_, v)| v.contains("business_discovery"))
        })
        .count();
    assert!(platform > 3, "the read asked {platform} platform calls");
    assert!(
        r.logs().iter().any(|l| l.contains("the platform rate limit: business discovery and hashtag calls wait")),
        "{:#?}",
        r.logs()
    );
    assert_eq!(r.records("media").len(), sb.dataset().accounts().iter().map(|a| a.media.len()).sum::<usize>());
    assert_eq!(r.records("competitor_profiles").len(), 3);
    assert!(!r.records("hashtag_media").is_empty());
}

/// A config of 10,000 hashtags is refused with a short error naming the first extras and how
/// many more (it used to repeat all 9,970 in a 90 KB message); `İstanbul` is a hashtag.
#[test]
fn a_huge_hashtag_list_gets_a_short_error() {
    let sb = Sandbox::start(DatasetSpec::small());
    let mut many: Vec<String> = (0..10_000).map(|i| format!("tag{i:05}")).collect();
    many.insert(0, "İstanbul".into());
    let r = sb.read(&sb.config(json!({ "hashtags": many })), &sb.catalog(&["hashtag_media"]), None);
    let message = config_error(&r);
    assert!(message.len() < 2_000, "{} bytes: {message}", message.len());
    assert!(message.contains("#tag00029") && message.contains("and 9951 more"), "{message}");
    assert!(!message.contains("İstanbul") && !message.contains("i\u{307}stanbul"), "within the budget: {message}");
    assert_eq!(hashtag_searches(&sb), 0);
}
