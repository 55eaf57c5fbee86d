//! The media objects of the fake world (posts, carousel children, stories) and the kinds and
//! flags they are generated with, as Meta spells them in answers.

use super::*;

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
