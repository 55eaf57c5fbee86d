//! What Meta added to IG Media objects in 2025–2026, generated per object from its id (pure
//! functions of the spec, like the rest of the dataset): whether the post was shared to
//! Facebook (Meta serves `facebook_views` and `crossposted_views` only then), its
//! collaborators (`GET /{ig-media-id}/collaborators`: feed images, reels and carousels, not
//! stories; at most 5), the AI-info label (`is_ai_generated`), the alt text of images
//! (`alt_text`) and the audio of videos (`media_audio_type`: `MUSIC` or `ORIGINAL_SOUND`).
//!
//! The counts Meta added as fields (`saved_count`, `total_like_count`, …) are the media's
//! insight values (see `insights::media`), so a test can check both against one number.

use crate::dataset::{DatasetSpec, MediaKind};
use crate::stable_hash::{hash_parts, in_range};

/// One collaborator of a post, as `collaborators{id,username,invite_status}` serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collaborator {
    pub id: String,
    pub username: String,
    /// `Accepted` or `Pending` (Meta's reference example spells the first `Accpeted`).
    pub invite_status: &'static str,
}

/// The 2025–2026 additions of one media object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaExtras {
    /// Shared to Facebook (a crosspost): Meta serves `facebook_views` (and, for reels,
    /// `crossposted_views`) only then, and refuses them for the object otherwise.
    pub shared_to_facebook: bool,
    /// Posts of kind image, reel and carousel only (none for stories and children).
    pub collaborators: Vec<Collaborator>,
    /// Posts and stories (`None` for carousel children: Meta sets the label on the album).
    pub is_ai_generated: Option<bool>,
    /// Images only, and not every one (Meta omits the field when there is none).
    pub alt_text: Option<String>,
    /// Videos (reels and feed videos) only.
    pub media_audio_type: Option<&'static str>,
}

const COLLABORATOR_NAMES: [&str; 5] = ["studio_fern", "maple_and_co", "north_crew", "lumen_friends", "kiln_club"];
const ALT_TEXTS: [&str; 4] = [
    "Three mugs on a wooden table by a window",
    "A cyclist on a gravel road at sunrise",
    "Close-up of a croissant cut in half",
    "A shop front with a green awning",
];

impl MediaExtras {
    /// The additions of object `id` of `kind` (carousel children get none).
    pub fn generate(spec: &DatasetSpec, id: &str, kind: MediaKind) -> MediaExtras {
        if kind == MediaKind::CarouselChild {
            return MediaExtras::default();
        }
        let seed = spec.seed.to_string();
        let h = |what: &str| hash_parts([seed.as_str(), "media-extras", id, what]);
        let collaborators = match kind {
            MediaKind::Image | MediaKind::Reel | MediaKind::Carousel => (0..h("collaborators") % 3)
                .map(|k| {
                    let hk = h(&format!("collaborator-{k}"));
                    Collaborator {
                        id: format!("178414{:011}", in_range(hk, 50_000_000_000, 59_999_999_999)),
                        username: COLLABORATOR_NAMES[(hk % COLLABORATOR_NAMES.len() as u64) as usize].to_string(),
                        invite_status: if (hk >> 8) % 3 == 0 { "Pending" } else { "Accepted" },
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        MediaExtras {
            shared_to_facebook: h("facebook") % 2 == 0,
            collaborators,
            is_ai_generated: Some(h("ai") % 7 == 0),
            alt_text: (kind == MediaKind::Image && h("alt") % 3 != 0)
                .then(|| ALT_TEXTS[(h("alt-text") % ALT_TEXTS.len() as u64) as usize].to_string()),
            media_audio_type: matches!(kind, MediaKind::Reel | MediaKind::FeedVideo)
                .then(|| if h("audio") % 2 == 0 { "MUSIC" } else { "ORIGINAL_SOUND" }),
        }
    }
}
