//! The emulated AWS side: the cluster VPC's router, one router per object behind a private route
//! (peering, transit gateway, virtual private gateway), and one probe host per destination block.
//!
//! AWS is not a Linux box, so this module states its rules (docs/datapath.md §4) as kernel state that
//! behaves the same for the packets the lab sends:
//!
//! * **Route table of the egress subnet.** Each ENI link enters the VPC namespace on its own
//!   interface, and a policy rule `iif <link> lookup <table of that subnet's route table>` applies
//!   the subnet's routes, longest prefix first, like the VPC router.
//! * **Delivery to the owner.** A table consulted first holds a route for every address an ENI
//!   owns (primary, secondary, delegated prefix) towards that ENI's link, so inbound traffic is
//!   delivered to the ENI owning the destination and to no other.
//! * **Source/destination check.** A packet entering from an ENI link whose source the ENI does
//!   not own is dropped by a counted `iptables` rule naming the ENI.
//! * **Peering.** A peering router delivers only destinations inside the peer VPC's CIDRs (no
//!   transit, counted drop), and the probe host's return traffic follows its own subnet's route
//!   table: only routes targeting the same peering lead back. Inactive peerings and blackhole
//!   routes are counted drops.
//! * **Branch ENIs** (security groups for pods) reach the VPC as 802.1Q-tagged frames on their
//!   trunk ENI's link, and EC2 treats each as an ENI of its own. Here each is a port of its own
//!   (its own veth from the node's `vlan.eth.<V>`, see [`links`]) with the branch ENI's address,
//!   source/destination check, groups and subnet route table; the trunk keeps its own port.
//! * **No ARP towards instances.** The VPC knows each ENI's MAC; the fabric holds static
//!   neighbour entries for the ENIs' primary addresses instead of ARPing (an ARP request from the
//!   gateway would be judged by the node's `rp_filter`, which AWS traffic never is).
//! * Every drop goes to a `sink` interface where a counted `DROP` rule with a comment names the
//!   reason, so the lab can say where a packet died. Rules without a target only count, to show
//!   the path a packet took.
//!
//! * **Security groups and network ACLs** of each ENI and probe host are built by
//!   [`crate::filters`] on the same links (nothing is filtered when the snapshot holds neither).

use std::net::Ipv4Addr;

use crate::filters;
use crate::netns::{LinkPair, Names, NsConfig};
use crate::topology::{EniSpec, NodeSpec, RemoteKind, RouteAction, RouteSpec};

/// The address the probe hosts use as their gateway (held by each router's host-facing link).
pub const HOST_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 252, 1);

/// Both ends of transit link `i` (VPC router ↔ remote router `i`): 169.254.250.4i+1/30 and +2.
pub fn transit_addresses(i: usize) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(169, 254, 250, 0)) + 4 * u32::try_from(i).unwrap_or(0);
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// MAC address of the node's interface for ENI number `i` (fixed, so the fabric can hold a
/// static neighbour entry for it).
pub fn eni_mac(i: usize) -> String {
    format!("02:00:00:01:{i:02x}:01")
}

/// MAC address of branch ENI number `k`: the node's `vlan.eth.<V>` carries it (the CNI gives the
/// VLAN link the branch ENI's MAC), so the fabric can hold a static neighbour entry for it.
pub fn branch_mac(k: usize) -> String {
    format!("02:00:00:02:{k:02x}:01")
}

/// Every port of the node towards the fabric with the node-side MAC the fabric expects there.
fn ports(spec: &NodeSpec) -> Vec<(&EniSpec, String)> {
    let enis = spec.enis.iter().enumerate().map(|(i, e)| (e, eni_mac(i)));
    let branches = (spec.branches.iter().enumerate()).map(|(k, b)| (&b.port, branch_mac(k)));
    enis.chain(branches).collect()
}

