//! The generated fake Instagram world: pages, IG business accounts, media,
//! carousel children and stories.
//!
//! Everything is a pure function of [`DatasetSpec`]: the same spec yields the
//! same ids, texts, timestamps and numbers on every machine (see
//! [`crate::stable_hash`]). Insight *values* are not stored here; they are
//! computed on demand by [`crate::insights`] from the same ids.
//!
//! Id scheme (17-digit strings, like Meta's):
//! - Facebook Pages: `1000000000001`, `1000000000002`, … in `me/accounts` order;
//!   pages without an IG account are interleaved (2nd, 4th, … position).
//! - IG users: `178414000000000NN` for account NN (1-based).
//! - Posts: `179AA000000000NNN`, carousel children `180AA…`, stories `181AA…`,
//!   with AA the 2-digit account number and the tail the 1-based position.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use crate::stable_hash::{BASE64_URL, HEX, encode_chars, hash_parts, in_range};

/// Meta's timestamp format (`+0000`, no colon in the offset).
pub const GRAPH_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S+0000";

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSpec {
    /// IG business accounts, each on its own Facebook Page.
    pub accounts: usize,
    /// Extra Facebook Pages with no `instagram_business_account`.
    pub pages_without_ig: usize,
    /// Posts (feed images, carousels, reels, feed videos) per account.
    pub media_per_account: usize,
    /// Live stories per account.
    pub stories_per_account: usize,
    /// Days of account insights, the last one being yesterday (Pacific dates, relative to `now`).
    pub insight_days: u32,
    /// The dataset's "now"; all timestamps and insight windows are relative to it.
    pub now: DateTime<Utc>,
    /// The one valid access token.
    pub token: String,
    /// Exact number of carousel children per account, spread over its carousels
    /// (each 2..=10). `None`: each carousel gets 2..=10 children from a hash.
    pub carousel_children_per_account: Option<usize>,
    /// Mixed into every generated value: a different seed gives different
    /// numbers and texts with the same shape.
    pub seed: u64,
    /// Posts three to a second, one second after another (every second of the account's
    /// history holds posts, and many share a second): for time-slice border tests.
    pub dense_timestamps: bool,
    /// Posts of other accounts that tag each account (`{ig-user-id}/tags`; see
    /// [`crate::comments::tagged_of`]). A spec whose `now` is 20 h later with one more tag
    /// holds the same tags plus the newest.
    pub tagged_per_account: usize,
}

impl DatasetSpec {
    /// 2 accounts, 1 page without IG, 12 posts per account covering every media
    /// kind and every insights error case, 3 stories per account (one with too
    /// few viewers), 10 days of insights, now = 2026-11-01T12:00:00Z.
    pub fn small() -> Self {
        DatasetSpec {
            accounts: 2,
            pages_without_ig: 1,
            media_per_account: 12,
            stories_per_account: 3,
            insight_days: 10,
            now: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
            token: "fake-token-0123456789".into(),
            carousel_children_per_account: None,
            seed: 0,
            dense_timestamps: false,
            tagged_per_account: crate::comments::TAGS_PER_ACCOUNT,
        }
    }

    /// Same shape as [`small`](Self::small), a bit bigger: 25 posts and 4
    /// stories per account, 30 days of insights; token `demo-token`.
    pub fn demo() -> Self {
        DatasetSpec {
            media_per_account: 25,
            stories_per_account: 4,
            insight_days: 30,
            token: "demo-token".into(),
            ..DatasetSpec::small()
        }
    }

    /// 2 accounts × 300 posts, 488 carousel children in total, 40 stories in
    /// total, 60 days of insights.
    pub fn bench() -> Self {
        DatasetSpec {
            media_per_account: 300,
            stories_per_account: 20,
            insight_days: 60,
            carousel_children_per_account: Some(244),
            ..DatasetSpec::small()
        }
    }

