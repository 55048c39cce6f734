//! Scoping: which ENIs of a cluster hold pod addresses, how they sit on the host, and which
//! ENI classes they fall into.
//!
//! The VPC CNI places a pod address on the primary ENI (host table `main`), on a secondary ENI
//! (its own table), or on a branch ENI (security groups for pods). Those placements, with the
//! ENI's and the node's subnets, are all the procedure reads about the pod's side, so ENIs that
//! agree on them form one class and are evaluated once. Subnets are themselves grouped: two
//! subnets with the same route table, Availability Zone and treatment by every far route table
//! are interchangeable, so a class names a representative subnet. The far side judges the exact
//! source it sees, so where a far route covers only part of a subnet, the subnet is cut there
//! and an ENI whose pod addresses fall in several parts becomes one subject per part (the common
//! case, no such route, keeps one part: the whole subnet). ENIs that cannot be placed become gaps.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::FastMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::cidr;
use crate::cni::facts;
use crate::datapath::{HostTable, Placement};
use crate::model::{Eni, EniType, Node, RouteTable, Target};
use crate::report::Gap;
use crate::verdict::{ClassKey, Hypothetical, Subject, sorted};

use super::context::ClusterContext;

/// A subnet's CIDR and its parts ([`ClusterContext::source_pieces`]), shared by its ENIs.
type Parts = Option<(Ipv4Net, Rc<[Ipv4Net]>)>;

