//! Titles and descriptions of the metrics, as Meta sends them with each insight.

/// `title` and `description` for a metric.
pub fn metric_texts(metric: &str) -> (&'static str, &'static str) {
    match metric {
        "reach" => (
            "Accounts reached",
            "The number of unique accounts that have seen your content, at least once, including in ads.",
        ),
        "saved" => ("Saved", "The number of saves of your post."),
        "saves" => ("Saves", "The number of saves of your posts, reels and videos."),
        "likes" => ("Likes", "The number of likes on your content."),
        "comments" => ("Comments", "The number of comments on your content."),
        "shares" => ("Shares", "The number of shares of your content."),
        "follows" => ("Follows", "The number of accounts that started following you."),
        "profile_visits" => ("Profile visits", "The number of times your profile was visited."),
        "profile_activity" => (
            "Profile activity",
            "The number of actions people take when they visit your profile after engaging with your post.",
        ),
        "total_interactions" => (
            "Content interactions",
            "The total number of post interactions, story interactions, reels interactions, video interactions and live video interactions, including any interactions on boosted content.",
        ),
        "views" => ("Views", "The number of times your content was played or displayed."),
        "ig_reels_avg_watch_time" => {
            ("Average watch time", "The average amount of time spent playing your reel, in milliseconds.")
        }
        "ig_reels_video_view_total_time" => {
            ("Watch time", "The total amount of time your reel was played, including replays, in milliseconds.")
        }
        "reels_skip_rate" => {
            ("Skip rate", "The percentage of views in which your reel was skipped within the first 3 seconds.")
        }
        "replies" => ("Replies", "The number of replies to your story."),
        "navigation" => ("Navigation", "The total number of actions taken from your story."),
        "follower_count" => ("Follower count", "The number of new followers per day."),
        "online_followers" => {
            ("Online followers", "The number of your followers who were online during each hour of the day.")
        }
        "accounts_engaged" => ("Accounts engaged", "The number of accounts that have interacted with your content."),
        "profile_links_taps" => (
            "Profile links taps",
            "The number of taps on your business address, call button, email button and text button.",
        ),
        "follows_and_unfollows" => (
            "Follows and unfollows",
            "The number of accounts that followed you and the number that unfollowed you or left Instagram.",
        ),
        "reposts" => ("Reposts", "The number of times your content was reposted."),
        "follower_demographics" => (
            "Follower demographics",
            "The demographic characteristics of followers, including countries, cities and gender distribution.",
        ),
        "engaged_audience_demographics" => (
            "Engaged audience demographics",
            "The demographic characteristics of the engaged audience, including countries, cities and gender distribution.",
        ),
        "reached_audience_demographics" => (
            "Reached audience demographics",
            "The demographic characteristics of the reached audience, including countries, cities and gender distribution.",
        ),
        _ => ("", ""),
    }
}