    /// Looks a preset up by name: `small`, `demo` or `bench`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "small" => Some(Self::small()),
            "demo" => Some(Self::demo()),
            "bench" => Some(Self::bench()),
            _ => None,
        }
    }
}

/// `media_type` as Meta spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    Image,
    Video,
    CarouselAlbum,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "IMAGE",
            MediaType::Video => "VIDEO",
            MediaType::CarouselAlbum => "CAROUSEL_ALBUM",
        }
    }
}

/// `media_product_type` as Meta spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaProductType {
    Feed,
    Reels,
    Story,
}

impl MediaProductType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaProductType::Feed => "FEED",
            MediaProductType::Reels => "REELS",
            MediaProductType::Story => "STORY",
        }
    }
}

/// The insights-relevant kind of a media object (type × product × role).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// IMAGE / FEED post.
    Image,
    /// CAROUSEL_ALBUM / FEED post.
    Carousel,
    /// VIDEO / REELS post.
    Reel,
    /// VIDEO / FEED post.
    FeedVideo,
    /// IMAGE or VIDEO / STORY.
    Story,
    /// IMAGE or VIDEO child of a carousel (no insights).
    CarouselChild,
}

/// Where a media object sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaRole {
    Post,
    CarouselChild { parent_id: String },
    Story,
}

/// Special behaviours of a media object's insights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaFlags {
    /// Insights fail with 100 / 2108006.
    pub posted_before_business: bool,
    /// Insights fail with 100 / 33.
    pub inaccessible: bool,
    /// Insights fail with 10 "Application does not have permission for this action".
    pub no_permission: bool,
    /// Story insights fail with 10 "Not enough viewers for the media to show insights".
    pub few_viewers: bool,
}

impl MediaFlags {
    pub fn any(&self) -> bool {
        self.posted_before_business || self.inaccessible || self.no_permission || self.few_viewers
    }
}

/// A post, a carousel child or a story.
#[derive(Clone, Debug, PartialEq)]
pub struct Media {
    pub id: String,
    pub ig_id: String,
    /// The owning IG user id.
    pub owner_id: String,
    pub username: String,
    pub media_type: MediaType,
    pub product_type: MediaProductType,
    pub role: MediaRole,
    /// `None`: the field is absent from responses (as Meta omits null fields).
    pub caption: Option<String>,
    pub timestamp: DateTime<Utc>,
    /// Posts only.
    pub like_count: Option<u64>,
    /// Posts only.
    pub comments_count: Option<u64>,
    /// Posts only.
    pub is_comment_enabled: Option<bool>,
    pub shortcode: String,
    pub permalink: String,
    /// The media URL *without* the volatile `_nc_rid` parameter, i.e. what a
    /// connector should emit after cleanup. Responses carry
    /// [`media_url_served`](Self::media_url_served).
    pub media_url: String,
    /// Videos only.
    pub thumbnail_url: Option<String>,
    /// Carousel children (posts of type CAROUSEL_ALBUM only), in display order.
    pub children: Vec<Media>,
    pub flags: MediaFlags,
    /// What Meta added in 2025–2026 (shared to Facebook, collaborators, AI label, alt text,
    /// audio type).
    pub extras: crate::media_extras::MediaExtras,
}

impl Media {
    pub fn kind(&self) -> MediaKind {
        match (&self.role, self.media_type, self.product_type) {
            (MediaRole::CarouselChild { .. }, _, _) => MediaKind::CarouselChild,
            (MediaRole::Story, _, _) => MediaKind::Story,
            (_, MediaType::CarouselAlbum, _) => MediaKind::Carousel,
            (_, MediaType::Video, MediaProductType::Reels) => MediaKind::Reel,
            (_, MediaType::Video, _) => MediaKind::FeedVideo,
            (_, MediaType::Image, _) => MediaKind::Image,
        }
    }

    /// `timestamp` in Meta's format, e.g. `2026-10-31T09:15:00+0000`.
    pub fn timestamp_graph(&self) -> String {
        self.timestamp.format(GRAPH_TIME_FORMAT).to_string()
    }

