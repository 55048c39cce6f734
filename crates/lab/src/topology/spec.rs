//! The plain description of what the lab builds for one node: its ENIs and branch ENIs as
//! interfaces, the CNI settings the host rules read, the cluster-VPC route tables, the objects
//! behind private routes and the destination blocks with their probe hosts.
//!
//! These are data only, with no kernel state and no logic beyond indexing: [`NodeSpec`] is
//! filled in once by `from_model`, then read by the host plan (`crate::host`) and the fabric
//! (`crate::fabric`). Cross-references between parts are indices into [`NodeSpec`]'s vectors
//! rather than borrows, so a spec can be cloned, printed and built by hand in tests.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use podreach_core::cni::{SgpMode, Version};

use crate::filters::FilterSpec;

/// The CNI settings the host rules depend on, with the lab's choices for unknown host facts.
#[derive(Debug, Clone)]
pub struct CniSettings {
    pub version: Version,
    pub external_snat: bool,
    pub exclude_snat_cidrs: Vec<Ipv4Net>,
    pub external_service_cidrs: Vec<Ipv4Net>,
    pub node_port_support: bool,
    pub connmark: u32,
    pub randomize_snat: String,
    pub veth_prefix: String,
    /// Effective `rp_filter` of the primary interface.
    pub rp_filter_primary: u8,
    /// Effective `rp_filter` of every other interface (secondary ENIs, VLANs, host veths).
    pub rp_filter_secondary: u8,
    /// `ENABLE_POD_ENI` (ipamd): with it the `local` rule moves to priority 20.
    pub pod_eni: bool,
    /// The enforcing mode a branch pod is set up with: the plugin's `podSGEnforcingMode`, which
    /// the entrypoint writes from `POD_SECURITY_GROUP_ENFORCING_MODE` (default strict) whatever
    /// `ENABLE_POD_ENI` says; before v1.11.0 there is only the strict set-up.
    pub sgp_mode: SgpMode,
}

/// One ENI of the node, as a Linux interface.
#[derive(Debug, Clone)]
pub struct EniSpec {
    pub id: String,
    /// Name inside the node namespace: `eth0` for the primary ENI, `eth1`, … in card/device order.
    pub ifname: String,
    /// Name of the fabric's end of the link (`n0`, `n1`, …).
    pub fabric_ifname: String,
    pub device_index: u32,
    pub network_card_index: u32,
    pub primary: bool,
    pub subnet_id: String,
    pub subnet: Ipv4Net,
    /// Subnet base + 1 (`GetIPv4Gateway`).
    pub gateway: Ipv4Addr,
    pub primary_ip: Ipv4Addr,
    /// Everything the EC2 source/destination check accepts as this ENI's: primary, secondary
    /// addresses (as /32) and delegated prefixes.
    pub owned: Vec<Ipv4Net>,
    /// Host route table `T(e)`; `None` is `main` (the primary ENI).
    pub table: Option<u32>,
    /// The pod address the lab places on this ENI, if it has pod addresses.
    pub pod_ip: Option<Ipv4Addr>,
    /// Index into [`NodeSpec::route_tables`] of the subnet's route table (`None`: not in the snapshot).
    pub route_table: Option<usize>,
    /// The ENI's security groups (ids).
    pub groups: Vec<String>,
    /// Its security groups and its subnet's network ACL, as the fabric enforces them.
    pub filters: FilterSpec,
}

/// A branch ENI (security groups for pods): a VLAN of the node's trunk ENI.
///
/// On the node the CNI creates `vlan.eth.<V>` on the trunk's interface with the branch ENI's MAC
/// (driver.go `setupVlan`/`buildVlanLink`); in the fabric the same VLAN is a sub-interface of the
/// trunk's link, and EC2 treats it as an ENI of its own: it owns the pod address, checks
/// source/destination, carries its own security groups and sits in its subnet's route table.
/// So `port` describes it like any ENI: `ifname` is `vlan.eth.<V>`, `fabric_ifname` the fabric's
/// VLAN sub-interface, `table` 100+V and `pod_ip` the branch ENI's own address.
#[derive(Debug, Clone)]
pub struct BranchSpec {
    pub port: EniSpec,
    pub vlan_id: u32,
    /// Index into [`NodeSpec::enis`] of the trunk ENI carrying the VLAN.
    pub trunk: usize,
}

