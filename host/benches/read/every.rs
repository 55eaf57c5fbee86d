//! A read of every stream, as a new user who selects everything would (the twelve streams the
//! connector declares, three competitors and three hashtags set: the fake's whole public
//! world), against the seven original streams in the same run.
//!
//! - The `bench` dataset at 100 ms, `num_workers` 4: three reads of each, alternating (seven,
//!   every, seven, …), so a slower moment of the machine costs both; the medians and their
//!   ratio.
//! - One account with 3,000 posts at 100 ms, every stream: `num_workers` 4 against 1.

use super::common::{EVERY_STREAM, SEVEN, public_lists};
use super::{per_stream, read_once};
use fake_graph::DatasetSpec;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const RUNS: usize = 3;

pub fn every_stream(dir: &std::path::Path, env_base: &[(&str, &str)]) {
    let latency = Duration::from_millis(100);
    let spec = DatasetSpec::bench();
    let lists = public_lists();
    let none = json!({});
    println!("\n## Every stream against the seven (bench dataset, 100 ms latency, num_workers 4)\n");
    println!("{RUNS} reads of each, alternating; the median run's numbers.\n");
    println!("| read | walls | median wall | CPU | peak RSS | round trips | counted calls | records |");
    println!("|---|---|---|---|---|---|---|---|");
    let reads = [("seven original streams", SEVEN, &none), ("every stream", EVERY_STREAM, &lists)];
    let mut runs: Vec<Vec<_>> = vec![Vec::new(), Vec::new()];
    for _ in 0..RUNS {
        for (i, (_, streams, extra)) in reads.iter().enumerate() {
            runs[i].push(read_once(dir, env_base, &spec, latency, 4, streams, extra));
        }
    }
    let mut medians = Vec::new();
    let mut detail = BTreeMap::new();
    for (i, (name, ..)) in reads.iter().enumerate() {
        let mut by_wall: Vec<_> = runs[i].iter().collect();
        by_wall.sort_by_key(|(m, ..)| m.wall);
        let walls: Vec<String> = runs[i].iter().map(|(m, ..)| format!("{:.2}", m.wall.as_secs_f64())).collect();
        let (m, reqs, _) = by_wall[RUNS / 2];
        let calls: usize = reqs.iter().map(|r| r.batch_ops.max(1)).sum();
        println!(
            "| {name} | {} s | {:.2} s | {:.2} s | {:.1} MiB | {} | {calls} | {} |",
            walls.join(" / "),
            m.wall.as_secs_f64(),
            m.cpu.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
            reqs.len(),
            m.records
        );
        medians.push(m.wall.as_secs_f64());
        if i == 1 {
            detail = per_stream(reqs);
        }
    }
    println!("| every stream / seven (medians) | | {:.2}× | | | | | |", medians[1] / medians[0]);
    println!(
        "\n### Every stream, per stream (median run)\n\n| stream | round trips | rate-limit-counted calls |\n|---|---|---|"
    );
    for (s, (rt, calls)) in detail {
        println!("| {s} | {rt} | {calls} |");
    }

    let one = DatasetSpec { accounts: 1, media_per_account: 3_000, ..DatasetSpec::small() };
    println!("\n## One account × 3,000 posts, every stream, 100 ms latency\n");
    println!("| mode | wall | CPU | peak RSS | round trips | counted calls | most requests in flight | records |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut walls = BTreeMap::new();
    for (mode, workers) in [("baseline: num_workers 1", 1), ("default (num_workers 4)", 4)] {
        let (m, reqs, peak) = read_once(dir, env_base, &one, latency, workers, EVERY_STREAM, &lists);
        let calls: usize = reqs.iter().map(|r| r.batch_ops.max(1)).sum();
        println!(
            "| {mode} | {:.2} s | {:.2} s | {:.1} MiB | {} | {calls} | {peak} | {} |",
            m.wall.as_secs_f64(),
            m.cpu.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
            reqs.len(),
            m.records
        );
        walls.insert(workers, m.wall.as_secs_f64());
    }
    println!("| speed-up of num_workers 4 over 1 | {:.1}× | | | | | | |", walls[&1] / walls[&4]);
}