    /// The media URL as served: [`media_url`](Self::media_url) with
    /// `_nc_rid=<volatile>` inserted as the 4th query parameter.
    pub fn media_url_served(&self, volatile: &str) -> String {
        insert_query_param(&self.media_url, 3, "_nc_rid", volatile)
    }

    pub fn is_carousel(&self) -> bool {
        self.media_type == MediaType::CarouselAlbum
    }
}

/// A Facebook Page as listed by `me/accounts`.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub category: String,
    /// The linked IG business account, if any.
    pub ig_user_id: Option<String>,
}

/// An IG business account and everything it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    /// 0-based position among accounts.
    pub index: usize,
    pub page_id: String,
    pub ig_user_id: String,
    /// Legacy Instagram id (an integer in responses).
    pub ig_id: u64,
    pub username: String,
    pub name: String,
    pub biography: String,
    pub website: String,
    pub followers_count: u64,
    pub follows_count: u64,
    /// Profile picture URL *without* the volatile `ccb` parameter (what a
    /// connector should emit). Responses carry
    /// [`profile_picture_url_served`](Self::profile_picture_url_served).
    pub profile_picture_url: String,
    /// Posts, newest first.
    pub media: Vec<Media>,
    /// Live stories, newest first.
    pub stories: Vec<Media>,
}

impl Account {
    /// `profile_picture_url` with `ccb=<volatile>` inserted as the 2nd query parameter.
    pub fn profile_picture_url_served(&self, volatile: &str) -> String {
        insert_query_param(&self.profile_picture_url, 1, "ccb", volatile)
    }

    /// `has_profile_pic`: the first, third, … account has one; the others show Meta's default
    /// picture (`profile_picture_url` still answers).
    pub fn has_profile_pic(&self) -> bool {
        self.index.is_multiple_of(2)
    }

    pub fn carousel_children_count(&self) -> usize {
        self.media.iter().map(|m| m.children.len()).sum()
    }
}

/// Totals a test can assert against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetCounts {
    pub pages: usize,
    pub accounts: usize,
    pub media: usize,
    pub carousels: usize,
    pub carousel_children: usize,
    pub stories: usize,
    pub insight_days: usize,
}

/// Where an id lives in the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectRef {
    Me,
    Page(usize),
    IgUser(usize),
    Post { account: usize, post: usize },
    Child { account: usize, post: usize, child: usize },
    Story { account: usize, story: usize },
}

/// The generated world. Cheap to share behind an `Arc`; never mutated.
#[derive(Clone, Debug)]
pub struct Dataset {
    spec: DatasetSpec,
    me_id: String,
    me_name: String,
    pages: Vec<Page>,
    accounts: Vec<Account>,
    index: HashMap<String, ObjectRef>,
    /// Competitors and hashtags (business discovery, hashtag search).
    public: crate::public::PublicWorld,
}

impl PartialEq for Dataset {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec && self.pages == other.pages && self.accounts == other.accounts
    }
}

/// The recurring post-kind pattern (index within the account, newest first).
/// Per 20 posts: 11 images, 4 carousels, 3 reels, 2 feed videos.
const POST_KIND_CYCLE: [MediaKind; 20] = {
    use MediaKind::*;
    [
        Image, Carousel, Reel, Image, FeedVideo, Image, Carousel, Image, Reel, Image, Carousel, Image, Reel, Image,
        FeedVideo, Image, Carousel, Image, Image, Image,
    ]
};

