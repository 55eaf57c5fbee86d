use super::*;

/// The first matching rule decides the kind.
#[test]
fn media_kinds() {
    assert_eq!(MediaKind::of("VIDEO", "REELS"), MediaKind::Reel);
    assert_eq!(MediaKind::of("VIDEO", "FEED"), MediaKind::FeedVideo);
    assert_eq!(MediaKind::of("VIDEO", "IGTV"), MediaKind::Video);
    assert_eq!(MediaKind::of("CAROUSEL_ALBUM", "FEED"), MediaKind::Carousel);
    assert_eq!(MediaKind::of("IMAGE", "FEED"), MediaKind::Image);
    assert_eq!(MediaKind::of("IMAGE", "STORY"), MediaKind::Story);
}

/// Versions pick the newest table they reach.
#[test]
fn tables_by_version() {
    assert_eq!(table_for(27).since_major, 22);
    assert_eq!(table_for(25).since_major, 22);
    assert_eq!(table_for(22).since_major, 22);
    assert_eq!(table_for(21).since_major, 21);
    assert!(!table_for(25).media_metrics(MediaKind::Image, true).contains(&"impressions"));
}

/// Instagram Login leaves out what Meta serves to Facebook Login only; a breakdown metric
/// is known per kind; a crossposted metric's refusal takes its group along.
#[test]
fn logins_breakdowns_and_groups() {
    let t = table_for(27);
    let story_fb = t.media_metrics(MediaKind::Story, true);
    let story_ig = t.media_metrics(MediaKind::Story, false);
    assert!(story_fb.contains(&"link_clicks") && story_fb.contains(&"total_views"));
    assert!(!story_ig.contains(&"link_clicks") && !story_ig.contains(&"total_views"));
    assert!(story_ig.contains(&"reposts") && story_ig.contains(&"facebook_views"));
    assert!(t.breaks_down(MediaKind::Story, "navigation") && t.breaks_down(MediaKind::Image, "profile_activity"));
    assert!(!t.breaks_down(MediaKind::Reel, "profile_activity"));
    assert!(!t.media_metrics(MediaKind::Reel, true).contains(&"profile_activity"));
    assert_eq!(t.refused_with("crossposted_views"), vec!["facebook_views", "crossposted_views"]);
    assert_eq!(t.refused_with("views"), vec!["views"]);
    // Every object breakdown's metric is in the sets of the kinds it is asked for.
    for b in t.object_breakdowns {
        assert!(b.kinds.iter().all(|k| t.media_metrics(*k, true).contains(&b.metric)), "{}", b.metric);
    }
    let mut p = MetricPolicy::new(t);
    assert!(p.note_object_refusal("REELS", "facebook_views"));
    assert!(!p.note_object_refusal("IMAGE", "facebook_views"), "one note per read");
    assert!(p.note_object_refusal("REELS", "views") && p.note_object_refusal("IMAGE", "views"));
}