impl<'a> ClusterContext<'a> {
    /// The pod-address holders of the cluster, with gaps for ENIs that cannot be placed.
    pub(crate) fn subjects(&self, gaps: &mut Vec<Gap>) -> Vec<Subject<'a>> {
        let mut subjects = Vec::new();
        let cluster = self.cluster;
        let far = self.far_route_tables();
        // Each subnet's CIDR and parts, looked up once per subnet: `None` when the subnet is not
        // in the snapshot (already a gap from model building). 15,000 ENIs share a few dozen.
        let mut subnets: FastMap<&str, Parts> = FastMap::default();
        let mut parts_of = |subnet: &'a str| -> Parts {
            subnets
                .entry(subnet)
                .or_insert_with(|| {
                    let whole = self.net.subnets.get(subnet)?.cidr;
                    Some((whole, self.source_pieces(subnet, &far).into()))
                })
                .clone()
        };
        for node in &cluster.nodes {
            let Some(&primary) = self.enis.get(node.primary_eni.as_str()) else {
                continue;
            };
            let Some((node_whole, node_pieces)) = parts_of(&primary.subnet_id) else {
                continue; // already a gap from model building
            };
            let node_source = piece_of(&node_pieces, node_whole, node.ip);
            for eni_id in &node.enis {
                let Some(&eni) = self.enis.get(eni_id.as_str()) else {
                    continue;
                };
                let Some(attachment) = &eni.attachment else {
                    continue;
                };
                let Some((whole, pieces)) = parts_of(&eni.subnet_id) else {
                    continue;
                };
                if matches!(eni.kind, EniType::Trunk | EniType::Branch | EniType::Other) {
                    continue;
                }
                if !self.host.manages_card(attachment.network_card_index) {
                    if !eni.secondary_ips.is_empty() || !eni.prefixes.is_empty() {
                        gaps.push(Gap {
region: None,
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
                let subject = Subject {
                    node,
                    eni,
                    primary,
                    placement,
                    pod_ips: Cow::Borrowed(&eni.secondary_ips),
                    pod_prefixes: Cow::Borrowed(&eni.prefixes),
                    pod_source: Ipv4Net::default(),
                    node_source,
                    class: 0,
                };
                split_by_piece(subject, &pieces, whole, eni, &mut subjects);
            }
            for branch in &node.branch_enis {
                let Some(&eni) = self.enis.get(branch.eni_id.as_str()) else {
                    continue;
                };
                let Some((whole, pieces)) = parts_of(&eni.subnet_id) else {
                    continue;
                };
                let table = HostTable::Vlan(branch.vlan_id.map(|v| v + 100));
                // The plugin sets a branch pod up in its conflist's `podSGEnforcingMode`, which the
                // entrypoint writes from POD_SECURITY_GROUP_ENFORCING_MODE (default strict) whatever
                // ENABLE_POD_ENI says (v1.11.4 scripts/entrypoint.sh:107,182-185; cni.go:217-221).
                let mode = cluster.cni.sgp_mode;
                subjects.push(Subject {
                    node,
                    eni,
                    primary,
                    placement: Placement::Branch { mode, table },
                    pod_ips: Cow::Owned(vec![eni.primary_ip]),
                    pod_prefixes: Cow::Borrowed(&[]),
                    pod_source: piece_of(&pieces, whole, eni.primary_ip),
                    node_source,
                    class: 0,
                });
            }
        }
        subjects
    }

    /// A secondary ENI the node may be given (for latent risk): device 1 in the subnet the CNI
    /// would use (the ENIConfig subnet of the node's AZ with custom networking, else the node subnet).
    /// `node_source` is the part of the node subnet holding the node IP; the new ENI's own
    /// addresses could be anywhere in its subnet, so its `pod_source` is the whole subnet.
    pub(crate) fn hypothetical_secondary(
        &self,
        node: &'a Node,
        node_source: Ipv4Net,
    ) -> Option<ClassKey> {
        let primary = *self.enis.get(node.primary_eni.as_str())?;
        let node_subnet = self.net.subnets.get(&primary.subnet_id)?;
        // The new ENI's security groups (amazon-vpc-cni-k8s pkg/awsutils/awsutils.go,
        // `createENI`): without custom networking, the primary ENI's (`cache.securityGroups`).
        // With it, the ENIConfig of the node's AZ gives the subnet and its `securityGroups`;
        // when that list is empty, v1.8.0 and later use the primary ENI's groups (PR #1259,
        // issue #1124), while earlier versions sent an empty list to CreateNetworkInterface,
        // and EC2 then gives the ENI the VPC's `default` security group.
        let config = self
            .cni()
            .custom_networking
            .then(|| {
                self.cluster.eniconfigs.iter().find_map(|c| {
                    let s = self.net.subnets.get(&c.subnet_id)?;
                    (s.az == node_subnet.az).then_some((s, c))
                })
            })
            .flatten();
        let subnet = config.map_or(node_subnet, |(s, _)| s);
        let groups = match config {
            Some((_, c)) if !c.security_groups.is_empty() => sorted(&c.security_groups),
            Some(_) if self.cni().version < facts::PER_POD_ENI_RULE => self
                .net
                .security_groups
                .iter()
                .flat_map(|g| g.values())
                .find(|g| {
                    g.vpc_id.as_deref() == Some(self.cluster.vpc_id.as_str())
                        && g.name.as_deref() == Some("default")
                })
                .map_or_else(Vec::new, |g| vec![g.id.clone()]),
            _ => sorted(&primary.groups),
        };
        let key = ClassKey {
            placement: Placement::SecondaryEni {
                table: self.host.eni_table(1, 0),
            },
            eni_subnet: subnet.id.clone(),
            node_subnet: node_subnet.id.clone(),
            eni_check: true,
            primary_check: primary.source_dest_check,
            pod_source: subnet.cidr,
            node_source,
            eni_groups: groups,
            primary_groups: sorted(&primary.groups),
        };
        Some(key)
    }

    /// The route tables of other VPCs: the far side, whose routes back decide per address.
    pub(crate) fn far_route_tables(&self) -> Vec<&'a RouteTable> {
        self.net
            .route_tables
            .values()
            .filter(|t| t.vpc_id != self.cluster.vpc_id)
            .collect()
    }

    /// `subnet` cut at every route of `far` that lies strictly inside it: the coarsest parts in
    /// which every far route table treats every address alike. One part (the whole subnet)
    /// unless a far side routes only part of the subnet back.
    pub(crate) fn source_pieces(&self, subnet: &str, far: &[&RouteTable]) -> Vec<Ipv4Net> {
        let Some(cidr) = self.net.subnets.get(subnet).map(|s| s.cidr) else {
            return Vec::new();
        };
        let inside: Vec<Ipv4Net> = far
            .iter()
            .flat_map(|t| t.routes.iter().map(|r| r.destination))
            .chain(self.filter_cidrs.iter().copied())
            .filter(|d| d.prefix_len() > cidr.prefix_len() && cidr::contains(&cidr, d))
            .collect();
        if inside.is_empty() {
            vec![cidr]
        } else {
            cidr::split(cidr, &inside)
        }
    }

    /// The part of its subnet the node IP of `node` lies in; `cache` keeps each subnet's parts.
    pub(crate) fn node_source(
        &self,
        node: &Node,
        far: &[&RouteTable],
        cache: &mut FastMap<&'a str, Vec<Ipv4Net>>,
    ) -> Option<Ipv4Net> {
        let primary: &'a Eni = self.enis.get(node.primary_eni.as_str())?;
        let whole = self.net.subnets.get(&primary.subnet_id)?.cidr;
        let pieces = cache
            .entry(primary.subnet_id.as_str())
            .or_insert_with(|| self.source_pieces(&primary.subnet_id, far));
        Some(piece_of(pieces, whole, node.ip))
    }
}

/// The part of `pieces` (the parts of one subnet) holding `address`. EC2 keeps an ENI's addresses
/// inside its subnet; should a snapshot say otherwise, the address is judged with the whole
/// subnet (the first part's supernet is not known here, so the caller passes `whole`), never as
/// a part of its own: one class per stray address would make the analysis grow with addresses.
fn piece_of(pieces: &[Ipv4Net], whole: Ipv4Net, address: Ipv4Addr) -> Ipv4Net {
    pieces
        .iter()
        .find(|p| p.contains(&address))
        .copied()
        .unwrap_or(whole)
}

/// Pushes `subject` once per part of its subnet that holds some of its pod addresses, each with
/// those addresses (a delegated prefix that straddles parts is cut along them). With one part,
/// the subject is pushed as it is, still borrowing the model's address lists.
fn split_by_piece<'a>(
    mut subject: Subject<'a>,
    pieces: &[Ipv4Net],
    whole: Ipv4Net,
    eni: &'a Eni,
    out: &mut Vec<Subject<'a>>,
) {
    if pieces.len() <= 1 {
        subject.pod_source = whole;
        out.push(subject);
        return;
    }
    let mut parts: BTreeMap<Ipv4Net, (Vec<Ipv4Addr>, Vec<Ipv4Net>)> = BTreeMap::new();
    for ip in eni.secondary_ips.iter().copied() {
        parts
            .entry(piece_of(pieces, whole, ip))
            .or_default()
            .0
            .push(ip);
    }
    for prefix in &eni.prefixes {
        for part in cidr::split(*prefix, pieces) {
            parts
                .entry(piece_of(pieces, whole, part.network()))
                .or_default()
                .1
                .push(part);
        }
    }
    if parts.is_empty() {
        // No pod address yet: the ENI still counts (it is placed), in the part of its own address.
        subject.pod_source = piece_of(pieces, whole, eni.primary_ip);
        out.push(subject);
        return;
    }
    for (piece, (ips, prefixes)) in parts {
        out.push(Subject {
            pod_ips: Cow::Owned(ips),
            pod_prefixes: Cow::Owned(prefixes),
            pod_source: piece,
            ..subject.clone()
        });
    }
}

