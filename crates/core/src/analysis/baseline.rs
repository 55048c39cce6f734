//! The naive baseline: every pod address × every destination block × both directions, traced
//! one at a time, with no ENI classes and no destination classes.
//!
//! It is what the analysis would be without its grouping, kept for two reasons: a property test
//! holds the class-based verdict matrix against it on small random clusters (so a wrong class
//! key can never go unnoticed), and the benchmark times it next to the real audit. It is far too
//! slow for real clusters, which is the point.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::model::{Cluster, IpFamily, Model};
use crate::report::Direction;
use crate::verdict::{Block, ClassKey, DIRECTIONS, Evaluation, Subject};

use super::context::ClusterContext;

/// One naive verdict: a pod address of an ENI, a block, a direction and its evaluation.
#[derive(Debug)]
pub struct NaiveVerdict<'v> {
    pub cluster: &'v Cluster,
    pub subject: &'v Subject<'v>,
    pub address: Ipv4Addr,
    pub block: &'v Block,
    pub direction: Direction,
    pub evaluation: &'v Evaluation,
}

/// Traces every `every`-th pod address (1: all of them) of every IPv4 cluster to every block,
/// both ways, and hands each verdict to `sink`.
pub fn naive(
    model: &Model,
    tcp_ports: &[u16],
    every: usize,
    mut sink: impl FnMut(NaiveVerdict<'_>),
) {
    let every = every.max(1);
    let mut index = 0usize;
    for cluster in model
        .clusters
        .iter()
        .filter(|c| c.ip_family == IpFamily::V4)
    {
        let ctx = ClusterContext::new(model, cluster, tcp_ports);
        let subjects = ctx.subjects(&mut Vec::new());
        let subnets = subjects
            .iter()
            .flat_map(|s| [s.eni.subnet_id.clone(), s.primary.subnet_id.clone()])
            .collect();
        let (_, blocks) = ctx.blocks(&subnets);
        for subject in &subjects {
            let addresses =
                subject
                    .pod_ips
                    .iter()
                    .copied()
                    .chain(subject.pod_prefixes.iter().flat_map(|p| {
                        (u32::from(p.network())..=u32::from(p.broadcast())).map(Ipv4Addr::from)
                    }));
            for address in addresses {
                index += 1;
                if !(index - 1).is_multiple_of(every) {
                    continue;
                }
                // The exact sources the far side sees: this address, and the node IP.
                let key = ClassKey {
                    pod_source: Ipv4Net::from(address),
                    node_source: Ipv4Net::from(subject.node.ip),
                    ..subject.class_key()
                };
                for block in &blocks {
                    for direction in DIRECTIONS {
                        let evaluation = ctx.evaluate(&key, block, direction);
                        sink(NaiveVerdict {
                            cluster,
                            subject,
                            address,
                            block,
                            direction,
                            evaluation: &evaluation,
                        });
                    }
                }
            }
        }
    }
}
