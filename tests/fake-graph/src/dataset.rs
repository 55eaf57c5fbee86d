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

mod generate;
mod media;
use generate::generate_account;
pub use media::*;

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
