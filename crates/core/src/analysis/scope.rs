//! Scoping: which ENIs of a cluster hold pod addresses, how they sit on the host, and which
//! ENI classes they fall into.
//!
//! The VPC CNI places a pod address on the primary ENI (host table `main`), on a secondary ENI
//! (its own table), or on a branch ENI (security groups for pods). Those placements, with the
//! ENI's and the node's subnets, are all the procedure reads about the pod's side, so ENIs that
//! agree on them form one class and are evaluated once. Subnets are themselves grouped: two
//! subnets with the same route table, Availability Zone and treatment by every far route table
//! are interchangeable, so a class names a representative subnet. ENIs that cannot be placed
//! become gaps.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::cidr;
use crate::cni::SgpMode;
use crate::datapath::{HostTable, Placement};
use crate::model::{EniType, Node, RouteTable, Target};
use crate::report::Gap;
use crate::verdict::{ClassKey, Hypothetical, Subject};

use super::procedure::ClusterContext;

impl<'a> ClusterContext<'a> {
    /// The pod-address holders of the cluster, with gaps for ENIs that cannot be placed.
    pub(crate) fn subjects(&self, gaps: &mut Vec<Gap>) -> Vec<Subject<'a>> {
        let mut subjects = Vec::new();
        let cluster = self.cluster;
        for node in &cluster.nodes {
            let Some(&primary) = self.enis.get(node.primary_eni.as_str()) else {
                continue;
            };
            if !self.net.subnets.contains_key(&primary.subnet_id) {
                continue; // already a gap from model building
            }
            for eni_id in &node.enis {
                let Some(&eni) = self.enis.get(eni_id.as_str()) else {
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
                let Some(&eni) = self.enis.get(branch.eni_id.as_str()) else {
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
        let primary = *self.enis.get(node.primary_eni.as_str())?;
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

/// What the procedure reads about a subnet: its route table (and, without one, its VPC), its
/// Availability Zone (transit gateway attachments), and how every far route table treats its
/// CIDR as a source: the target of the longest match, and the targets of routes strictly inside
/// it. Subnets that agree on all of it are interchangeable in every verdict: a 5,000-node
/// cluster's dozens of subnets are a handful of classes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SubnetSignature<'a> {
    table: Option<&'a str>,
    vpc: &'a str,
    az: &'a str,
    returns: Vec<Return<'a>>,
}

/// A route's target and whether it is a blackhole.
type RouteFate<'a> = (&'a Target, bool);

/// How one far route table treats a subnet's CIDR: its longest match, and the routes inside it.
type Return<'a> = (Option<RouteFate<'a>>, BTreeSet<RouteFate<'a>>);

impl ClusterContext<'_> {
    /// Maps every subnet of the cluster's VPC to the first subnet (by id) of its class.
    fn subnet_representatives(&self) -> BTreeMap<&str, &str> {
        let far: Vec<&RouteTable> = self
            .net
            .route_tables
            .values()
            .filter(|t| t.vpc_id != self.cluster.vpc_id)
            .collect();
        let mut first: BTreeMap<SubnetSignature<'_>, &str> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for subnet in self
            .net
            .subnets
            .values()
            .filter(|s| s.vpc_id == self.cluster.vpc_id)
        {
            let returns = far
                .iter()
                .map(|t| {
                    let lpm =
                        cidr::longest_match(t.routes.iter().map(|r| &r.destination), &subnet.cidr)
                            .map(|i| (&t.routes[i].target, t.routes[i].blackhole));
                    let inside = t
                        .routes
                        .iter()
                        .filter(|r| {
                            r.destination.prefix_len() > subnet.cidr.prefix_len()
                                && cidr::contains(&subnet.cidr, &r.destination)
                        })
                        .map(|r| (&r.target, r.blackhole))
                        .collect();
                    (lpm, inside)
                })
                .collect();
            let signature = SubnetSignature {
                table: self
                    .net
                    .route_table_of_subnet(&subnet.id)
                    .map(|t| t.id.as_str()),
                vpc: &subnet.vpc_id,
                az: &subnet.az,
                returns,
            };
            let representative = *first.entry(signature).or_insert(subnet.id.as_str());
            out.insert(subnet.id.as_str(), representative);
        }
        out
    }

    /// Assigns every subject and hypothetical ENI its class (its key with each subnet replaced
    /// by its subnet class's representative); returns the classes in key order.
    pub(crate) fn classify<'a>(
        &self,
        subjects: &mut [Subject<'a>],
        hypothetical: BTreeMap<ClassKey, Vec<&'a Node>>,
    ) -> (Vec<ClassKey>, Vec<Hypothetical<'a>>) {
        let representatives = self.subnet_representatives();
        let canonical = |mut key: ClassKey| {
            for subnet in [&mut key.eni_subnet, &mut key.node_subnet] {
                if let Some(rep) = representatives.get(subnet.as_str()) {
                    *subnet = (*rep).to_owned();
                }
            }
            key
        };
        // Subjects agree on few raw keys: canonicalise each raw key once, by reference.
        type Raw<'s> = (Placement, &'s str, &'s str, bool, bool);
        fn raw<'s>(s: &'s Subject<'_>) -> Raw<'s> {
            (
                s.placement,
                s.eni.subnet_id.as_str(),
                s.primary.subnet_id.as_str(),
                s.eni.source_dest_check,
                s.primary.source_dest_check,
            )
        }
        let mut canonical_of: HashMap<Raw<'_>, ClassKey> = HashMap::new();
        let mut index: BTreeMap<ClassKey, usize> = BTreeMap::new();
        for subject in subjects.iter() {
            canonical_of
                .entry(raw(subject))
                .or_insert_with(|| canonical(subject.class_key()));
        }
        for key in canonical_of.values() {
            index.entry(key.clone()).or_insert(0);
        }
        let hypothetical: Vec<(ClassKey, Vec<&'a Node>)> = hypothetical
            .into_iter()
            .map(|(key, nodes)| (canonical(key), nodes))
            .collect();
        for (key, _) in &hypothetical {
            index.entry(key.clone()).or_insert(0);
        }
        // Number the classes in key order so the output does not depend on node order.
        let classes: Vec<ClassKey> = index.keys().cloned().collect();
        for (n, slot) in index.values_mut().enumerate() {
            *slot = n;
        }
        let class_of: HashMap<Raw<'_>, usize> = canonical_of
            .iter()
            .map(|(raw, key)| (*raw, index[key]))
            .collect();
        let classes_of: Vec<usize> = subjects.iter().map(|s| class_of[&raw(s)]).collect();
        for (subject, class) in subjects.iter_mut().zip(classes_of) {
            subject.class = class;
        }
        let mut merged: BTreeMap<usize, Vec<&'a Node>> = BTreeMap::new();
        for (key, nodes) in hypothetical {
            merged.entry(index[&key]).or_default().extend(nodes);
        }
        let hypothetical = merged
            .into_iter()
            .map(|(class, nodes)| Hypothetical { class, nodes })
            .collect();
        (classes, hypothetical)
    }
}