const BRANDS: [(&str, &str, &str); 8] = [
    ("northwind_outdoors", "Northwind Outdoors", "Gear for wild places 🏔️\nShipping worldwide"),
    ("lumen_coffee", "Lumen Coffee Roasters", "Small-batch roasts ☕ — Lyon & London"),
    ("atlas_bikes", "Atlas Bikes", "Bikes built to last. Repairs, rentals, rides."),
    ("pixel_bakery", "Pixel Bakery", "Sourdough, croissants & café crème 🥐"),
    ("harbor_yoga", "Harbor Yoga Studio", "Breathe. Move. Repeat.\nClasses daily"),
    ("ember_ceramics", "Ember Ceramics", "Hand-thrown stoneware, fired in Kyoto"),
    ("tidal_records", "Tidal Records", "Vinyl • cassettes • live sessions"),
    ("quartz_studio", "Quartz Design Studio", "Brand identity & type design ✏️"),
];

const CAPTION_OPENERS: [&str; 10] = [
    "New drop is live",
    "Behind the scenes today",
    "Weekend plans?",
    "Thank you for 10k 💛",
    "Fresh from the workshop",
    "Guess where we are 📍",
    "Tag someone who needs this",
    "Sunrise session",
    "Back in stock",
    "Meet the team",
];

const CAPTION_TAGS: [&str; 8] =
    ["#smallbusiness", "#handmade", "#reels", "#weekend", "#behindthescenes", "#newin", "#café", "#design"];

impl Dataset {
    /// Generates the dataset. Pure: the same spec always yields an equal dataset.
    pub fn generate(spec: &DatasetSpec) -> Self {
        let mut accounts: Vec<Account> = (0..spec.accounts).map(|a| generate_account(spec, a)).collect();

        // Pages in me/accounts order: account pages with no-IG pages interleaved.
        let mut pages = Vec::new();
        let mut next_no_ig = 0;
        let mut page_number = 0u64;
        let mut push_page = |pages: &mut Vec<Page>, name: String, category: &str, ig: Option<String>| {
            page_number += 1;
            let id = (1_000_000_000_000u64 + page_number).to_string();
            pages.push(Page { id: id.clone(), name, category: category.into(), ig_user_id: ig });
            id
        };
        for account in accounts.iter_mut() {
            let page_id = push_page(&mut pages, account.name.clone(), "Brand", Some(account.ig_user_id.clone()));
            account.page_id = page_id;
            if next_no_ig < spec.pages_without_ig {
                next_no_ig += 1;
                push_page(&mut pages, format!("Community Page {next_no_ig}"), "Community", None);
            }
        }
        while next_no_ig < spec.pages_without_ig {
            next_no_ig += 1;
            push_page(&mut pages, format!("Community Page {next_no_ig}"), "Community", None);
        }

        let me_id = "10160000000000001".to_string();
        let mut index = HashMap::new();
        index.insert(me_id.clone(), ObjectRef::Me);
        for (p, page) in pages.iter().enumerate() {
            index.insert(page.id.clone(), ObjectRef::Page(p));
        }
        for (a, account) in accounts.iter().enumerate() {
            index.insert(account.ig_user_id.clone(), ObjectRef::IgUser(a));
            for (m, post) in account.media.iter().enumerate() {
                index.insert(post.id.clone(), ObjectRef::Post { account: a, post: m });
                for (c, child) in post.children.iter().enumerate() {
                    index.insert(child.id.clone(), ObjectRef::Child { account: a, post: m, child: c });
                }
            }
            for (s, story) in account.stories.iter().enumerate() {
                index.insert(story.id.clone(), ObjectRef::Story { account: a, story: s });
            }
        }

        let public = crate::public::PublicWorld::generate(spec);
        Dataset { spec: spec.clone(), me_id, me_name: "Fake Graph Admin".into(), pages, accounts, index, public }
    }

