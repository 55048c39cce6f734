//! The pod index on realistic API pages: every pod found by its address with its workload, and
//! a memory guard (deterministic: the index's own heap accounting, not a timer) that keeps it
//! under 100 bytes per pod, what the functions' MemorySize was sized with at 150,000 pods.

use std::net::Ipv4Addr;

use podreach_core::model::PodIndex;
use podreach_core::model::kube::workload;
use podreach_core::raw;

#[path = "../examples/support/pods.rs"]
mod pods;

#[derive(serde::Deserialize)]
struct Page {
    items: raw::Pods,
}

fn index(count: usize, nodes: usize) -> PodIndex {
    let mut all = raw::Pods::default();
    let mut first = 0;
    while first < count {
        let n = (count - first).min(500);
        let page: Page = serde_json::from_str(&pods::page(first, n, nodes)).expect("a page parses");
        all.append(&page.items);
        first += n;
    }
    all.shrink_to_fit();
    PodIndex::new(all, |_| true)
}

#[test]
fn every_pod_of_every_page_is_found_by_its_address_with_its_deployment() {
    let index = index(3_000, 100);
    assert_eq!(index.len(), 3_000);
    for i in [0usize, 1, 499, 500, 1_777, 2_999] {
        let ip = Ipv4Addr::new(
            10,
            16 + ((i >> 16) % 200) as u8,
            ((i >> 8) & 255) as u8,
            (i & 255) as u8,
        );
        let pod = index.get(ip).expect("the pod holds its address");
        let w = workload(&pod);
        assert_eq!(w.kind, "Deployment");
        assert_eq!(w.name, format!("svc-{:03}", (i / 3) % 800));
        assert!(
            pod.name()
                .starts_with(&format!("svc-{:03}-", (i / 3) % 800))
        );
        assert_eq!(pod.namespace(), format!("team-{:02}", (i / 7) % 40));
    }
}

#[test]
fn the_pod_index_holds_under_100_bytes_per_pod() {
    let index = index(20_000, 700);
    let per_pod = index.heap_bytes() as f64 / index.len() as f64;
    assert!(per_pod < 100.0, "{per_pod:.1} bytes per pod");
}
