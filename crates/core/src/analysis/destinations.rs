//! Destinations: the private routes beyond the VPC, split into uniform blocks, and the
//! destination classes the procedure is evaluated for.
//!
//! Blocks (docs/datapath.md §5.1): a route CIDR is split at every boundary a rule looks at (the VPC
//! CIDRs, `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`, `AWS_EXTERNAL_SERVICE_CIDRS`, other routes, the
//! far VPCs and their subnets), so the kernel and the VPC treat every address of a block alike.
//!
//! Destination classes: an enterprise VPC routes dozens to hundreds of prefixes over the same
//! peering connection or transit gateway. Two blocks have the same fate for every ENI when every
//! input the procedure reads about the destination is the same: the SNAT and external-service
//! flags, and for every route table of the cluster's subnets the route it picks (target and
//! state), whether the peering covers the block, and which far VPC and far subnet hold it. The
//! procedure then runs once per class; a property test holds the result against a per-address,
//! per-route evaluation without classes.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;

use crate::cidr;
use crate::datapath::DestinationFlags;
use crate::model::Target;
use crate::verdict::Block;
use crate::vpc_path::{Lookup, Remote, lookup};

use super::context::ClusterContext;

/// What the procedure reads about a block through one route table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// The subnet has no usable route table in the snapshot.
    NoTable,
    NoRoute,
    /// A route exists but not over a private object (internet, NAT gateway, endpoint, …).
    NotPrivate,
    Private {
        target: Target,
        blackhole: bool,
        /// For a peering connection: whether the far VPC's CIDRs hold the block.
        peer_covers: Option<bool>,
        /// The snapshot VPC holding the block and the far subnet holding it.
        behind: Option<(String, Option<String>)>,
        /// The same, among the VPCs attached to the route's transit gateway.
        behind_tgw: Option<(String, Option<String>)>,
        /// The route the transit gateway's table (of the cluster VPC's attachment) picks.
        tgw_route: Option<TgwFate>,
    },
}

/// What the table associated with the cluster VPC's transit gateway attachment does with a block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TgwFate {
    Route {
        destination: Ipv4Net,
        attachments: Vec<String>,
        blackhole: bool,
    },
    Split,
    NoRoute,
    Unknown,
}

/// Everything about a block that can change a verdict.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Signature {
    excluded_from_snat: bool,
    external_service: bool,
    fates: Vec<Fate>,
    /// Which filter CIDRs (security group rules, network ACL entries) hold the block: blocks
    /// are cut at them, so this decides every CIDR rule.
    filters: Vec<usize>,
    /// The distinct security-group sets of the far ENIs in the block, with their VPC.
    far_groups: BTreeSet<(String, Vec<String>)>,
}