/// Where a pod's address lives: an ENI of the node, or a branch ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPort {
    /// Index into [`NodeSpec::enis`].
    Eni(usize),
    /// Index into [`NodeSpec::branches`].
    Branch(usize),
}

/// What a VPC route does with a packet, in the lab's fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// The VPC's `local` route: delivered to whichever ENI/host owns the address, or dropped.
    Local,
    /// Forwarded to the object with this index in [`NodeSpec::remotes`].
    Via(usize),
    /// On a remote router: sent back towards the cluster VPC over the same object.
    Back,
    /// Dropped, with the reason the fabric's counter will show.
    Drop(String),
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub destination: Ipv4Net,
    pub action: RouteAction,
}

/// A cluster-VPC route table used by one of the node's ENIs, as seen from one Availability Zone
/// (a transit gateway forwards only from AZs where the VPC's attachment has a subnet).
#[derive(Debug, Clone)]
pub struct RtSpec {
    pub id: String,
    pub az: String,
    pub routes: Vec<RouteSpec>,
}

/// The kind of object behind a private route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    Peering,
    TransitGateway,
    VirtualPrivateGateway,
    LocalGateway,
}

/// An object behind a private route, emulated as a router namespace.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    pub id: String,
    pub kind: RemoteKind,
    /// For a peering: the peer VPC's CIDRs (no transit: only these are delivered).
    pub peer_vpc_cidrs: Option<Vec<Ipv4Net>>,
}

/// One destination block with its probe host.
#[derive(Debug, Clone)]
pub struct DestSpec {
    pub block: Ipv4Net,
    /// The route destination the block was cut from.
    pub route_destination: Ipv4Net,
    pub probe: Ipv4Addr,
    /// Index into [`NodeSpec::remotes`] of the object the host sits behind.
    pub remote: usize,
    /// The probe host's return routing (its subnet's route table), relative to `remote`.
    pub return_routes: Vec<RouteSpec>,
    /// Where `return_routes` came from.
    pub return_source: String,
    /// The far ENI the probe host stands for (its address is the probe): id, groups, subnet.
    pub far_eni: Option<(String, Vec<String>, String)>,
    /// The peer subnet holding the probe, when the snapshot has one (its network ACL applies).
    pub peer_subnet: Option<String>,
    /// Whether a security-group reference crosses to the far side (an active peering
    /// connection within one Region).
    pub references_cross: bool,
    /// The far ENI's security groups and the peer subnet's ACL, as the fabric enforces them.
    pub filters: FilterSpec,
}

/// Everything the lab builds for one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub cluster: String,
    pub instance_id: String,
    pub cni: CniSettings,
    /// `VPC_CIDRS`, the primary CIDR first.
    pub vpc_cidrs: Vec<Ipv4Net>,
    /// `n0`.
    pub node_ip: Ipv4Addr,
    pub enis: Vec<EniSpec>,
    /// Branch ENIs on the node's trunk ENI (security groups for pods).
    pub branches: Vec<BranchSpec>,
    pub route_tables: Vec<RtSpec>,
    pub remotes: Vec<RemoteSpec>,
    pub destinations: Vec<DestSpec>,
    /// Choices the lab made that the reader should know about.
    pub notes: Vec<String>,
}

impl NodeSpec {
    /// The primary ENI (always first).
    pub fn primary(&self) -> &EniSpec {
        &self.enis[0]
    }

    /// The ENI or branch ENI holding a pod's address.
    pub fn port(&self, port: PodPort) -> &EniSpec {
        match port {
            PodPort::Eni(i) => &self.enis[i],
            PodPort::Branch(i) => &self.branches[i].port,
        }
    }

    /// Every port of the node towards the fabric: its ENIs, then its branch ENIs.
    pub fn ports(&self) -> impl Iterator<Item = &EniSpec> {
        self.enis
            .iter()
            .chain(self.branches.iter().map(|b| &b.port))
    }
}