    /// The competitors and hashtags this dataset's accounts can look at.
    pub fn public(&self) -> &crate::public::PublicWorld {
        &self.public
    }

    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.spec.now
    }

    pub fn token(&self) -> &str {
        &self.spec.token
    }

    /// The `me` user's id and name.
    pub fn me(&self) -> (&str, &str) {
        (&self.me_id, &self.me_name)
    }

    /// Pages in `me/accounts` order (including pages without IG).
    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// IG business accounts in page order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub fn account(&self, ig_user_id: &str) -> Option<&Account> {
        match self.index.get(ig_user_id) {
            Some(ObjectRef::IgUser(a)) => Some(&self.accounts[*a]),
            _ => None,
        }
    }

    /// Any media object (post, carousel child or story) by id.
    pub fn media(&self, id: &str) -> Option<&Media> {
        match *self.index.get(id)? {
            ObjectRef::Post { account, post } => Some(&self.accounts[account].media[post]),
            ObjectRef::Child { account, post, child } => Some(&self.accounts[account].media[post].children[child]),
            ObjectRef::Story { account, story } => Some(&self.accounts[account].stories[story]),
            _ => None,
        }
    }

    /// The account owning an object (IG user, media, child or story), if any.
    pub fn owner_account(&self, id: &str) -> Option<&Account> {
        match *self.index.get(id)? {
            ObjectRef::IgUser(a)
            | ObjectRef::Post { account: a, .. }
            | ObjectRef::Child { account: a, .. }
            | ObjectRef::Story { account: a, .. } => Some(&self.accounts[a]),
            ObjectRef::Me | ObjectRef::Page(_) => None,
        }
    }

    pub(crate) fn lookup(&self, id: &str) -> Option<ObjectRef> {
        self.index.get(id).copied()
    }

    /// All posts of all accounts (no children, no stories).
    pub fn all_media(&self) -> impl Iterator<Item = &Media> {
        self.accounts.iter().flat_map(|a| a.media.iter())
    }

    pub fn all_stories(&self) -> impl Iterator<Item = &Media> {
        self.accounts.iter().flat_map(|a| a.stories.iter())
    }

    /// The days (Pacific dates) that have account insights, oldest first; the last is the
    /// day before `now`'s Pacific date.
    pub fn insight_days(&self) -> Vec<NaiveDate> {
        let today = pacific_date(self.spec.now);
        (1..=self.spec.insight_days as i64).rev().map(|back| today - Duration::days(back)).collect()
    }

    pub fn counts(&self) -> DatasetCounts {
        DatasetCounts {
            pages: self.pages.len(),
            accounts: self.accounts.len(),
            media: self.all_media().count(),
            carousels: self.all_media().filter(|m| m.is_carousel()).count(),
            carousel_children: self.accounts.iter().map(Account::carousel_children_count).sum(),
            stories: self.all_stories().count(),
            insight_days: self.spec.insight_days as usize,
        }
    }
}

/// Meta's insights days are days in Pacific time (America/Los_Angeles): they end at
/// midnight there, 07:00 UTC in summer (PDT) and 08:00 UTC in winter (PST), so one day a year
/// lasts 23 hours and one 25.
pub const INSIGHTS_TIME_ZONE: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

/// The start of a Pacific day (its midnight), in UTC.
pub fn day_start_time(day: NaiveDate) -> DateTime<Utc> {
    // Midnight exists on every date in Los Angeles (the changes happen at 02:00).
    INSIGHTS_TIME_ZONE
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .expect("midnight exists in America/Los_Angeles")
        .with_timezone(&Utc)
}

/// The `end_time` Meta reports for a day's value: the next midnight in Pacific time (e.g.
/// `2026-05-05T07:00:00+0000`, `2026-01-12T08:00:00+0000`).
pub fn day_end_time(day: NaiveDate) -> DateTime<Utc> {
    day_start_time(day + Duration::days(1))
}

/// The Pacific date of an instant (Meta's "current day").
pub fn pacific_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&INSIGHTS_TIME_ZONE).date_naive()
}

