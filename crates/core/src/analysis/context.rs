//! The immutable facts of one cluster that every stage of the procedure reads: its ENIs by id,
//! its CNI configuration (and the alternatives of each setting the snapshot does not show), the
//! host datapath and VPC views built from them, the far VPCs' ENIs, and the CIDRs the filters
//! name. Built once per cluster ([`ClusterContext::new`]), never changed afterwards; the stages
//! (`scope`, `destinations`, `procedure`, `filtering`) each add their own methods in their own
//! file, and all of them import this one and none of the others.

use std::collections::BTreeSet;

use crate::FastMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::cni::{CniConfig, UnknownSetting};
use crate::datapath::HostDatapath;
use crate::filters::PortSet;
use crate::model::{Cluster, Eni, Model, Network, SgPeer};
use crate::vpc_path::VpcView;

/// Everything the procedure needs about one cluster.
#[derive(Debug)]
pub(crate) struct ClusterContext<'a> {
    pub cluster: &'a Cluster,
    /// The configuration evaluated: the cluster's, or an alternative of it.
    pub(super) cni: &'a CniConfig,
    /// The same cluster under the other extreme of each setting whose value the snapshot does not
    /// show (`valueFrom`): every verdict is evaluated both ways (docs/datapath.md §10.7).
    pub(super) alternatives: Vec<(&'a UnknownSetting, ClusterContext<'a>)>,
    pub net: &'a Network,
    /// ENIs by id, hashed: a 5,000-node cluster looks up 15,000 of them.
    pub enis: FastMap<&'a str, &'a Eni>,
    pub host: HostDatapath<'a>,
    pub vpc: VpcView<'a>,
    pub vpc_cidrs: Vec<Ipv4Net>,
    /// The TCP ports asked for (`--port`); `None`: any.
    pub ports: Option<PortSet>,
    /// Every address of the far VPCs' ENIs, sorted, and the VPCs whose ENIs the snapshot holds.
    pub far_enis: Vec<(Ipv4Addr, &'a Eni)>,
    pub vpcs_with_enis: BTreeSet<&'a str>,
    /// Every IPv4 CIDR a security group rule or network ACL entry names: blocks and source
    /// parts are cut at them, so each rule holds a whole block or none of it.
    pub filter_cidrs: Vec<Ipv4Net>,
}

impl<'a> ClusterContext<'a> {
    pub(crate) fn new(model: &'a Model, cluster: &'a Cluster, tcp_ports: &[u16]) -> Self {
        let ports = (!tcp_ports.is_empty()).then(|| PortSet::from_ports(tcp_ports));
        let mut ctx = Self::with_cni(model, cluster, &cluster.cni, ports.clone());
        ctx.alternatives = cluster
            .cni
            .unknown
            .iter()
            .filter_map(|setting| {
                let cni = setting.alternative.as_deref()?;
                Some((setting, Self::with_cni(model, cluster, cni, ports.clone())))
            })
            .collect();
        ctx
    }

    fn with_cni(
        model: &'a Model,
        cluster: &'a Cluster,
        cni: &'a CniConfig,
        ports: Option<PortSet>,
    ) -> Self {
        let vpc_cidrs = model
            .network
            .vpcs
            .get(&cluster.vpc_id)
            .map(|v| v.cidrs.clone())
            .unwrap_or_default();
        let (far_enis, vpcs_with_enis) = far_enis(model.network.enis.values(), &cluster.vpc_id);
        ClusterContext {
            ports,
            far_enis,
            vpcs_with_enis,
            filter_cidrs: filter_cidrs(&model.network),
            cluster,
            cni,
            alternatives: Vec::new(),
            net: &model.network,
            enis: model
                .network
                .enis
                .iter()
                .map(|(id, eni)| (id.as_str(), eni))
                .collect(),
            host: HostDatapath::new(cni),
            vpc: VpcView::new(&model.network, &cluster.vpc_id),
            vpc_cidrs,
        }
    }

    pub(crate) fn cni(&self) -> &'a CniConfig {
        self.cni
    }
}

/// Every IPv4 CIDR the snapshot's security group rules and network ACL entries name, sorted,
/// without duplicates and without 0.0.0.0/0 (which holds every block whole).
fn filter_cidrs(net: &Network) -> Vec<Ipv4Net> {
    let mut out: BTreeSet<Ipv4Net> = BTreeSet::new();
    for group in net.security_groups.iter().flat_map(|g| g.values()) {
        for rule in group.inbound.iter().chain(&group.outbound) {
            match &rule.peer {
                SgPeer::Cidr(c) => {
                    out.insert(*c);
                }
                SgPeer::PrefixList(id) => {
                    out.extend(net.prefix_lists.get(id).into_iter().flatten().copied());
                }
                SgPeer::Group { .. } => {}
            }
        }
    }
    for acl in net.network_acls.iter().flat_map(|a| a.values()) {
        out.extend(acl.inbound.iter().chain(&acl.outbound).map(|e| e.cidr));
    }
    out.retain(|c| c.prefix_len() > 0);
    out.into_iter().collect()
}

/// Every address of the far VPCs' ENIs, sorted: the far side's destinations.
fn far_enis<'a>(
    enis: impl Iterator<Item = &'a Eni>,
    cluster_vpc: &str,
) -> (Vec<(Ipv4Addr, &'a Eni)>, BTreeSet<&'a str>) {
    let mut out = Vec::new();
    let mut vpcs = BTreeSet::new();
    for eni in enis.filter(|e| e.vpc_id != cluster_vpc) {
        vpcs.insert(eni.vpc_id.as_str());
        out.push((eni.primary_ip, eni));
        out.extend(eni.secondary_ips.iter().map(|ip| (*ip, eni)));
    }
    out.sort_by_key(|(ip, _)| *ip);
    (out, vpcs)
}
