//! How one account of the fake world is made: its profile, posts, carousel children and
//! stories, from the spec and stable hashes only (see the parent module for the id scheme).

use super::*;

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

pub(super) fn generate_account(spec: &DatasetSpec, a: usize) -> Account {
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
pub(super) fn carousel_children_counts(spec: &DatasetSpec, account: usize, posts: usize) -> Vec<usize> {
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