fn generate_account(spec: &DatasetSpec, a: usize) -> Account {
    let seed = spec.seed.to_string();
    let number = a + 1;
    let h = |what: &str| hash_parts([seed.as_str(), "account", &number.to_string(), what]);
    let (handle, display, bio) = BRANDS[a % BRANDS.len()];
    let round = a / BRANDS.len();
    let username = if round == 0 { handle.to_string() } else { format!("{handle}_{}", round + 1) };
    let name = if round == 0 { display.to_string() } else { format!("{display} {}", round + 1) };
    let ig_user_id = (17_841_400_000_000_000u64 + number as u64).to_string();
    let profile_picture_url = format!(
        "https://scontent.cdninstagram.com/v/t51.2885-19/{}_n.jpg?stp=dst-jpg_s206x206&_nc_cat=1&_nc_sid=7d201b&_nc_ohc={}&oh=00_{}&oe={:08X}",
        in_range(h("pic"), 400_000_000, 499_999_999),
        encode_chars(h("pic-ohc"), 11, BASE64_URL),
        encode_chars(h("pic-oh"), 24, BASE64_URL),
        in_range(h("pic-oe"), 0x6700_0000, 0x6FFF_FFFF),
    );

    let mut account = Account {
        index: a,
        page_id: String::new(),
        ig_user_id: ig_user_id.clone(),
        ig_id: in_range(h("ig_id"), 1_000_000_000, 9_999_999_999),
        username: username.clone(),
        name,
        biography: bio.to_string(),
        website: format!("https://{}.example.com/", username.replace('_', "-")),
        followers_count: in_range(h("followers"), 1_200, 95_000),
        follows_count: in_range(h("follows"), 40, 900),
        profile_picture_url,
        media: Vec::new(),
        stories: Vec::new(),
    };

    let posts = spec.media_per_account;
    let children_counts = carousel_children_counts(spec, a, posts);
    let span_minutes: i64 = 720 * 24 * 60;
    let step = (span_minutes / posts.max(1) as i64).max(2);
    let mut child_number = 0usize;
    let mut carousel_number = 0usize;
    let before_business = (posts / 25).max(1).min(posts);
    for i in 0..posts {
        let kind = POST_KIND_CYCLE[i % POST_KIND_CYCLE.len()];
        let ph = |what: &str| hash_parts([seed.as_str(), "post", &ig_user_id, &i.to_string(), what]);
        let jitter = (ph("jitter") % (step as u64 / 2).max(1)) as i64;
        let timestamp = if spec.dense_timestamps {
            spec.now - Duration::minutes(180) - Duration::seconds(i as i64 / 3)
        } else {
            spec.now - Duration::minutes(180 + i as i64 * step + jitter) - Duration::seconds(ph("seconds") as i64 % 60)
        };
        let id = format!("179{:02}{:012}", number % 100, i + 1);
        let (media_type, product_type) = match kind {
            MediaKind::Carousel => (MediaType::CarouselAlbum, MediaProductType::Feed),
            MediaKind::Reel => (MediaType::Video, MediaProductType::Reels),
            MediaKind::FeedVideo => (MediaType::Video, MediaProductType::Feed),
            _ => (MediaType::Image, MediaProductType::Feed),
        };
        let flags = MediaFlags {
            posted_before_business: i >= posts - before_business,
            inaccessible: i % 25 == 5 && i < posts - before_business,
            no_permission: i % 25 == 8 && i < posts - before_business,
            few_viewers: false,
        };
        let mut post = base_media(spec, &account, &id, media_type, product_type, MediaRole::Post, timestamp, flags);
        post.caption = caption_for(ph("caption"), i);
        post.like_count = Some(in_range(ph("likes"), 3, 2_500));
        post.comments_count = Some(in_range(ph("comments"), 0, 9));
        post.is_comment_enabled = Some(ph("comments-enabled") % 9 != 0);
        if kind == MediaKind::Reel {
            post.permalink = format!("https://www.instagram.com/reel/{}/", post.shortcode);
        }
        if kind == MediaKind::Carousel {
            let count = children_counts[carousel_number];
            carousel_number += 1;
            for _ in 0..count {
                child_number += 1;
                let child_id = format!("180{:02}{:012}", number % 100, child_number);
                let is_video = hash_parts([seed.as_str(), "child", &child_id]) % 4 == 0;
                let child = base_media(
                    spec,
                    &account,
                    &child_id,
                    if is_video { MediaType::Video } else { MediaType::Image },
                    MediaProductType::Feed,
                    MediaRole::CarouselChild { parent_id: id.clone() },
                    timestamp,
                    MediaFlags::default(),
                );
                post.children.push(child);
            }
        }
        account.media.push(post);
    }

    let stories = spec.stories_per_account;
    let story_step = (22 * 60 / stories.max(1) as i64).max(2);
    for k in 0..stories {
        let sh = |what: &str| hash_parts([seed.as_str(), "story", &ig_user_id, &k.to_string(), what]);
        let timestamp = spec.now
            - Duration::minutes(30 + k as i64 * story_step + (sh("jitter") % (story_step as u64 / 2).max(1)) as i64)
            - Duration::seconds(sh("seconds") as i64 % 60);
        let id = format!("181{:02}{:012}", number % 100, k + 1);
        let media_type = if k % 3 == 1 { MediaType::Video } else { MediaType::Image };
        let flags = MediaFlags { few_viewers: k == 0, ..MediaFlags::default() };
        let mut story =
            base_media(spec, &account, &id, media_type, MediaProductType::Story, MediaRole::Story, timestamp, flags);
        story.permalink = format!("https://instagram.com/stories/{}/{}", account.username, story.ig_id);
        account.stories.push(story);
    }
    account
}

