//! Expansion: the per-ENI rows of `--paths`, produced one at a time.
//!
//! A 5,000-node cluster with 100 routes has millions of per-ENI rows, far more than fit in a
//! Lambda function or should sit in memory at once, so rows are handed to a sink as they are
//! made and the caller writes them out. Each row shows the evaluation of its own block, hop by
//! hop: the verdict matrix holds one evaluation per destination class, without hop texts
//! (`Record::Reasons`) and with texts naming the class's first block, so each row's block is
//! traced again with every hop (once per ENI class key, block and direction, cached).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Cluster;
use crate::report::{Direction, Hop, PathVerdict, Reason};
use crate::verdict::{ClassKey, DIRECTIONS, Evaluation, Row, SourceAtPeer, Subject};

use super::ClusterAnalysis;

impl ClusterAnalysis<'_> {
    /// Hands every per-ENI row of the cluster to `sink`, node by node.
    pub fn for_each_path(&self, sink: &mut dyn FnMut(PathVerdict)) {
        let v = &self.verdicts;
        // Texts of rows the matrix does not hold verbatim (a block that is not its destination
        // class's representative, or an ENI whose own subnets are not its class's), traced once
        // per (the ENI's own class key, block, direction).
        let mut keys: BTreeMap<ClassKey, usize> = BTreeMap::new();
        let mut traces: BTreeMap<(usize, usize, Direction), Evaluation> = BTreeMap::new();
        let mut rows: BTreeMap<(usize, Direction), Vec<Row<'_>>> = BTreeMap::new();
        for subject in v.subjects.iter().filter(|s| s.has_pod_addresses()) {
            let own = subject.class_key();
            let next = keys.len();
            let own_index = *keys.entry(own.clone()).or_insert(next);
            for direction in DIRECTIONS {
                let rows = rows
                    .entry((subject.class, direction))
                    .or_insert_with(|| v.rows(subject.class, direction));
                for row in rows.iter() {
                    let block = &v.blocks[row.block];
                    let evaluation = traces
                        .entry((own_index, row.block, direction))
                        .or_insert_with(|| self.ctx.evaluate(&own, block, direction));
                    sink(path_verdict(v.cluster, subject, row, direction, evaluation));
                }
            }
        }
    }
}

/// One ENI's row, with placeholders filled for it.
pub(crate) fn path_verdict(
    cluster: &Cluster,
    subject: &Subject<'_>,
    row: &Row<'_>,
    direction: Direction,
    evaluation: &Evaluation,
) -> PathVerdict {
    let attachment = subject.eni.attachment.as_ref();
    let pods: BTreeSet<String> = subject
        .pod_ips
        .iter()
        .filter_map(|ip| cluster.pods.get(*ip))
        .chain(subject.pod_prefixes.iter().flat_map(|p| {
            cluster
                .pods
                .range(p.network(), p.broadcast())
                .map(|(_, pod)| pod)
        }))
        .map(|pod| format!("{}/{}", pod.namespace(), pod.name()))
        .collect();
    let mut assumptions = cluster.cni.assumptions.clone();
    for a in &evaluation.assumptions {
        if !assumptions.contains(a) {
            assumptions.push(a.clone());
        }
    }
    PathVerdict {
        region: None,
        cluster: cluster.name.clone(),
        instance_id: subject.node.instance_id.clone(),
        eni_id: subject.eni.id.clone(),
        device_index: attachment.map_or(0, |a| a.device_index),
        network_card_index: attachment.map_or(0, |a| a.network_card_index),
        eni_role: subject.role(),
        subnet_id: subject.eni.subnet_id.clone(),
        pod_ips: subject.pod_ips.iter().map(ToString::to_string).collect(),
        pod_prefixes: subject
            .pod_prefixes
            .iter()
            .map(ToString::to_string)
            .collect(),
        pods: pods.into_iter().collect(),
        destination: row.destination.to_string(),
        route_destination: row.route.to_string(),
        via: evaluation.via.clone(),
        direction,
        verdict: evaluation.verdict,
        cause: evaluation.cause(),
        causes: evaluation
            .reasons
            .iter()
            .map(|r| Reason {
                code: r.code,
                detail: subject.render(&r.detail),
            })
            .collect(),
        source_ip_at_peer: match evaluation.source {
            SourceAtPeer::NodeIp => subject.node.ip.to_string(),
            SourceAtPeer::PodIp => "pod-ip".to_owned(),
        },
        egress_eni: if evaluation.egress_primary {
            subject.primary.id.clone()
        } else {
            subject.eni.id.clone()
        },
        host_table: evaluation.host_table,
        tcp_ports: evaluation.filter.as_ref().map(|f| f.ports.to_string()),
        hops: evaluation
            .hops
            .iter()
            .map(|h| Hop {
                at: h.at,
                detail: subject.render(&h.detail),
                outcome: h.outcome,
            })
            .collect(),
        assumptions,
    }
}
