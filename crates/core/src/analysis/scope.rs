//! Scoping: which ENIs of a cluster hold pod addresses, how they sit on the host, and which
//! ENI classes they fall into.
//!
//! The VPC CNI places a pod address on the primary ENI (host table `main`), on a secondary ENI
//! (its own table), or on a branch ENI (security groups for pods). Those placements, with the
//! ENI's and the node's subnets, are all the procedure reads about the pod's side, so ENIs that
//! agree on them form one class and are evaluated once. ENIs that cannot be placed become gaps.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::cni::SgpMode;
use crate::datapath::{HostTable, Placement};
use crate::model::{EniType, Node};
use crate::report::Gap;
use crate::verdict::{ClassKey, Hypothetical, Subject};

use super::procedure::ClusterContext;

impl<'a> ClusterContext<'a> {
    /// The pod-address holders of the cluster, with gaps for ENIs that cannot be placed.
    pub(crate) fn subjects(&self, gaps: &mut Vec<Gap>) -> Vec<Subject<'a>> {
        let mut subjects = Vec::new();
        let cluster = self.cluster;
        for node in &cluster.nodes {
            let Some(primary) = self.net.enis.get(&node.primary_eni) else {
                continue;
            };
            if !self.net.subnets.contains_key(&primary.subnet_id) {
                continue; // already a gap from model building
            }
            for eni_id in &node.enis {
                let Some(eni) = self.net.enis.get(eni_id) else {
                    continue;
                };
                let Some(attachment) = &eni.attachment else {
                    continue;
                };
                if !self.net.subnets.contains_key(&eni.subnet_id) {
                    continue;
                }
                if matches!(eni.kind, EniType::Trunk | EniType::Branch | EniType::Other) {
                    continue;
                }
                if !self.host.manages_card(attachment.network_card_index) {
                    if !eni.secondary_ips.is_empty() || !eni.prefixes.is_empty() {
                        gaps.push(Gap {
                            cluster: Some(cluster.name.clone()),
                            file: Some(eni.file.clone()),
                            object: Some(eni.id.clone()),
                            message: format!(
                                "ENI on network card {} is not managed by CNI {} without ENABLE_MULTI_NIC (v1.20+): its addresses are not pod addresses",
                                attachment.network_card_index, cluster.cni.version
                            ),
                        });
                    }
                    continue;
                }
                let placement = if eni.is_primary() {
                    Placement::PrimaryEni
                } else {
                    Placement::SecondaryEni {
                        table: self
                            .host
                            .eni_table(attachment.device_index, attachment.network_card_index),
                    }
                };
                subjects.push(Subject {
                    node,
                    eni,
                    primary,
                    placement,
                    pod_ips: Cow::Borrowed(&eni.secondary_ips),
                    pod_prefixes: Cow::Borrowed(&eni.prefixes),
                    class: 0,
                });
            }
            for branch in &node.branch_enis {
                let Some(eni) = self.net.enis.get(&branch.eni_id) else {
                    continue;
                };
                if !self.net.subnets.contains_key(&eni.subnet_id) {
                    continue;
                }
                let table = HostTable::Vlan(branch.vlan_id.map(|v| v + 100));
                let mode = if cluster.cni.pod_eni {
                    cluster.cni.sgp_mode
                } else {
                    SgpMode::Strict
                };
                subjects.push(Subject {
                    node,
                    eni,
                    primary,
                    placement: Placement::Branch { mode, table },
                    pod_ips: Cow::Owned(vec![eni.primary_ip]),
                    pod_prefixes: Cow::Borrowed(&[]),
                    class: 0,
                });
            }
        }
        subjects
    }

    /// A secondary ENI the node may be given (for latent risk): device 1 in the subnet the CNI
    /// would use (the ENIConfig subnet of the node's AZ with custom networking, else the node subnet).
    pub(crate) fn hypothetical_secondary(&self, node: &'a Node) -> Option<ClassKey> {
        let primary = self.net.enis.get(&node.primary_eni)?;
        let node_subnet = self.net.subnets.get(&primary.subnet_id)?;
        let subnet = if self.cni().custom_networking {
            self.cluster
                .eniconfigs
                .iter()
                .filter_map(|c| self.net.subnets.get(&c.subnet_id))
                .find(|s| s.az == node_subnet.az)
                .map_or_else(|| node_subnet.id.clone(), |s| s.id.clone())
        } else {
            node_subnet.id.clone()
        };
        let key = ClassKey {
            placement: Placement::SecondaryEni {
                table: self.host.eni_table(1, 0),
            },
            eni_subnet: subnet,
            node_subnet: node_subnet.id.clone(),
            eni_check: true,
            primary_check: primary.source_dest_check,
        };
        Some(key)
    }
}

/// Assigns every subject and hypothetical ENI its class; returns the classes in key order.
pub(crate) fn classify<'a>(
    subjects: &mut [Subject<'a>],
    hypothetical: BTreeMap<ClassKey, Vec<&'a Node>>,
) -> (Vec<ClassKey>, Vec<Hypothetical<'a>>) {
    let mut index: BTreeMap<ClassKey, usize> = BTreeMap::new();
    for key in subjects
        .iter()
        .map(Subject::class_key)
        .chain(hypothetical.keys().cloned())
    {
        let next = index.len();
        index.entry(key).or_insert(next);
    }
    // Number the classes in key order so the output does not depend on node order.
    let classes: Vec<ClassKey> = index.keys().cloned().collect();
    for (n, slot) in index.values_mut().enumerate() {
        *slot = n;
    }
    for subject in subjects.iter_mut() {
        subject.class = index[&subject.class_key()];
    }
    let hypothetical = hypothetical
        .into_iter()
        .map(|(key, nodes)| Hypothetical {
            class: index[&key],
            nodes,
        })
        .collect();
    (classes, hypothetical)
}
