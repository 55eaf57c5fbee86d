//! Pieces that several stream modules share: the per-object insights operations of
//! `media_insights` and `story_insights` (`object_insights`) and the metrics asked with a
//! breakdown of their own merged into them (`object_breakdowns`), the media edge's time slices
//! (`media_slices`), the streams that ride on the media walk (`media_riders`: `media_comments`),
//! Meta's hashtag
//! search budget (`hashtag_budget`) and when public content may be read (`public_content`).
//!
//! They sit between the two layers: stream modules (`streams`) use them, and they use the
//! engine (`engine::Cx`, its operation policy). They must not declare streams nor import the
//! stream modules or their registry.

pub mod hashtag_budget;
pub mod media_riders;
pub mod media_slices;
pub mod object_breakdowns;
pub mod object_insights;
pub mod public_content;
