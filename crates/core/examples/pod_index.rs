//! The pod index's footprint, measured: `pod_index [PODS] [NODES]` (default 150,000 pods on 5,000
//! nodes, the benchmark's 5,000 nodes × 30 pods).
//!
//! Parses the pods as the Kubernetes API reader does (pages of 500 items, each page straight into
//! the compact store of `raw::Pods`, pages appended) and indexes them by address as the model
//! does (`model::PodIndex`). Prints one JSON object: the pods, the bytes the index holds on the
//! heap (by its own accounting) and per pod, and the process's resident set before the first
//! page and after the last one with every page freed (VmRSS, Linux), per pod. Both are what a
//! Lambda function pays per pod; the first is exact, the second includes the allocator's slack.

use std::time::Instant;

use podreach_core::model::PodIndex;
use podreach_core::raw;

#[path = "support/pods.rs"]
mod pods;

#[derive(serde::Deserialize)]
struct Page {
    items: raw::Pods,
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(150_000);
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let before = rss_kib();
    let started = Instant::now();
    let mut all = raw::Pods::default();
    let mut json_bytes = 0usize;
    let mut first = 0;
    while first < count {
        let n = (count - first).min(500);
        let text = pods::page(first, n, nodes);
        json_bytes += text.len();
        let page: Page = match serde_json::from_str(&text) {
            Ok(page) => page,
            Err(e) => {
                eprintln!("a generated page does not parse: {e}");
                std::process::exit(1);
            }
        };
        all.append(&page.items);
        first += n;
    }
    all.shrink_to_fit();
    let parsed = started.elapsed();
    let index = PodIndex::new(all, |_| true);
    let after = rss_kib();
    let heap = index.heap_bytes();
    let rss_delta = match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) * 1024),
        _ => None,
    };
    // The example's one output, for `tests/scale/bench.py`.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{}",
            serde_json::json!({
                "pods": index.len(),
                "json_bytes": json_bytes,
                "parse_ms": parsed.as_secs_f64() * 1000.0,
                "heap_bytes": heap,
                "heap_bytes_per_pod": heap as f64 / index.len().max(1) as f64,
                "rss_delta_bytes": rss_delta,
                "rss_bytes_per_pod": rss_delta.map(|d| d as f64 / index.len().max(1) as f64),
            })
        );
    }
}