/// Fields shared by posts, children and stories; role-specific ones are filled by the caller.
#[allow(clippy::too_many_arguments)]
fn base_media(
    spec: &DatasetSpec,
    account: &Account,
    id: &str,
    media_type: MediaType,
    product_type: MediaProductType,
    role: MediaRole,
    timestamp: DateTime<Utc>,
    flags: MediaFlags,
) -> Media {
    let seed = spec.seed.to_string();
    let h = |what: &str| hash_parts([seed.as_str(), "media", id, what]);
    let shortcode = format!("D{}", encode_chars(h("shortcode"), 10, BASE64_URL));
    let ext = if media_type == MediaType::Video { "mp4" } else { "jpg" };
    let asset = in_range(h("asset"), 400_000_000, 499_999_999);
    let cdn = ["lhr8-1", "cdg4-2", "fra3-1", "iad3-1"][(h("cdn") % 4) as usize];
    let media_url = if media_type == MediaType::Video {
        format!(
            "https://scontent-{cdn}.cdninstagram.com/o1/v/t16/f2/m86/{asset}_video_dashinit.{ext}?efg=eyJ2ZW5jb2RlX3RhZyI6InhwdiJ9&_nc_ht=scontent-{cdn}.cdninstagram.com&_nc_cat=10{}&_nc_ohc={}&oh=00_{}&oe={:08X}",
            h("cat") % 10,
            encode_chars(h("ohc"), 11, BASE64_URL),
            encode_chars(h("oh"), 24, BASE64_URL),
            in_range(h("oe"), 0x6700_0000, 0x6FFF_FFFF),
        )
    } else {
        format!(
            "https://scontent-{cdn}.cdninstagram.com/v/t51.29350-15/{asset}_n.{ext}?stp=dst-jpg_e35_tt6&_nc_cat=10{}&_nc_sid=18de74&_nc_ohc={}&oh=00_{}&oe={:08X}",
            h("cat") % 10,
            encode_chars(h("ohc"), 11, BASE64_URL),
            encode_chars(h("oh"), 24, BASE64_URL),
            in_range(h("oe"), 0x6700_0000, 0x6FFF_FFFF),
        )
    };
    let thumbnail_url = (media_type == MediaType::Video).then(|| {
        format!(
            "https://scontent-{cdn}.cdninstagram.com/v/t51.29350-15/{}_n.jpg?stp=dst-jpg_e35_tt6&_nc_cat=10{}&_nc_sid=18de74&oh=00_{}&oe={:08X}",
            asset + 1,
            h("cat") % 10,
            encode_chars(h("thumb-oh"), 24, BASE64_URL),
            in_range(h("oe"), 0x6700_0000, 0x6FFF_FFFF),
        )
    });
    let mut media = Media {
        id: id.to_string(),
        ig_id: format!("3{:018}", h("ig_id") % 1_000_000_000_000_000_000),
        owner_id: account.ig_user_id.clone(),
        username: account.username.clone(),
        media_type,
        product_type,
        role,
        caption: None,
        timestamp,
        like_count: None,
        comments_count: None,
        is_comment_enabled: None,
        permalink: format!("https://www.instagram.com/p/{shortcode}/"),
        shortcode,
        media_url,
        thumbnail_url,
        children: Vec::new(),
        flags,
        extras: crate::media_extras::MediaExtras::default(),
    };
    media.extras = crate::media_extras::MediaExtras::generate(spec, id, media.kind());
    media
}