/// Veth links between all namespaces, node and pods included.
///
/// A branch ENI's `vlan.eth.<V>` is one end of a veth pair whose other end is the branch ENI's
/// port in the fabric, not an 802.1Q sub-interface of the trunk's link: the kernel the lab is
/// built and tested on (a Firecracker guest) has no `CONFIG_VLAN_8021Q`. Nothing the CNI installs reads the VLAN's tag or
/// parent: its rules match the interface by name (`iif vlan.eth.<V>`, `-o vlan+`, `-i vlan+`)
/// and route by its own table, and the VPC demultiplexes the tag into the branch ENI, which is
/// what the separate port stands for. The trunk ENI keeps its own interface and port.
pub fn links(spec: &NodeSpec, names: &Names, pods: &[crate::host::PodPlan]) -> Vec<LinkPair> {
    let mut links = Vec::new();
    for (i, eni) in spec.enis.iter().enumerate() {
        links.push(LinkPair {
            a_ns: names.node.clone(),
            a_name: eni.ifname.clone(),
            a_mac: Some(eni_mac(i)),
            b_ns: names.vpc.clone(),
            b_name: eni.fabric_ifname.clone(),
            b_mac: Some(format!("02:00:00:01:{i:02x}:02")),
        });
    }
    for (k, branch) in spec.branches.iter().enumerate() {
        links.push(LinkPair {
            a_ns: names.node.clone(),
            a_name: branch.port.ifname.clone(),
            a_mac: Some(branch_mac(k)),
            b_ns: names.vpc.clone(),
            b_name: branch.port.fabric_ifname.clone(),
            b_mac: Some(format!("02:00:00:02:{k:02x}:02")),
        });
    }
    for (pod, ns) in pods.iter().zip(&names.pods) {
        links.push(LinkPair {
            a_ns: names.node.clone(),
            a_name: pod.host_veth.clone(),
            a_mac: Some(pod.host_mac.clone()),
            b_ns: ns.clone(),
            b_name: "eth0".to_owned(),
            b_mac: Some(pod.pod_mac.clone()),
        });
    }
    for (i, ns) in names.remotes.iter().enumerate() {
        links.push(LinkPair {
            a_ns: names.vpc.clone(),
            a_name: format!("x{i}"),
            a_mac: None,
            b_ns: ns.clone(),
            b_name: "c0".to_owned(),
            b_mac: None,
        });
    }
    for ns in std::iter::once(&names.vpc).chain(&names.remotes) {
        links.push(LinkPair {
            a_ns: ns.clone(),
            a_name: "sink".to_owned(),
            a_mac: None,
            b_ns: ns.clone(),
            b_name: "sinkpeer".to_owned(),
            b_mac: None,
        });
    }
    for (j, (dest, ns)) in spec.destinations.iter().zip(&names.hosts).enumerate() {
        links.push(LinkPair {
            a_ns: names.remotes[dest.remote].clone(),
            a_name: format!("h{j}"),
            a_mac: None,
            b_ns: ns.clone(),
            b_name: "eth0".to_owned(),
            b_mac: None,
        });
    }
    links
}

fn forwarding_sysctls(ifnames: &[String]) -> Vec<(String, String)> {
    let mut s = vec![
        ("net/ipv4/ip_forward".to_owned(), "1".to_owned()),
        ("net/ipv4/conf/all/rp_filter".to_owned(), "0".to_owned()),
        ("net/ipv4/conf/default/rp_filter".to_owned(), "0".to_owned()),
    ];
    for name in ifnames {
        s.push((format!("net/ipv4/conf/{name}/rp_filter"), "0".to_owned()));
    }
    s
}

/// Quotes a comment for `iptables-restore` (no double quotes inside, ≤ 255 bytes).
fn comment(text: &str) -> String {
    let mut t: String = text.replace('"', "'");
    t.truncate(250);
    format!("-m comment --comment \"{t}\"")
}

fn describe_remote(kind: RemoteKind) -> &'static str {
    match kind {
        RemoteKind::Peering => "peering",
        RemoteKind::TransitGateway => "transit gateway",
        RemoteKind::VirtualPrivateGateway => "virtual private gateway",
        RemoteKind::LocalGateway => "local gateway",
    }
}

fn filter_table(chains: &[String], rules: &[String]) -> String {
    let mut out =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for c in chains {
        out.push_str(&format!(":{c} - [0:0]\n"));
    }
    for r in rules {
        out.push_str(r);
        out.push('\n');
    }
    out.push_str("COMMIT\n");
    out
}

