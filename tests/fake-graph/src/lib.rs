//! A fake Meta Graph API server for the Instagram source connector.
//!
//! It serves a deterministic generated dataset ([`Dataset`], built from a
//! [`DatasetSpec`]) on `127.0.0.1` with Meta's documented response and error
//! shapes: `me/accounts`, IG users, media, carousel children, stories, media
//! and account insights, cursor paging, field selection and expansion, batch
//! requests, usage headers, and deterministic fault injection ([`FaultPlan`]).
//!
//! It is used by end-to-end tests that run the real connector against it, by
//! the connector's `demo` command (in-process sandbox), and by benchmarks.
//!
//! ```no_run
//! use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions};
//! let graph = FakeGraph::start(Dataset::generate(&DatasetSpec::small()), FakeOptions::default()).unwrap();
//! println!("{}/v24.0/me/accounts  (token {})", graph.base_url(), graph.token());
//! ```
//!
//! Modules:
//! - [`dataset`]: the generated world and its id scheme;
//! - [`comments`]: comments, replies and tagged posts;
//! - [`insights`]: metric catalogues, insight values and insights responses (by topic);
//! - [`media_extras`]: what Meta added to media in 2025–2026 (collaborators, AI label, …);
//! - [`faults`]: fault plans and the usage/throttling model; [`huge_body`]: answers larger
//!   than any page, streamed lazily;
//! - [`public`]: competitors (business discovery) and hashtags, with Meta's budgets;
//! - [`quirks`]: behaviours real captures show, each on by default as Meta answers;
//! - [`recording`], [`replay`]: the format `source-instagram --record` writes, and answering
//!   requests from such a file ([`FakeGraph::replay`]);
//! - [`usage_headers`]: which usage headers an answer carries (Meta's: none at first, then the
//!   one that fits the token);
//! - `tokens`: valid tokens and the renewal endpoints (`refresh_access_token`,
//!   `oauth/access_token` with `fb_exchange_token`, `access_token` with `ig_exchange_token`);
//! - `oauth`: both logins' dialogs and code exchanges (Facebook Login, Business Login for
//!   Instagram), with Meta's refusals;
//! - `server`: HTTP, auth, batch, usage headers, request log;
//! - `api`: routing, nodes, edges and field selection; `ig_user`: the IG user node and its
//!   `media{…}` expansion;
//! - `paging`, `fields`, `request`, `graph_error`, `stable_hash`: helpers.

pub mod comments;
pub mod dataset;
pub mod faults;
pub mod huge_body;
pub mod insights;
pub mod media_extras;
pub mod public;
pub mod quirks;

mod api;
mod fields;
mod graph_error;
mod ig_user;
mod oauth;
mod paging;
pub mod recording;
pub mod replay;
mod request;
mod server;
mod stable_hash;
mod tokens;
pub mod usage_headers;

pub use dataset::{
    Account, Dataset, DatasetCounts, DatasetSpec, GRAPH_TIME_FORMAT, INSIGHTS_TIME_ZONE, Media, MediaFlags, MediaKind,
    MediaProductType, MediaRole, MediaType, Page, day_end_time, day_start_time, pacific_date,
};
pub use faults::{
    AppBudget, AppBudgetReport, FaultPlan, ForcedError, FractionFault, PagingCycle, SlowFault, UsageModel,
};
pub use graph_error::{ErrorDetails, GraphError};
pub use huge_body::HugeAnswer;
pub use oauth::{Login, SHORT_LIVED_EXPIRES_IN};
pub use paging::DEFAULT_PAGE_SIZE;
pub use quirks::{NavigationCase, Quirks};
pub use request::{LATEST_VERSION, OLDEST_VERSION};
pub use server::{FakeGraph, FakeOptions, MAX_BATCH_OPERATIONS, META_GRAPH_ORIGIN, RecordedRequest};
pub use tokens::{
    EXPIRED_TOKEN, FAKE_APP_ID, FAKE_APP_SECRET, LONG_LIVED_EXPIRES_IN, MIN_REFRESH_AGE_HOURS, RenewalToken, TokenKind,
    TokenOptions,
};
pub use usage_headers::{UsageHeaderSet, UsageHeaders};
