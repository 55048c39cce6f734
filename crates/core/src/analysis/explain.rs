//! `podreach explain`: the hop-by-hop trace of one pod address to one destination address.
//!
//! The same procedure as the audit, run for a single address and a single-address block, so
//! what `explain` prints is exactly what the audit decided for that pod and destination.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::audit::AnalyzeOptions;
use crate::cidr;
use crate::datapath::DestinationFlags;
use crate::model::{IpFamily, Model};
use crate::report::PathVerdict;
use crate::verdict::{Block, DIRECTIONS, Row};

use super::context::ClusterContext;
use super::expand::path_verdict;

#[derive(Debug, Clone)]
pub struct Explanation {
    /// The cluster's Region, when the model names it.
    pub region: Option<String>,
    pub cluster: String,
    pub pod_ip: Ipv4Addr,
    pub to: Ipv4Addr,
    pub paths: Vec<PathVerdict>,
    pub notes: Vec<String>,
}

/// Why `explain` could not trace.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0} is not an address of any node ENI of an analysed cluster in the snapshot")]
    UnknownPodAddress(Ipv4Addr),
    #[error(
        "{to} is inside the cluster VPC ({vpc}): podreach analyses destinations beyond the VPC"
    )]
    InsideVpc { to: Ipv4Addr, vpc: String },
}

/// Traces `pod_ip` → `to` and back with the same procedure the audit uses.
pub fn explain(
    model: &Model,
    pod_ip: Ipv4Addr,
    to: Ipv4Addr,
    options: &AnalyzeOptions,
) -> Result<Explanation, ExplainError> {
    let mut gaps = Vec::new();
    for cluster in model
        .clusters
        .iter()
        .filter(|c| c.ip_family == IpFamily::V4)
    {
        let ctx = ClusterContext::new(model, cluster, &options.tcp_ports);
        let subjects = ctx.subjects(&mut gaps);
        let Some(subject) = subjects
            .iter()
            .find(|s| {
                s.pod_ips.contains(&pod_ip) || s.pod_prefixes.iter().any(|p| p.contains(&pod_ip))
            })
            .cloned()
            .map(|mut s| {
                s.pod_ips = Cow::Owned(vec![pod_ip]);
                s.pod_prefixes = Cow::Borrowed(&[]);
                // The far side routes this exact address.
                s.pod_source = Ipv4Net::from(pod_ip);
                s
            })
        else {
            continue;
        };
        let target = Ipv4Net::from(to);
        if cidr::covered_by_any(&ctx.vpc_cidrs, &target) {
            return Err(ExplainError::InsideVpc {
                to,
                vpc: cluster.vpc_id.clone(),
            });
        }
        let flags = DestinationFlags {
            excluded_from_snat: cidr::covered_by_any(&cluster.cni.exclude_snat_cidrs, &target),
            external_service: cidr::covered_by_any(&cluster.cni.external_service_cidrs, &target),
        };
        let class = subject.class_key();
        let block = Block {
            block: target,
            route: target,
            flags,
            destination: 0,
        };
        let mut notes = Vec::new();
        let mut subnets = BTreeSet::from([class.eni_subnet.clone(), class.node_subnet.clone()]);
        subnets.retain(|s| ctx.net.subnets.contains_key(s));
        let (routes, _) = ctx.blocks(&subnets);
        match routes.iter().filter(|r| r.contains(&to)).max_by_key(|r| r.prefix_len()) {
            Some(route) => notes.push(format!("{to} is behind the private route {route}")),
            None => notes.push(format!(
                "{to} is not behind any private route (pcx-/tgw-/vgw-/lgw-) of the node's subnets; the trace shows what happens anyway"
            )),
        }
        let paths = DIRECTIONS
            .iter()
            .map(|direction| {
                let evaluation = ctx.evaluate(&class, &block, *direction);
                let row = Row {
                    destination: target,
                    route: target,
                    block: 0,
                    evaluation: &evaluation,
                };
                PathVerdict {
                    region: model.region.clone(),
                    destination: to.to_string(),
                    ..path_verdict(cluster, &subject, &row, *direction, &evaluation)
                }
            })
            .collect();
        return Ok(Explanation {
            region: model.region.clone(),
            cluster: cluster.name.clone(),
            pod_ip,
            to,
            paths,
            notes,
        });
    }
    Err(ExplainError::UnknownPodAddress(pod_ip))
}