/// Routes of one route table into kernel table `table`, plus the counted drop rules for `iifs`.
fn table_routes(
    routes: &[RouteSpec],
    table: u32,
    via: impl Fn(&RouteAction) -> Option<(Ipv4Addr, String)>,
    (local_reason, no_route_reason): (&str, &str),
    iifs: &[String],
    ip: &mut Vec<String>,
    drops: &mut Vec<(u8, String)>,
) {
    let mut has_default = false;
    for route in routes {
        has_default |= route.destination.prefix_len() == 0;
        let reason = match (&route.action, via(&route.action)) {
            (_, Some((gw, dev))) => {
                ip.push(format!(
                    "route add {} via {gw} dev {dev} onlink table {table}",
                    route.destination
                ));
                continue;
            }
            (RouteAction::Drop(reason), None) => reason.clone(),
            (RouteAction::Local, None) => format!("{local_reason} ({} local)", route.destination),
            (_, None) => format!("{} leads nowhere in the lab", route.destination),
        };
        ip.push(format!(
            "route add {} dev sink table {table}",
            route.destination
        ));
        for iif in iifs {
            drops.push((
                route.destination.prefix_len(),
                format!(
                    "-A FORWARD -i {iif} -o sink -d {} {} -j DROP",
                    route.destination,
                    comment(&reason)
                ),
            ));
        }
    }
    if !has_default {
        ip.push(format!("route add default dev sink table {table}"));
    }
    for iif in iifs {
        drops.push((
            0,
            format!(
                "-A FORWARD -i {iif} -o sink {} -j DROP",
                comment(no_route_reason)
            ),
        ));
    }
}