/// What the procedure reads about a source: its subnet's route table (and, without one, its
/// VPC), its Availability Zone (transit gateway attachments), and how every far route table
/// treats the source part of the subnet: the target of the longest match, and the targets of
/// routes strictly inside it (none for a part, by construction; some for the whole subnet of a
/// future ENI). Sources that agree on all of it are interchangeable in every verdict: a
/// 5,000-node cluster's dozens of subnets are a handful of classes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SourceSignature<'a> {
    table: Option<&'a str>,
    vpc: &'a str,
    az: &'a str,
    returns: Vec<Return<'a>>,
    /// The subnet's network ACL, and which security-group / ACL CIDRs hold the part: sources
    /// the filters treat differently never share a class.
    acl: Option<&'a str>,
    filters: Vec<usize>,
}

/// A route's target and whether it is a blackhole.
type RouteFate<'a> = (&'a Target, bool);

/// How one far route table treats a source: its longest match, and the routes inside it.
type Return<'a> = (Option<RouteFate<'a>>, BTreeSet<RouteFate<'a>>);

/// A source the far side may see: a subnet and the part of it the address lies in.
type Source<'a> = (&'a str, Ipv4Net);

impl ClusterContext<'_> {
    /// Maps every source of the cluster's VPC (each part of each subnet, and each whole subnet)
    /// to the first source, by subnet id then address, with the same signature.
    fn source_representatives(&self) -> BTreeMap<Source<'_>, Source<'_>> {
        let far = self.far_route_tables();
        let mut first: BTreeMap<SourceSignature<'_>, Source<'_>> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for subnet in self
            .net
            .subnets
            .values()
            .filter(|s| s.vpc_id == self.cluster.vpc_id)
        {
            let mut sources = self.source_pieces(&subnet.id, &far);
            if !sources.contains(&subnet.cidr) {
                sources.push(subnet.cidr);
            }
            for part in sources {
                let returns = far
                    .iter()
                    .map(|t| {
                        let lpm =
                            cidr::longest_match(t.routes.iter().map(|r| &r.destination), &part)
                                .map(|i| (&t.routes[i].target, t.routes[i].blackhole));
                        let inside = t
                            .routes
                            .iter()
                            .filter(|r| {
                                r.destination.prefix_len() > part.prefix_len()
                                    && cidr::contains(&part, &r.destination)
                            })
                            .map(|r| (&r.target, r.blackhole))
                            .collect();
                        (lpm, inside)
                    })
                    .collect();
                let signature = SourceSignature {
                    table: self
                        .net
                        .route_table_of_subnet(&subnet.id)
                        .map(|t| t.id.as_str()),
                    vpc: &subnet.vpc_id,
                    az: &subnet.az,
                    returns,
                    acl: self.net.subnet_acls.get(&subnet.id).map(String::as_str),
                    filters: self
                        .filter_cidrs
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| cidr::contains(c, &part))
                        .map(|(i, _)| i)
                        .collect(),
                };
                let source = (subnet.id.as_str(), part);
                let representative = *first.entry(signature).or_insert(source);
                out.insert(source, representative);
            }
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
        let representatives = self.source_representatives();
        let canonical = |mut key: ClassKey| {
            for (subnet, part) in [
                (&mut key.eni_subnet, &mut key.pod_source),
                (&mut key.node_subnet, &mut key.node_source),
            ] {
                if let Some(&(rep, rep_part)) = representatives.get(&(subnet.as_str(), *part)) {
                    let rep = rep.to_owned();
                    *subnet = rep;
                    *part = rep_part;
                }
            }
            key
        };
        // Subjects agree on few raw keys: canonicalise each raw key once, by reference.
        type Raw<'s> = (
            Placement,
            &'s str,
            &'s str,
            bool,
            bool,
            Ipv4Net,
            Ipv4Net,
            &'s [String],
            &'s [String],
        );
        fn raw<'s>(s: &'s Subject<'_>) -> Raw<'s> {
            (
                s.placement,
                s.eni.subnet_id.as_str(),
                s.primary.subnet_id.as_str(),
                s.eni.source_dest_check,
                s.primary.source_dest_check,
                s.pod_source,
                s.node_source,
                &s.eni.groups,
                &s.primary.groups,
            )
        }
        // Each subject's raw key is hashed once (or merely compared with the one before it: a
        // node's ENIs often agree), giving the index of its raw key in `keys`.
        let mut raw_index: FastMap<Raw<'_>, usize> = FastMap::default();
        let mut keys: Vec<ClassKey> = Vec::new();
        let mut raw_of: Vec<usize> = Vec::with_capacity(subjects.len());
        let mut previous: Option<(Raw<'_>, usize)> = None;
        for subject in subjects.iter() {
            let key = raw(subject);
            let n = match previous {
                Some((last, n)) if last == key => n,
                _ => *raw_index.entry(key).or_insert_with(|| {
                    keys.push(canonical(subject.class_key()));
                    keys.len() - 1
                }),
            };
            previous = Some((key, n));
            raw_of.push(n);
        }
        let mut index: BTreeMap<ClassKey, usize> = BTreeMap::new();
        for key in &keys {
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
        let class_of_raw: Vec<usize> = keys.iter().map(|key| index[key]).collect();
        for (subject, raw) in subjects.iter_mut().zip(raw_of) {
            subject.class = class_of_raw[raw];
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
