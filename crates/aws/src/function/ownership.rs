//! The ownership step (`on-change` only): an event's scope narrowed to what the clusters' nodes
//! own, before anything is collected, so that someone else's ENI costs at most one lookup and no
//! audit.
//!
//! ECS tasks, VPC Lambdas and load balancers create, attach, detach and delete ENIs all day in the
//! clusters' VPCs; each is an event the rules deliver. The owned ids of every cluster, stored by
//! the last full audit and extended by node audits ([`crate::owners`]), answer first:
//!
//! - an ENI, attachment or association that no longer exists (`DeleteNetworkInterface`,
//!   `DetachNetworkInterface`, `DisassociateRouteTable`) is its owner cluster's, audited whole;
//!   owned by none, it is dismissed (a gone ENI carries no pods; the next full audit settles what
//!   it leaves);
//! - a live ENI a cluster owns is its node's event, as before;
//! - any other live ENI is looked up once (one `DescribeNetworkInterfaces` for all of them): a
//!   node's ENI by its tags or description (the VPC CNI's `cluster.k8s.amazonaws.com/name`,
//!   `node.k8s.amazonaws.com/instance_id`, `aws-K8S-…`, the VPC resource controller's
//!   `aws-k8s-trunk-eni`/`aws-k8s-branch-eni`) or by the instance it is attached to being a
//!   cluster's node is kept; anything else (a Lambda's or load balancer's ENI, an ECS task's, an
//!   instance that is no node) is dismissed, with what it is.
//!
//! - a change of an input of verdicts (a security group, network ACL, prefix list, VPC CIDR,
//!   transit gateway attachment or route table) re-audits the clusters whose verdicts read it,
//!   whole, and first invalidates their cached contexts (no node audit judges against the old
//!   rules); an input no audited cluster reads is dismissed.
//!
//! Nothing is dismissed that the index cannot vouch for: with no index stored yet (no full audit
//! so far) live ENIs are looked up as above and gone objects still dismissed, because a gone ENI
//! cannot make a finding appear. Other scopes (clusters, VPCs, route tables, peerings, instances)
//! pass unchanged.

use podreach_core::model::ENI_CLUSTER_TAG;
use podreach_core::raw;

use crate::collect::{Collect, Scope};
use crate::owners::{Owners, owners_of};
use crate::state::StateStore;

use super::error::HandlerError;
use super::run::Run;

/// The VPC CNI's tag naming the node an ENI it created belongs to.
const CNI_NODE_TAG: &str = "node.k8s.amazonaws.com/instance_id";

/// What the scope came to.
#[derive(Debug)]
pub(crate) enum Owned {
    /// Audit `scope`; `dismissed` says what was left out of the event's scope, and why.
    Audit {
        scope: Scope,
        dismissed: Vec<String>,
        calls: u64,
    },
    /// Nothing in the scope is a cluster's: no audit.
    Ignore { why: String, calls: u64 },
}

/// Narrows `scope` to what the clusters own.
pub(crate) async fn by_ownership<C: Collect, S: StateStore>(
    run: &Run<'_>,
    collector: &C,
    store: &S,
    scope: Scope,
) -> Result<Owned, HandlerError> {
    let owners = match store.owners(&run.at).await {
        Ok(owners) => owners,
        Err(error) => {
            // Without the index nothing can be vouched for: the scope stays whole.
            tracing::warn!(%error, "the clusters' owned ids could not be read");
            return Ok(Owned::Audit {
                scope,
                dismissed: Vec::new(),
                calls: 0,
            });
        }
    };
    let mut walk = Walk::default();
    walk.leaves(scope, &owners);
    let mut calls = 0;
    let unknown: Vec<String> = walk
        .slots
        .iter()
        .flat_map(|s| match s {
            Slot::LookUp(ids) => ids.clone(),
            Slot::Keep(_) => Vec::new(),
        })
        .collect();
    // One lookup for every live ENI the index does not know (none: a collector that cannot
    // look up keeps them).
    let found = match unknown.is_empty() {
        true => None,
        false => collector.look_up_enis(&unknown).await?,
    };
    calls += u64::from(found.is_some());
    let Walk {
        slots,
        mut dismissed,
        invalidate,
    } = walk;
    for cluster in &invalidate {
        let tombstone = crate::context::tombstone(cluster);
        if let Err(error) = store.put_context(&run.at, &tombstone).await {
            tracing::warn!(%cluster, %error, "could not invalidate the cluster's cached context");
        }
    }
    let mut kept = Vec::new();
    for slot in slots {
        match (slot, &found) {
            (Slot::Keep(scope), _) => kept.push(scope),
            (Slot::LookUp(ids), None) => kept.push(Scope::Enis(ids)),
            (Slot::LookUp(ids), Some(found)) => {
                let mut nodes = Vec::new();
                for id in ids {
                    match judge(&id, found, &owners) {
                        None => nodes.push(id),
                        Some(what) => dismissed.push(what),
                    }
                }
                if !nodes.is_empty() {
                    kept.push(Scope::Enis(nodes));
                }
            }
        }
    }
    if kept.is_empty() {
        return Ok(Owned::Ignore {
            why: format!("no cluster's nodes own it: {}", dismissed.join("; ")),
            calls,
        });
    }
    Ok(Owned::Audit {
        scope: Scope::union(kept),
        dismissed,
        calls,
    })
}

