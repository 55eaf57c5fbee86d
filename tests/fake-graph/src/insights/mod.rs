//! Insights: which metrics exist for which object, their deterministic values,
//! and the `/{media}/insights` and `/{ig-user}/insights` responses and errors.
//!
//! Values are pure functions of (seed, object id, metric[, day]), so tests can
//! compute the expected numbers with the public functions here
//! ([`media_metric_value`], [`account_daily_value`], [`demographic_results`]).
//!
//! Time windows: days are Pacific dates (Meta's); a dataset day `D` is reported with
//! `end_time` = the midnight that ends it in America/Los_Angeles (`D+1 07:00 UTC` in summer,
//! `08:00 UTC` in winter; see [`crate::dataset::day_end_time`]) and belongs to a request window when
//! `since < end_time <= until`.
//!
//! By topic: [`media`] (media and story insights), [`account`] (time series and daily totals
//! of an IG user, with their breakdowns), [`demographics`] (audience demographics) and the
//! metrics' titles and descriptions (`texts`).

mod account;
mod demographics;
mod media;
mod texts;

pub use account::*;
pub use demographics::*;
pub use media::*;
pub use texts::metric_texts;

use crate::graph_error::GraphError;
use crate::request::Params;

pub(crate) fn requested_metrics(params: &Params) -> Result<Vec<String>, GraphError> {
    let metrics: Vec<String> =
        params.get("metric").unwrap_or("").split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
    if metrics.is_empty() {
        return Err(GraphError::invalid_parameter("The value must be a valid insights metric"));
    }
    Ok(metrics)
}

pub(crate) fn unknown_metric(position: usize, valid: &[&str]) -> GraphError {
    GraphError::invalid_parameter(format!(
        "metric[{position}] must be one of the following values: {}",
        valid.join(", ")
    ))
}
