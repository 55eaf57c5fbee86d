//! Audience demographics: their dimensions, deterministic results ([`demographic_results`])
//! and the answer to `/{ig-user}/insights?metric=…_demographics&breakdown=…&timeframe=…`.

use serde_json::{Value, json};

use super::account::account_hash;
use super::metric_texts;
use crate::dataset::{Account, Dataset};
use crate::graph_error::GraphError;
use crate::quirks::Quirks;
use crate::request::Params;
use crate::stable_hash::in_range;

/// Demographic metrics (`period=lifetime`, `metric_type=total_value`, `breakdown`).
pub const DEMOGRAPHIC_METRICS: &[&str] =
    &["follower_demographics", "engaged_audience_demographics", "reached_audience_demographics"];

pub const AGE_BUCKETS: [&str; 7] = ["13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
pub const GENDERS: [&str; 3] = ["F", "M", "U"];
pub const CITIES: [&str; 8] = [
    "London, England",
    "Paris, Île-de-France",
    "New York, New York",
    "Berlin, Berlin",
    "São Paulo, São Paulo (state)",
    "Tokyo, Tokyo",
    "Manchester, England",
    "Lyon, Auvergne-Rhône-Alpes",
];
pub const COUNTRIES: [&str; 8] = ["GB", "FR", "US", "DE", "BR", "JP", "ES", "IT"];

pub fn demographic_results(
    ds: &Dataset,
    account: &Account,
    metric: &str,
    timeframe: Option<&str>,
    breakdown: &[&str],
) -> Vec<(Vec<String>, u64)> {
    let tf = timeframe.unwrap_or("lifetime");
    let scale = match metric {
        "follower_demographics" => (account.followers_count / 40).max(5),
        _ if tf == "this_week" => (account.followers_count / 300).max(3),
        _ => (account.followers_count / 100).max(4),
    };
    let age_gender = |age: &str, gender: &str| {
        let weight = match gender {
            "U" => 1,
            _ => 4,
        };
        in_range(account_hash(ds, account, &[metric, tf, "age-gender", age, gender]), 1, scale) * weight / 4 + 1
    };
    let single = |dimension: &str, value: &str| {
        in_range(account_hash(ds, account, &[metric, tf, dimension, value]), 1, scale * 3)
    };
    match breakdown {
        ["age"] => {
            AGE_BUCKETS.iter().map(|a| (vec![a.to_string()], GENDERS.iter().map(|g| age_gender(a, g)).sum())).collect()
        }
        ["gender"] => {
            GENDERS.iter().map(|g| (vec![g.to_string()], AGE_BUCKETS.iter().map(|a| age_gender(a, g)).sum())).collect()
        }
        ["age", "gender"] => AGE_BUCKETS
            .iter()
            .flat_map(|a| GENDERS.iter().map(move |g| (a, g)))
            .map(|(a, g)| (vec![a.to_string(), g.to_string()], age_gender(a, g)))
            .collect(),
        ["gender", "age"] => GENDERS
            .iter()
            .flat_map(|g| AGE_BUCKETS.iter().map(move |a| (a, g)))
            .map(|(a, g)| (vec![g.to_string(), a.to_string()], age_gender(a, g)))
            .collect(),
        ["city"] => CITIES.iter().map(|c| (vec![c.to_string()], single("city", c))).collect(),
        ["country"] => COUNTRIES.iter().map(|c| (vec![c.to_string()], single("country", c))).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn demographics_response(
    ds: &Dataset,
    account: &Account,
    metrics: &[String],
    params: &Params,
    quirks: &Quirks,
) -> Result<Value, GraphError> {
    let breakdown_raw = params.get("breakdown").unwrap_or("");
    if breakdown_raw.is_empty() {
        return Err(GraphError::invalid_parameter(format!(
            "The following metrics ({}) require the breakdown parameter. Supported breakdowns: age, city, country, gender",
            metrics.join(", ")
        )));
    }
    let breakdown: Vec<&str> = breakdown_raw.split(',').map(str::trim).collect();
    let valid = matches!(
        breakdown.as_slice(),
        ["age"] | ["gender"] | ["city"] | ["country"] | ["age", "gender"] | ["gender", "age"]
    );
    // A breakdown a metric does not have: code 1, as Meta answers it.
    if !valid || metrics.iter().any(|m| quirks.withdrawn(m, breakdown_raw)) {
        return Err(GraphError::unknown_error_has_occurred());
    }
    let timeframe = params.get("timeframe").filter(|t| !t.is_empty());
    if let Some(tf) = timeframe {
        if !matches!(tf, "this_week" | "this_month") {
            return Err(GraphError::invalid_parameter(format!(
                "timeframe must be one of the following values: this_week, this_month (got {tf})"
            )));
        }
    } else if let Some(m) = metrics.iter().find(|m| m.as_str() != "follower_demographics") {
        return Err(GraphError::invalid_parameter(format!(
            "The timeframe parameter is required for {m}. Supported values: this_week, this_month"
        )));
    }

    // Meta's reference example puts the timeframe first: `dimension_keys: ["timeframe",
    // "country"]`, values `["LAST_90_DAYS", "AR"]`; another capture has only the breakdown.
    let timeframe_first = timeframe.filter(|_| quirks.demographics_timeframe_dimension).map(str::to_ascii_uppercase);
    let mut keys: Vec<&str> = breakdown.clone();
    if timeframe_first.is_some() {
        keys.insert(0, "timeframe");
    }
    let data: Vec<Value> = metrics
        .iter()
        .map(|metric| {
            let results: Vec<Value> = demographic_results(ds, account, metric, timeframe, &breakdown)
                .into_iter()
                .map(|(mut dims, value)| {
                    if let Some(tf) = &timeframe_first {
                        dims.insert(0, tf.clone());
                    }
                    json!({ "dimension_values": dims, "value": value })
                })
                .collect();
            let (title, description) = metric_texts(metric);
            json!({
                "name": metric,
                "period": "lifetime",
                "title": title,
                "description": description,
                "total_value": { "breakdowns": [{ "dimension_keys": keys, "results": results }] },
                "id": format!("{}/insights/{metric}/lifetime", account.ig_user_id),
            })
        })
        .collect();
    Ok(json!({ "data": data }))
}