/// The scope's leaves, in order: kept, or live ENIs still to look up; and what was dismissed.
#[derive(Default)]
struct Walk {
    slots: Vec<Slot>,
    dismissed: Vec<String>,
    /// Clusters an input of whose verdicts changed: their cached contexts are stale.
    invalidate: std::collections::BTreeSet<String>,
}

enum Slot {
    Keep(Scope),
    /// The live ENIs of one `Scope::Enis` the index does not know.
    LookUp(Vec<String>),
}

impl Walk {
    fn leaves(&mut self, scope: Scope, owners: &[Owners]) {
        match scope {
            Scope::Union(scopes) => {
                for scope in scopes {
                    self.leaves(scope, owners);
                }
            }
            Scope::DeletedEnis(ids) | Scope::Attachments(ids) | Scope::Associations(ids) => {
                for id in ids {
                    let clusters: Vec<String> = owners_of(owners, &id).map(str::to_owned).collect();
                    if clusters.is_empty() {
                        self.dismissed.push(format!(
                            "{id} is gone and no cluster's nodes owned it at their last audit"
                        ));
                    } else {
                        self.slots.push(Slot::Keep(Scope::Clusters(clusters)));
                    }
                }
            }
            // With no index yet, nothing tells whose verdicts read an input: kept whole.
            Scope::Inputs(ids) if owners.is_empty() => {
                self.slots.push(Slot::Keep(Scope::Inputs(ids)));
            }
            Scope::Inputs(ids) => {
                for id in ids {
                    let clusters: Vec<String> = owners_of(owners, &id).map(str::to_owned).collect();
                    if clusters.is_empty() {
                        self.dismissed
                            .push(format!("no audited cluster's verdicts read {id}"));
                    } else {
                        self.invalidate.extend(clusters.iter().cloned());
                        self.slots.push(Slot::Keep(Scope::Clusters(clusters)));
                    }
                }
            }
            Scope::Enis(ids) => {
                let (owned, unknown): (Vec<String>, Vec<String>) = ids
                    .into_iter()
                    .partition(|id| owners_of(owners, id).next().is_some());
                if !owned.is_empty() {
                    self.slots.push(Slot::Keep(Scope::Enis(owned)));
                }
                if !unknown.is_empty() {
                    self.slots.push(Slot::LookUp(unknown));
                }
            }
            other => self.slots.push(Slot::Keep(other)),
        }
    }
}

/// A looked-up ENI: `None` when it is a node's, else what it is.
fn judge(id: &str, found: &[raw::NetworkInterface], owners: &[Owners]) -> Option<String> {
    match found.iter().find(|e| e.network_interface_id == id) {
        Some(eni) => not_a_node(eni, owners),
        None => Some(format!(
            "{id} no longer exists and no cluster's nodes owned it at their last audit"
        )),
    }
}

/// `None` when `eni` is a cluster node's; else what it is.
fn not_a_node(eni: &raw::NetworkInterface, owners: &[Owners]) -> Option<String> {
    let tagged = eni
        .tag_set
        .iter()
        .any(|t| t.key == ENI_CLUSTER_TAG || t.key == CNI_NODE_TAG);
    let description = eni.description.as_deref().unwrap_or_default();
    let by_kubernetes = description.to_ascii_lowercase().starts_with("aws-k8s-");
    let instance = eni
        .attachment
        .as_ref()
        .and_then(|a| a.instance_id.as_deref());
    // With no index yet, an instance cannot be vouched for: its ENI is kept.
    let on_node =
        instance.is_some_and(|i| owners.is_empty() || owners_of(owners, i).next().is_some());
    if tagged || by_kubernetes || on_node {
        return None;
    }
    let kind = eni.interface_type.as_deref().unwrap_or("interface");
    Some(format!(
        "{} ({kind}, description {description:?}) is {}",
        eni.network_interface_id,
        match instance {
            Some(i) => format!("attached to {i}, which is no cluster's node"),
            None => "attached to no instance".to_owned(),
        }
    ))
}