/// Captions: varied, with unicode, hashtags and newlines; every 7th post has none.
fn caption_for(hash: u64, index: usize) -> Option<String> {
    if index % 7 == 6 {
        return None;
    }
    let opener = CAPTION_OPENERS[(hash % CAPTION_OPENERS.len() as u64) as usize];
    let tag_a = CAPTION_TAGS[((hash >> 8) % CAPTION_TAGS.len() as u64) as usize];
    let tag_b = CAPTION_TAGS[((hash >> 16) % CAPTION_TAGS.len() as u64) as usize];
    Some(if index.is_multiple_of(3) { format!("{opener}\n\n{tag_a} {tag_b}") } else { format!("{opener} — {tag_a}") })
}

/// Children per carousel for one account, in carousel order.
fn carousel_children_counts(spec: &DatasetSpec, account: usize, posts: usize) -> Vec<usize> {
    let carousels = (0..posts).filter(|i| POST_KIND_CYCLE[i % POST_KIND_CYCLE.len()] == MediaKind::Carousel).count();
    let seed = spec.seed.to_string();
    let acc = account.to_string();
    match spec.carousel_children_per_account {
        None => (0..carousels)
            .map(|c| in_range(hash_parts([seed.as_str(), "children", &acc, &c.to_string()]), 2, 10) as usize)
            .collect(),
        Some(total) => {
            assert!(
                carousels > 0 || total == 0,
                "carousel_children_per_account = {total} but the account has no carousels"
            );
            assert!(
                (2 * carousels..=10 * carousels).contains(&total),
                "carousel_children_per_account = {total} must be within 2..=10 per carousel ({carousels} carousels)"
            );
            let mut counts = vec![2usize; carousels];
            let mut remaining = total - 2 * carousels;
            let mut round = 0u64;
            while remaining > 0 {
                let c = (hash_parts([seed.as_str(), "spread", &acc, &round.to_string()]) % carousels as u64) as usize;
                round += 1;
                if counts[c] < 10 {
                    counts[c] += 1;
                    remaining -= 1;
                }
            }
            counts
        }
    }
}

/// Inserts `name=value` so that it becomes the `position`-th (0-based) query
/// parameter of `url`; the other parameters keep their order.
pub(crate) fn insert_query_param(url: &str, position: usize, name: &str, value: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return format!("{url}?{name}={value}");
    };
    let mut params: Vec<&str> = query.split('&').collect();
    let pair = format!("{name}={value}");
    params.insert(position.min(params.len()), &pair);
    format!("{base}?{}", params.join("&"))
}

/// A volatile token for a served URL: changes with every response serial.
pub(crate) fn volatile_token(serial: u64, object_id: &str, len: usize) -> String {
    encode_chars(hash_parts(["volatile", &serial.to_string(), object_id]), len, HEX)
}