impl ClusterContext<'_> {
    /// Private destinations beyond the VPC (routes to `pcx-`/`tgw-`/`vgw-`/`lgw-` outside the VPC
    /// CIDRs in the route tables of `subnets`), split into uniform blocks.
    pub(crate) fn blocks(&self, subnets: &BTreeSet<String>) -> (Vec<Ipv4Net>, Vec<Block>) {
        let tables: BTreeSet<&str> = subnets
            .iter()
            .filter_map(|s| self.net.route_table_of_subnet(s))
            .map(|t| t.id.as_str())
            .collect();
        let mut routes: BTreeSet<Ipv4Net> = BTreeSet::new();
        let mut boundaries: Vec<Ipv4Net> = self.vpc_cidrs.clone();
        boundaries.extend(&self.cni().exclude_snat_cidrs);
        boundaries.extend(&self.cni().external_service_cidrs);
        boundaries.extend(&self.filter_cidrs);
        let mut gateways: BTreeSet<&str> = BTreeSet::new();
        for table in tables.iter().filter_map(|t| self.net.route_tables.get(*t)) {
            for route in &table.routes {
                boundaries.push(route.destination);
                if route.target.is_private_beyond_vpc()
                    && !cidr::covered_by_any(&self.vpc_cidrs, &route.destination)
                {
                    routes.insert(route.destination);
                    if let Target::TransitGateway(tgw) = &route.target {
                        gateways.insert(tgw);
                    }
                }
            }
        }
        // The transit gateway routes the cluster's traffic meets: a block has one of them.
        for tgw in gateways {
            let Some(table) = self.vpc.tgw_ingress_table(tgw) else {
                continue;
            };
            for r in table.routes.iter().flat_map(|rs| rs.routes.iter()) {
                if routes.iter().any(|d| cidr::overlaps(d, &r.destination)) {
                    boundaries.push(r.destination);
                }
            }
        }
        // Other VPCs of the snapshot behind these routes: split at their CIDRs and subnets so
        // each block has one remote subnet (one remote route table).
        let mut known_remote_vpcs: Vec<&[Ipv4Net]> = Vec::new();
        for vpc in self
            .net
            .vpcs
            .values()
            .filter(|v| v.id != self.cluster.vpc_id)
        {
            if vpc
                .cidrs
                .iter()
                .any(|c| routes.iter().any(|r| cidr::overlaps(c, r)))
            {
                boundaries.extend(&vpc.cidrs);
                let subnets: Vec<Ipv4Net> = self
                    .net
                    .subnets
                    .values()
                    .filter(|s| s.vpc_id == vpc.id)
                    .map(|s| s.cidr)
                    .collect();
                if !subnets.is_empty() {
                    known_remote_vpcs.push(&vpc.cidrs);
                }
                boundaries.extend(subnets);
            }
        }
        let remote_subnets: Vec<Ipv4Net> = self.net.subnets.values().map(|s| s.cidr).collect();
        let route_list: Vec<Ipv4Net> = routes.iter().copied().collect();
        let mut blocks = Vec::new();
        for route in &route_list {
            for block in cidr::split(*route, &boundaries) {
                if cidr::covered_by_any(&self.vpc_cidrs, &block) {
                    continue; // the VPC's local route wins for these addresses
                }
                // Belongs to a more specific destination route: evaluated there.
                if route_list
                    .iter()
                    .any(|r| r.prefix_len() > route.prefix_len() && cidr::contains(r, &block))
                {
                    continue;
                }
                // Inside a VPC whose subnets are known, but in none of them: no host can be there.
                if known_remote_vpcs
                    .iter()
                    .any(|cidrs| cidr::covered_by_any(cidrs, &block))
                    && !cidr::covered_by_any(&remote_subnets, &block)
                {
                    continue;
                }
                let flags = DestinationFlags {
                    excluded_from_snat: cidr::covered_by_any(
                        &self.cni().exclude_snat_cidrs,
                        &block,
                    ),
                    external_service: cidr::covered_by_any(
                        &self.cni().external_service_cidrs,
                        &block,
                    ),
                };
                blocks.push(Block {
                    block,
                    route: *route,
                    flags,
                    destination: 0,
                });
            }
        }
        (route_list, blocks)
    }

    fn holder(&self, block: Ipv4Net, tgw: Option<&str>) -> Option<(String, Option<String>)> {
        match self.vpc.vpc_behind(block, tgw) {
            Remote::Vpc(vpc) => {
                let subnet = self.vpc.remote_subnet(&vpc, block).map(|s| s.id.clone());
                Some((vpc, subnet))
            }
            Remote::OnPremises(_) | Remote::NotInSnapshot(_) => None,
        }
    }

    fn fate(&self, table: Option<&str>, block: Ipv4Net) -> Fate {
        let Some(table) = table.and_then(|t| self.net.route_tables.get(t)) else {
            return Fate::NoTable;
        };
        let Some(index) = cidr::longest_match(table.routes.iter().map(|r| &r.destination), &block)
        else {
            return Fate::NoRoute;
        };
        let route = &table.routes[index];
        if !route.target.is_private_beyond_vpc() {
            return Fate::NotPrivate;
        }
        let peer_covers = match &route.target {
            Target::Peering(id) => self
                .net
                .peerings
                .as_ref()
                .and_then(|p| p.get(id))
                .and_then(|p| p.other_side(&self.cluster.vpc_id))
                .map(|(_, cidrs)| cidr::covered_by_any(cidrs, &block)),
            _ => None,
        };
        let (behind_tgw, tgw_route) = match &route.target {
            Target::TransitGateway(tgw) => (
                self.holder(block, Some(tgw)),
                Some(self.tgw_fate(tgw, block)),
            ),
            _ => (None, None),
        };
        Fate::Private {
            target: route.target.clone(),
            blackhole: route.blackhole,
            peer_covers,
            behind: self.holder(block, None),
            behind_tgw,
            tgw_route,
        }
    }

    fn tgw_fate(&self, tgw: &str, block: Ipv4Net) -> TgwFate {
        let Some(table) = self.vpc.tgw_ingress_table(tgw) else {
            return TgwFate::Unknown;
        };
        match lookup(table, block) {
            Lookup::Route(r) => TgwFate::Route {
                destination: r.destination,
                attachments: r
                    .attachments
                    .iter()
                    .map(|a| a.attachment_id.clone())
                    .collect(),
                blackhole: r.blackhole,
            },
            Lookup::Split { .. } => TgwFate::Split,
            Lookup::NoRoute => TgwFate::NoRoute,
            Lookup::Unknown(_) => TgwFate::Unknown,
        }
    }

    /// The distinct (sorted) security-group sets of the far ENIs with an address in `block`.
    fn far_group_sets(&self, block: Ipv4Net) -> BTreeSet<(String, Vec<String>)> {
        let start = self
            .far_enis
            .partition_point(|(ip, _)| *ip < block.network());
        self.far_enis[start..]
            .iter()
            .take_while(|(ip, _)| block.contains(ip))
            .map(|(_, eni)| (eni.vpc_id.clone(), crate::verdict::sorted(&eni.groups)))
            .collect()
    }

    /// Numbers the destination classes of `blocks` (in block order) and returns, per class, the
    /// index of its first block.
    pub(crate) fn destination_classes(
        &self,
        subnets: &BTreeSet<String>,
        blocks: &mut [Block],
    ) -> Vec<usize> {
        let tables: BTreeSet<Option<&str>> = subnets
            .iter()
            .map(|s| self.net.route_table_of_subnet(s).map(|t| t.id.as_str()))
            .collect();
        let mut classes: BTreeMap<Signature, usize> = BTreeMap::new();
        let mut representatives = Vec::new();
        for (index, block) in blocks.iter_mut().enumerate() {
            let signature = Signature {
                excluded_from_snat: block.flags.excluded_from_snat,
                external_service: block.flags.external_service,
                fates: tables.iter().map(|t| self.fate(*t, block.block)).collect(),
                filters: self
                    .filter_cidrs
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| cidr::contains(c, &block.block))
                    .map(|(i, _)| i)
                    .collect(),
                far_groups: self.far_group_sets(block.block),
            };
            let next = representatives.len();
            block.destination = *classes.entry(signature).or_insert_with(|| {
                representatives.push(index);
                next
            });
        }
        representatives
    }
}