/// Configuration of the VPC router, the remote routers and the probe hosts.
pub fn plan(spec: &NodeSpec, names: &Names) -> Vec<NsConfig> {
    let mut configs = Vec::new();

    // ---- The cluster VPC's router ---------------------------------------------------------
    let mut ip = vec![
        "link set lo up".to_owned(),
        "link set sink up".to_owned(),
        "link set sinkpeer up".to_owned(),
    ];
    let mut ifnames = vec!["sink".to_owned(), "sinkpeer".to_owned()];
    let mut chains = Vec::new();
    let mut rules = Vec::new();
    let mut drops: Vec<(u8, String)> = Vec::new();
    let mut counts = Vec::new();
    // Delivery to the ENI owning the destination (table 100, consulted first). A branch ENI is
    // a port like any other: its VLAN sub-interface of the trunk's link.
    for (position, (eni, mac)) in ports(spec).into_iter().enumerate() {
        let link = &eni.fabric_ifname;
        ifnames.push(link.clone());
        ip.push(format!("link set {link} up"));
        ip.push(format!("addr add {}/32 dev {link}", eni.gateway));
        // The VPC knows every ENI's MAC and never ARPs for an instance address; a static entry
        // keeps the node's rp_filter from judging fabric ARP requests that AWS never sends.
        ip.push(format!(
            "neigh add {} lladdr {mac} dev {link} nud permanent",
            eni.primary_ip
        ));
        for owned in &eni.owned {
            if owned.prefix_len() == 32 && owned.network() == eni.primary_ip {
                ip.push(format!("route add {owned} dev {link} table 100"));
            } else {
                ip.push(format!(
                    "route add {owned} via {} dev {link} onlink table 100",
                    eni.primary_ip
                ));
            }
        }
        // EC2 source/destination check on what leaves the ENI.
        let chain = format!("SRCDST-{link}");
        rules.push(format!("-A FORWARD -i {link} -j {chain}"));
        for owned in &eni.owned {
            rules.push(format!(
                "-A {chain} -s {owned} {} -j RETURN",
                comment(&format!(
                    "left {} ({}) with source {owned}, which it owns",
                    eni.ifname, eni.id
                ))
            ));
        }
        rules.push(format!(
            "-A {chain} {} -j DROP",
            comment(&format!(
                "SRCDST_EGRESS: left {} ({}) with a source it does not own",
                eni.ifname, eni.id
            ))
        ));
        chains.push(chain);
        // Its security groups and its subnet's network ACL (crate::filters).
        let (filter_chains, filter_rules) = filters::iptables(
            link,
            u32::try_from(position + 1).unwrap_or(255),
            &format!("{} ({})", eni.ifname, eni.id),
            &eni.filters,
        );
        chains.extend(filter_chains);
        rules.extend(filter_rules);
        counts.push(format!(
            "-A FORWARD -o {link} {}",
            comment(&format!("delivered to {} ({})", eni.ifname, eni.id))
        ));
    }
    ip.push("rule add lookup 100 prio 100".to_owned());
    for (i, remote) in spec.remotes.iter().enumerate() {
        let (ours, _) = transit_addresses(i);
        ip.push(format!("link set x{i} up"));
        ip.push(format!("addr add {ours}/30 dev x{i}"));
        ifnames.push(format!("x{i}"));
        for eni in spec.ports() {
            counts.push(format!(
                "-A FORWARD -i {} -o x{i} {}",
                eni.fabric_ifname,
                comment(&format!(
                    "left {} ({}) towards {}",
                    eni.ifname, eni.id, remote.id
                ))
            ));
        }
        drops.push((
            0,
            format!(
                "-A FORWARD -i x{i} -o sink {} -j DROP",
                comment(&format!(
                    "arrived over {}: no ENI of this node owns the destination (no transit)",
                    remote.id
                ))
            ),
        ));
    }
    // The route table of each ENI's subnet, selected by incoming link (tables 200+).
    for (r, table) in spec.route_tables.iter().enumerate() {
        let kernel_table = 200 + u32::try_from(r).unwrap_or(0);
        let iifs: Vec<String> = spec
            .ports()
            .filter(|e| e.route_table == Some(r))
            .map(|e| e.fabric_ifname.clone())
            .collect();
        table_routes(
            &table.routes,
            kernel_table,
            |action| match action {
                RouteAction::Via(i) => Some((transit_addresses(*i).1, format!("x{i}"))),
                _ => None,
            },
            (
                &format!(
                    "{}: VPC-local address that no ENI of this node owns",
                    table.id
                ),
                &format!("NO_ROUTE: {} has no route for the destination", table.id),
            ),
            &iifs,
            &mut ip,
            &mut drops,
        );
        for iif in iifs {
            ip.push(format!("rule add iif {iif} lookup {kernel_table} prio 200"));
        }
    }
    // Everything else (ENIs whose subnet has no route table, transit attempts): dropped.
    ip.push("route add default dev sink table 99".to_owned());
    ip.push("rule add lookup 99 prio 300".to_owned());
    drops.push((
        0,
        format!(
            "-A FORWARD -o sink {} -j DROP",
            comment("dropped: no route in the VPC for the destination")
        ),
    ));
    drops.sort_by_key(|d| std::cmp::Reverse(d.0));
    rules.extend(drops.into_iter().map(|(_, r)| r));
    rules.extend(counts);
    configs.push(NsConfig {
        ns: names.vpc.clone(),
        sysctls: forwarding_sysctls(&ifnames),
        ip,
        iptables: filter_table(&chains, &rules),
    });

    // ---- Remote routers ---------------------------------------------------------------------
    for (i, remote) in spec.remotes.iter().enumerate() {
        let (vpc_side, ours) = transit_addresses(i);
        let mut ip = vec![
            "link set lo up".to_owned(),
            "link set sink up".to_owned(),
            "link set sinkpeer up".to_owned(),
            "link set c0 up".to_owned(),
            format!("addr add {ours}/30 dev c0"),
            "rule add lookup 100 prio 100".to_owned(),
        ];
        let mut ifnames = vec!["sink".to_owned(), "sinkpeer".to_owned(), "c0".to_owned()];
        let mut chains = Vec::new();
        let mut rules = Vec::new();
        let mut drops: Vec<(u8, String)> = Vec::new();
        let mut counts = Vec::new();
        if let (RemoteKind::Peering, Some(cidrs)) = (remote.kind, &remote.peer_vpc_cidrs) {
            // No transitive peering, no edge-to-edge routing: only the peer VPC's own CIDRs.
            chains.push("PCX-IN".to_owned());
            rules.push("-A FORWARD -i c0 -j PCX-IN".to_owned());
            for cidr in cidrs {
                rules.push(format!("-A PCX-IN -d {cidr} -j RETURN"));
            }
            rules.push(format!(
                "-A PCX-IN {} -j DROP",
                comment(&format!(
                    "PCX_NOT_DIRECT: destination outside the CIDRs of the VPC peered by {}",
                    remote.id
                ))
            ));
        }
        for (j, dest) in spec
            .destinations
            .iter()
            .enumerate()
            .filter(|(_, d)| d.remote == i)
        {
            let link = format!("h{j}");
            ifnames.push(link.clone());
            // The far ENI's security groups and its subnet's network ACL.
            let (filter_chains, filter_rules) = filters::iptables(
                &link,
                u32::try_from(j % 255 + 1).unwrap_or(1),
                &format!(
                    "probe host {}{}",
                    dest.probe,
                    dest.far_eni
                        .as_ref()
                        .map_or_else(String::new, |(id, _, _)| format!(" for {id}"))
                ),
                &dest.filters,
            );
            chains.extend(filter_chains);
            rules.extend(filter_rules);
            ip.push(format!("link set {link} up"));
            ip.push(format!("addr add {HOST_GATEWAY}/32 dev {link}"));
            ip.push(format!("route add {}/32 dev {link} table 100", dest.probe));
            let kernel_table = 200 + u32::try_from(j).unwrap_or(0);
            table_routes(
                &dest.return_routes,
                kernel_table,
                |action| matches!(action, RouteAction::Back).then(|| (vpc_side, "c0".to_owned())),
                (
                    &format!(
                        "{}: peer-VPC-local address without a host",
                        dest.return_source
                    ),
                    &format!(
                        "PEER_NO_ROUTE: {} has no route back over {} for the cluster-side address",
                        dest.return_source, remote.id
                    ),
                ),
                std::slice::from_ref(&link),
                &mut ip,
                &mut drops,
            );
            ip.push(format!(
                "rule add iif {link} lookup {kernel_table} prio 200"
            ));
            counts.push(format!(
                "-A FORWARD -i c0 -o {link} {}",
                comment(&format!(
                    "{} {} delivered to probe host {}",
                    describe_remote(remote.kind),
                    remote.id,
                    dest.probe
                ))
            ));
            counts.push(format!(
                "-A FORWARD -i {link} -o c0 {}",
                comment(&format!(
                    "probe host {} sent towards the cluster over {} ({})",
                    dest.probe, remote.id, dest.return_source
                ))
            ));
        }
        ip.push("route add default dev sink table 99".to_owned());
        ip.push("rule add lookup 99 prio 300".to_owned());
        drops.push((
            0,
            format!(
                "-A FORWARD -o sink {} -j DROP",
                comment(&format!(
                    "{}: no host behind it owns the destination",
                    remote.id
                ))
            ),
        ));
        drops.sort_by_key(|d| std::cmp::Reverse(d.0));
        rules.extend(drops.into_iter().map(|(_, r)| r));
        rules.extend(counts);
        configs.push(NsConfig {
            ns: names.remotes[i].clone(),
            sysctls: forwarding_sysctls(&ifnames),
            ip,
            iptables: filter_table(&chains, &rules),
        });
    }

    // ---- Probe hosts ------------------------------------------------------------------------
    for (dest, ns) in spec.destinations.iter().zip(&names.hosts) {
        configs.push(NsConfig {
            ns: ns.clone(),
            sysctls: forwarding_sysctls(&["eth0".to_owned()]),
            ip: vec![
                "link set lo up".to_owned(),
                "link set eth0 up".to_owned(),
                format!("addr add {}/32 dev eth0", dest.probe),
                format!("route add default via {HOST_GATEWAY} dev eth0 onlink"),
            ],
            iptables: String::new(),
        });
    }
    configs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transit_links_get_disjoint_point_to_point_addresses() {
        assert_eq!(
            transit_addresses(0),
            (
                Ipv4Addr::new(169, 254, 250, 1),
                Ipv4Addr::new(169, 254, 250, 2)
            )
        );
        assert_eq!(
            transit_addresses(2),
            (
                Ipv4Addr::new(169, 254, 250, 9),
                Ipv4Addr::new(169, 254, 250, 10)
            )
        );
    }

    #[test]
    fn comments_cannot_break_out_of_their_quotes() {
        assert_eq!(comment("a \"b\""), "-m comment --comment \"a 'b'\"");
    }
}
