//! The decision procedure of docs/datapath.md §5: from the model to the verdict matrix of a cluster.
//!
//! Split by stage, the way the specification is: `context` holds the cluster's immutable facts
//! (built once, read by every stage, importing none of them); `scope` finds the ENIs that hold
//! pod addresses and groups them into ENI classes (§5.1); `destinations` splits the private
//! routes into uniform blocks and groups those into destination classes; `procedure` runs
//! §5.3/§5.4 for a class and a block, sequencing the host datapath (`crate::datapath`), the VPC
//! path (`crate::vpc_path`) and `filtering` (§5.7: `filtering/security_groups.rs`,
//! `filtering/acls.rs`, `filtering/far_end.rs`); `expand` turns the matrix back into per-ENI
//! rows for `--paths`, one at a time; `explain` traces a single address; `baseline` is the same
//! procedure without any grouping, for tests and benchmarks. The procedure runs once per ENI
//! class × destination class × direction, so a 5,000-node cluster with 100 routes costs about
//! what a small one does. Findings are built from the matrix by `crate::findings`, which this
//! module does not know about; `crate::audit` sits above both.

#[doc(hidden)]
pub mod baseline;
mod context;
mod destinations;
mod expand;
mod explain;
mod filtering;
mod procedure;
mod scope;

use std::collections::{BTreeMap, BTreeSet};

pub use explain::{ExplainError, Explanation, explain};
pub use filtering::{ACL_ASSUMPTION, EPHEMERAL_ASSUMPTION, SG_ASSUMPTION};

use ipnet::Ipv4Net;

use crate::model::{Cluster, Model, Node};
use crate::report::Gap;
use crate::verdict::{Block, ClassKey, ClusterVerdicts, DIRECTIONS, Evaluation, Subject};

use context::ClusterContext;

/// One analysed cluster: its verdict matrix, and the procedure to re-trace any block of it.
#[derive(Debug)]
pub struct ClusterAnalysis<'a> {
    ctx: ClusterContext<'a>,
    pub verdicts: ClusterVerdicts<'a>,
}

/// Analyses one IPv4 cluster; ENIs that cannot be placed are added to `gaps`.
pub fn analyze_cluster<'a>(
    model: &'a Model,
    cluster: &'a Cluster,
    tcp_ports: &[u16],
    gaps: &mut Vec<Gap>,
) -> ClusterAnalysis<'a> {
    let ctx = ClusterContext::new(model, cluster, tcp_ports);
    let mut subjects = ctx.subjects(gaps);
    // The next secondary ENI of each node; nodes of one subnet share it, so it is worked out
    // once per node subnet.
    let mut hypothetical: BTreeMap<ClassKey, Vec<&Node>> = BTreeMap::new();
    let mut per_subnet: BTreeMap<(&str, bool, Ipv4Net), Option<ClassKey>> = BTreeMap::new();
    let far = ctx.far_route_tables();
    let mut pieces = crate::FastMap::default();
    for node in &cluster.nodes {
        let Some(primary) = ctx.enis.get(node.primary_eni.as_str()) else {
            continue;
        };
        let Some(node_source) = ctx.node_source(node, &far, &mut pieces) else {
            continue;
        };
        let key = per_subnet
            .entry((
                primary.subnet_id.as_str(),
                primary.source_dest_check,
                node_source,
            ))
            .or_insert_with(|| ctx.hypothetical_secondary(node, node_source));
        if let Some(key) = key {
            hypothetical.entry(key.clone()).or_default().push(node);
        }
    }
    let (classes, hypothetical) = ctx.classify(&mut subjects, hypothetical);
    let subjects = merge_parts(subjects);
    let subnets: BTreeSet<String> = classes
        .iter()
        .flat_map(|c| [c.eni_subnet.clone(), c.node_subnet.clone()])
        .collect();
    let (routes, mut blocks) = ctx.blocks(&subnets);
    let destinations = ctx.destination_classes(&subnets, &mut blocks);
    let evaluations = evaluate_all(&ctx, &classes, &blocks, &destinations);
    let verdicts = ClusterVerdicts {
        cluster,
        net: &model.network,
        subjects,
        classes,
        routes,
        blocks,
        destinations,
        evaluations,
        hypothetical,
    };
    ClusterAnalysis { ctx, verdicts }
}

/// Below this many evaluations, one thread does them all (a thread costs more than it saves).
const PARALLEL_FROM: usize = 512;

/// Every class × destination class × direction evaluation, in that order. They are
/// independent (each reads the model and writes its own trace), so a big cluster's classes are
/// evaluated side by side (`crate::par`): the matrix is the same whatever the number of threads.
fn evaluate_all(
    ctx: &ClusterContext<'_>,
    classes: &[ClassKey],
    blocks: &[Block],
    destinations: &[usize],
) -> Vec<Evaluation> {
    let evaluate_class = |class: &ClassKey| -> Vec<Evaluation> {
        let mut out = Vec::with_capacity(destinations.len() * 2);
        for &representative in destinations {
            for direction in DIRECTIONS {
                // Reasons only: the rows' hop texts are traced when rows are asked for.
                out.push(ctx.evaluate_recording(
                    class,
                    &blocks[representative],
                    direction,
                    crate::vpc_path::Record::Reasons,
                ));
            }
        }
        out
    };
    let parallel = classes.len() * destinations.len() * 2 >= PARALLEL_FROM;
    crate::par::map_ordered(classes, parallel, evaluate_class)
        .into_iter()
        .flatten()
        .collect()
}

/// Joins the parts of one ENI that landed in the same class: the far side cuts a subnet at every
/// route inside it, but parts it treats alike need not be separate rows.
fn merge_parts(subjects: Vec<Subject<'_>>) -> Vec<Subject<'_>> {
    let mut out: Vec<Subject<'_>> = Vec::with_capacity(subjects.len());
    for subject in subjects {
        if let Some(last) = out.last_mut()
            && last.eni.id == subject.eni.id
            && last.class == subject.class
        {
            last.pod_ips
                .to_mut()
                .extend(subject.pod_ips.iter().copied());
            last.pod_prefixes
                .to_mut()
                .extend(subject.pod_prefixes.iter().copied());
            continue;
        }
        out.push(subject);
    }
    out
}
