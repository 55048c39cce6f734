//! Topologies beyond the quick-lookup table: custom networking, prefix delegation, multiple
//! network cards, security groups for pods, partial SNAT exclusions, broken AWS paths, unknown
//! inputs and latent risk (docs/datapath.md §3, §4, §5).

mod support;

use podreach_core::Overrides;
use podreach_core::datapath::HostTable;
use podreach_core::report::{Cause, FindingKind, Severity, Verdict};
use serde_json::{Value, json};
use support::*;

// ---- Custom networking ---------------------------------------------------------------------------

fn peer_routes_pod_cidr(snapshot: &mut Snapshot) {
    snapshot
        .routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
        .push(peering_route(POD_VPC_CIDR, PEERING));
}

#[test]
fn custom_networking_puts_pods_only_on_the_secondary_eni() {
    let report = custom_networking("v1.19.0", &[], true).audit();

    assert!(
        paths_of(&report, PRIMARY_ENI, EGRESS).is_empty(),
        "the primary ENI carries no pod address"
    );
    let path = check(&report, SECONDARY_ENI, EGRESS).role("secondary").path;
    assert_eq!(path.subnet_id, POD_SUBNET);
    assert_eq!(path.pods.len(), 4, "{:?}", path.pods);
}

#[test]
fn custom_networking_snated_egress_leaves_the_node_subnet() {
    // The pod subnet's route table has no peering route: only the node subnet's can carry it.
    let report = custom_networking("v1.19.0", &[], false).audit();

    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI)
        .host_table(HostTable::Main);
}

#[test]
fn custom_networking_peer_to_pod_needs_the_peer_to_route_the_pod_subnet() {
    let snapshot = custom_networking("v1.19.0", &[], true);
    let report = snapshot.audit();

    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);
    check(&report, SECONDARY_ENI, INGRESS).unreachable(Cause::PeerNoRoute);
    let finding = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PeerNoRoute,
        INGRESS,
    );
    let command = commands(finding)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 create-route "))
        .expect("a create-route fix");
    assert_eq!(
        flag_value(command, "--route-table-id"),
        Some(PEER_ROUTE_TABLE),
        "{command}"
    );
    assert_eq!(
        flag_value(command, "--vpc-peering-connection-id"),
        Some(PEERING),
        "{command}"
    );
    let block: ipnet::Ipv4Net = flag_value(command, "--destination-cidr-block")
        .expect("a destination")
        .parse()
        .expect("a CIDR");
    assert!(
        POD_ENI_IPS.iter().all(|p| block.contains(&ip(p))),
        "{command} must cover the pod addresses"
    );

    let mut fixed = snapshot;
    peer_routes_pod_cidr(&mut fixed);
    let report = fixed.audit();
    check(&report, SECONDARY_ENI, INGRESS)
        .reachable()
        .leaves_by(SECONDARY_ENI);
}

#[test]
fn custom_networking_with_external_snat_needs_the_peering_route_in_the_pod_subnet() {
    let mut snapshot = custom_networking(
        "v1.19.0",
        &[("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")],
        false,
    );
    peer_routes_pod_cidr(&mut snapshot);
    let report = snapshot.audit();

    check(&report, SECONDARY_ENI, EGRESS)
        .unreachable(Cause::NoRoute)
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI);
    check(&report, SECONDARY_ENI, INGRESS)
        .unreachable(Cause::NoRoute)
        .leaves_by(SECONDARY_ENI);
    let finding = finding(&report, FindingKind::Unreachable, Cause::NoRoute, EGRESS);
    let command = commands(finding)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 create-route "))
        .expect("a create-route fix");
    assert_eq!(
        flag_value(command, "--route-table-id"),
        Some(POD_ROUTE_TABLE),
        "{command}"
    );
    assert_eq!(
        flag_value(command, "--vpc-peering-connection-id"),
        Some(PEERING),
        "{command}"
    );

    // The same AWS setup with SNAT: traffic leaves the node subnet, which routes the peer.
    let mut snated = custom_networking("v1.19.0", &[], false);
    peer_routes_pod_cidr(&mut snated);
    check(&snated.audit(), SECONDARY_ENI, EGRESS)
        .reachable()
        .leaves_by(PRIMARY_ENI);
}

#[test]
fn external_snat_with_a_secondary_eni_in_another_subnet_without_the_route_fails_only_secondary_eni_pods()
 {
    // Subnet discovery (v1.18+) placed the secondary ENI in a subnet whose table lacks the route.
    let mut snapshot = with_pod_subnet(
        shop().cni("v1.19.0", &[("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")]),
        false,
    );
    peer_routes_pod_cidr(&mut snapshot);
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip");
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, EGRESS)
        .unreachable(Cause::NoRoute)
        .leaves_by(SECONDARY_ENI);
    check(&report, SECONDARY_ENI, INGRESS).unreachable(Cause::NoRoute);
    for finding in report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Unreachable)
    {
        assert_eq!(
            finding.affected.enis,
            vec![SECONDARY_ENI.to_owned()],
            "{}",
            finding.title
        );
    }
}

// ---- Prefix delegation --------------------------------------------------------------------------

const PREFIX: &str = "10.0.1.32/28";

/// The secondary ENI holds a delegated /28 and no secondary IPs; its pods move into the prefix.
fn with_prefix_on_secondary_eni(mut snapshot: Snapshot) -> Snapshot {
    let eni = snapshot.eni_mut(SECONDARY_ENI);
    eni["PrivateIpAddresses"] = json!([private_ip("10.0.1.20", true)]);
    eni["Ipv4Prefixes"] = json!([{ "Ipv4Prefix": PREFIX }]);
    snapshot.move_pod("10.0.1.21", "10.0.1.33");
    snapshot.move_pod("10.0.1.22", "10.0.1.34");
    snapshot
}

#[test]
fn prefix_delegation_fills_pod_prefixes() {
    let env = [("ENABLE_PREFIX_DELEGATION", "true")];
    let report = with_prefix_on_secondary_eni(shop().cni("v1.19.0", &env)).audit();

    let path = check(&report, SECONDARY_ENI, EGRESS).path;
    assert_eq!(path.pod_prefixes, vec![PREFIX.to_owned()]);
    assert!(path.pod_ips.is_empty(), "{:?}", path.pod_ips);
    assert_eq!(
        path.pods.len(),
        2,
        "pods inside the prefix are named: {:?}",
        path.pods
    );
}

#[test]
fn prefix_delegation_gives_the_same_verdicts_as_secondary_ips() {
    let configurations: [(&str, &[(&str, &str)]); 4] = [
        ("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]),
        ("v1.19.0", &[]),
        ("v1.19.0", &[("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")]),
        ("v1.19.0", &[("AWS_EXTERNAL_SERVICE_CIDRS", "10.1.0.0/16")]),
    ];
    for (version, env) in configurations {
        let mut env = env.to_vec();
        env.push(("ENABLE_PREFIX_DELEGATION", "true"));
        let with_ips = shop().cni(version, &env).audit();
        let with_prefix = with_prefix_on_secondary_eni(shop().cni(version, &env)).audit();
        for direction in [EGRESS, INGRESS] {
            let a = check(&with_ips, SECONDARY_ENI, direction).path;
            let b = check(&with_prefix, SECONDARY_ENI, direction).path;
            assert_eq!(
                (a.verdict, a.cause, &a.source_ip_at_peer, &a.egress_eni),
                (b.verdict, b.cause, &b.source_ip_at_peer, &b.egress_eni),
                "{version} {env:?} {}",
                direction.as_str()
            );
        }
    }
    // And the one that fails does fail: #2025 hits prefix pods like any secondary-ENI pod.
    let env = [
        ("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false"),
        ("ENABLE_PREFIX_DELEGATION", "true"),
    ];
    let report = with_prefix_on_secondary_eni(shop().cni("v1.11.4", &env)).audit();
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
}

// ---- Multiple network cards -----------------------------------------------------------------------

const CARD1_ENI: &str = "eni-0a03f1e2d3c4b5a63";

fn with_eni_on_card_1(mut snapshot: Snapshot) -> Snapshot {
    let eni = node_eni(
        CARD1_ENI,
        NODE_SUBNET,
        2,
        1,
        &["10.0.1.30", "10.0.1.31", "10.0.1.32"],
    );
    snapshot.push(ENIS_FILE, "NetworkInterfaces", eni);
    snapshot
}

#[test]
fn an_eni_on_network_card_1_uses_table_10000_plus_device_plus_100_per_card_with_multi_nic() {
    let report = with_eni_on_card_1(shop().cni("v1.20.3", &[("ENABLE_MULTI_NIC", "true")])).audit();

    // Off-VPC traffic is still SNATed out of card 0's eth0; inbound is symmetric through its table.
    check(&report, CARD1_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, CARD1_ENI, INGRESS)
        .reachable()
        .leaves_by(CARD1_ENI)
        .host_table(HostTable::Eni(Some(10_000 + 2 + 100)));
    assert!(
        !report
            .gaps
            .iter()
            .any(|g| g.object.as_deref() == Some(CARD1_ENI)),
        "{:#?}",
        report.gaps
    );
}

#[test]
fn an_eni_on_network_card_1_without_multi_nic_is_a_gap_not_a_pod_eni() {
    let report = with_eni_on_card_1(shop().cni("v1.20.3", &[])).audit();

    let gap = report
        .gaps
        .iter()
        .find(|g| g.object.as_deref() == Some(CARD1_ENI))
        .expect("a gap for the card-1 ENI");
    assert_eq!(gap.file.as_deref(), Some(ENIS_FILE));
    assert_eq!(gap.cluster.as_deref(), Some(CLUSTER));
    assert!(gap.message.contains("ENABLE_MULTI_NIC"), "{}", gap.message);
    assert!(paths_of(&report, CARD1_ENI, EGRESS).is_empty());
    check(&report, SECONDARY_ENI, EGRESS).reachable();
}

// ---- Security groups for pods -----------------------------------------------------------------

#[test]
fn strict_security_groups_for_pods_traffic_leaves_the_branch_eni_with_the_pod_address() {
    let report = with_branch_eni(shop().cni("v1.18.3", &[("ENABLE_POD_ENI", "true")])).audit();

    check(&report, BRANCH_ENI, EGRESS)
        .role("branch")
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(BRANCH_ENI)
        .host_table(HostTable::Vlan(Some(101)));
    check(&report, BRANCH_ENI, INGRESS)
        .reachable()
        .leaves_by(BRANCH_ENI);
    assert!(
        paths_of(&report, TRUNK_ENI, EGRESS).is_empty(),
        "the trunk ENI holds no pod addresses"
    );
    let path = check(&report, BRANCH_ENI, EGRESS).path;
    assert_eq!(
        path.pods,
        vec!["payments/ledger-5f7d8c9b6-k2x4q".to_owned()]
    );
}

#[test]
fn standard_security_groups_for_pods_traffic_is_snated_to_the_node_ip_via_the_primary_eni() {
    let env = [
        ("ENABLE_POD_ENI", "true"),
        ("POD_SECURITY_GROUP_ENFORCING_MODE", "standard"),
    ];
    let report = with_branch_eni(shop().cni("v1.18.3", &env)).audit();

    check(&report, BRANCH_ENI, EGRESS)
        .role("branch")
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, BRANCH_ENI, INGRESS)
        .reachable()
        .leaves_by(BRANCH_ENI);
}

/// The case the CNI's own tests pin (v1.11.0 driver_test.go:723 "traffic enforced with standard
/// mode", rules :780-787; network_test.go:147 no rule 1024 without node port support before
/// v1.12.1; the SNAT rule's `! -o vlan+`): the first packet is marked, finds no rule 1024, leaves
/// by the VLAN table and is not SNATed: the pod's own address leaves the branch ENI that owns it.
#[test]
fn standard_branch_pods_leave_their_branch_eni_unsnated_before_1_12_1_without_node_port_support() {
    let env = [
        ("ENABLE_POD_ENI", "true"),
        ("POD_SECURITY_GROUP_ENFORCING_MODE", "standard"),
        ("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false"),
    ];
    for version in ["v1.11.0", "v1.11.4", "v1.12.0"] {
        let report = with_branch_eni(shop().cni(version, &env)).audit();
        check(&report, BRANCH_ENI, EGRESS)
            .reachable()
            .source_at_peer("pod-ip")
            .leaves_by(BRANCH_ENI)
            .host_table(HostTable::Vlan(Some(101)));
        assert!(
            report
                .findings
                .iter()
                .all(|f| !f.affected.enis.iter().any(|e| e == BRANCH_ENI)),
            "{version}: no finding for the branch ENI (the false SRCDST_EGRESS): {:#?}",
            report.findings
        );
    }
    // With node port support, rule 1024 sends the marked packet to main: SNATed to the node IP.
    let report = with_branch_eni(shop().cni("v1.11.4", &env[..2])).audit();
    check(&report, BRANCH_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    // From v1.12.1 rule 1024 stands without node port support too (PR #2026).
    let report = with_branch_eni(shop().cni("v1.12.1", &env)).audit();
    check(&report, BRANCH_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    // With EXTERNALSNAT the VLAN table decides at every version, unSNATed.
    let mut external = env.to_vec();
    external.push(("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true"));
    let report = with_branch_eni(shop().cni("v1.23.0", &external)).audit();
    check(&report, BRANCH_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(BRANCH_ENI);
}

/// Unsnated, the branch pod's path depends on the peer routing its own address back.
#[test]
fn an_unsnated_standard_branch_pod_needs_the_peer_to_route_its_address() {
    let env = [
        ("ENABLE_POD_ENI", "true"),
        ("POD_SECURITY_GROUP_ENFORCING_MODE", "standard"),
        ("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false"),
    ];
    let mut snapshot = with_branch_eni(shop().cni("v1.11.4", &env));
    let peer_routes = snapshot.routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE);
    peer_routes.retain(|r| r["DestinationCidrBlock"] != "10.0.0.0/16");
    peer_routes.push(peering_route("10.0.1.0/28", PEERING));
    let report = snapshot.audit();
    check(&report, BRANCH_ENI, EGRESS)
        .unreachable(Cause::PeerNoRoute)
        .source_at_peer("pod-ip");
}

#[test]
fn standard_security_group_mode_is_not_read_before_1_11() {
    let env = [
        ("ENABLE_POD_ENI", "true"),
        ("POD_SECURITY_GROUP_ENFORCING_MODE", "standard"),
    ];
    let report = with_branch_eni(shop().cni("v1.10.4", &env)).audit();

    check(&report, BRANCH_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(BRANCH_ENI);
}

#[test]
fn strict_branch_pods_need_the_peer_to_route_their_address() {
    let mut snapshot = with_branch_eni(shop().cni("v1.18.3", &[("ENABLE_POD_ENI", "true")]));
    // The peer routes only the node's /28 back, not the branch address.
    let peer_routes = snapshot.routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE);
    peer_routes.retain(|r| r["DestinationCidrBlock"] != "10.0.0.0/16");
    peer_routes.push(peering_route("10.0.1.0/28", PEERING));
    let report = snapshot.audit();

    check(&report, BRANCH_ENI, EGRESS)
        .unreachable(Cause::PeerNoRoute)
        .source_at_peer("pod-ip");
}

// ---- EXCLUDE_SNAT_CIDRS covering part of a destination --------------------------------------------

#[test]
fn exclude_snat_cidrs_covering_half_the_peer_subnet_split_it_into_two_blocks() {
    let report = shop()
        .cni(
            "v1.18.3",
            &[("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "10.1.0.0/25")],
        )
        .audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        let destinations: Vec<&str> = paths_of(&report, eni, EGRESS)
            .iter()
            .map(|p| p.destination.as_str())
            .collect();
        assert_eq!(destinations.len(), 2, "{eni}: {destinations:?}");
        for path in paths_of(&report, eni, EGRESS) {
            assert_eq!(path.route_destination, "10.1.0.0/16");
        }
    }
    check_to(&report, PRIMARY_ENI, EGRESS, "10.1.0.0/25")
        .reachable()
        .source_at_peer("pod-ip");
    check_to(&report, PRIMARY_ENI, EGRESS, "10.1.0.128/25")
        .reachable()
        .source_at_peer(NODE_IP);
    check_to(&report, SECONDARY_ENI, EGRESS, "10.1.0.0/25")
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI);
    check_to(&report, SECONDARY_ENI, EGRESS, "10.1.0.128/25")
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
}

#[test]
fn exclude_snat_cidrs_covering_half_the_peer_subnet_fix_only_that_half_before_1_8() {
    let report = shop()
        .cni(
            "v1.7.10",
            &[("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "10.1.0.0/25")],
        )
        .audit();

    check_to(&report, SECONDARY_ENI, INGRESS, "10.1.0.0/25")
        .reachable()
        .leaves_by(SECONDARY_ENI);
    check_to(&report, SECONDARY_ENI, INGRESS, "10.1.0.128/25")
        .unreachable(Cause::SrcdstEgress)
        .leaves_by(PRIMARY_ENI);
}

// ---- Return route missing at the peer ---------------------------------------------------------------

#[test]
fn a_peer_without_the_return_route_is_peer_no_route_with_a_create_route_fix_for_its_table() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot
        .routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
        .retain(|r| r["DestinationCidrBlock"] != "10.0.0.0/16");
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS)
            .unreachable(Cause::PeerNoRoute)
            .source_at_peer(NODE_IP);
        check(&report, eni, INGRESS).unreachable(Cause::PeerNoRoute);
    }
    let egress = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PeerNoRoute,
        EGRESS,
    );
    assert_eq!(egress.severity, Severity::Critical, "every pod is cut off");
    assert_eq!(egress.affected.nodes, vec![INSTANCE.to_owned()]);
    let command = commands(egress)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 create-route --route-table-id rtb-"))
        .expect("a create-route fix");
    assert_eq!(
        flag_value(command, "--route-table-id"),
        Some(PEER_ROUTE_TABLE),
        "{command}"
    );
    assert_eq!(
        flag_value(command, "--vpc-peering-connection-id"),
        Some(PEERING),
        "{command}"
    );
    let block: ipnet::Ipv4Net = flag_value(command, "--destination-cidr-block")
        .expect("a destination")
        .parse()
        .expect("a CIDR");
    assert!(
        block.contains(&ip(NODE_IP)),
        "the SNATed source {NODE_IP} must be routed back: {command}"
    );

    let ingress = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PeerNoRoute,
        INGRESS,
    );
    let command = commands(ingress)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 create-route "))
        .expect("a fix");
    let block: ipnet::Ipv4Net = flag_value(command, "--destination-cidr-block")
        .expect("a destination")
        .parse()
        .expect("a CIDR");
    assert!(
        block.contains(&ip("10.0.1.21")),
        "pod addresses must be routed back: {command}"
    );
}

// ---- Blackhole route, inactive peering, transit gateway AZ ------------------------------------------

#[test]
fn a_blackhole_route_to_the_peer_is_route_blackhole_both_ways() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.route_mut(ROUTES_FILE, NODE_ROUTE_TABLE, "10.1.0.0/16")["State"] = json!("blackhole");
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::RouteBlackhole);
        check(&report, eni, INGRESS).unreachable(Cause::RouteBlackhole);
    }
    let finding = finding(
        &report,
        FindingKind::Unreachable,
        Cause::RouteBlackhole,
        EGRESS,
    );
    let command = commands(finding)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 replace-route "))
        .expect("a fix");
    assert_eq!(
        flag_value(command, "--route-table-id"),
        Some(NODE_ROUTE_TABLE),
        "{command}"
    );
    assert_eq!(
        flag_value(command, "--destination-cidr-block"),
        Some("10.1.0.0/16"),
        "{command}"
    );
}

#[test]
fn a_peering_pending_acceptance_is_pcx_not_active_with_an_accept_fix() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    let pcx = snapshot.object_mut(
        PEERINGS_FILE,
        "VpcPeeringConnections",
        "VpcPeeringConnectionId",
        PEERING,
    );
    pcx["Status"] =
        json!({ "Code": "pending-acceptance", "Message": "Pending Acceptance by 111122223333" });
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::PcxNotActive);
        check(&report, eni, INGRESS).unreachable(Cause::PcxNotActive);
    }
    let finding = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PcxNotActive,
        EGRESS,
    );
    assert!(
        commands(finding).contains(
            &format!("aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id {PEERING}")
                .as_str()
        ),
        "{:#?}",
        finding.remediation
    );
}

#[test]
fn a_transit_gateway_attachment_only_in_another_az_is_tgw_no_az_attachment() {
    let report = via_transit_gateway(SUBNET_AZ_B).audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::TgwNoAzAttachment);
        check(&report, eni, INGRESS).unreachable(Cause::TgwNoAzAttachment);
    }
    let finding = finding(
        &report,
        FindingKind::Unreachable,
        Cause::TgwNoAzAttachment,
        EGRESS,
    );
    assert_eq!(finding.via.as_deref(), Some(TGW));
    let command = commands(finding)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 modify-transit-gateway-vpc-attachment "))
        .expect("a fix");
    assert_eq!(
        flag_value(command, "--transit-gateway-attachment-id"),
        Some(CLUSTER_TGW_ATTACHMENT),
        "{command}"
    );
}

#[test]
fn a_transit_gateway_attachment_in_the_node_az_carries_the_traffic() {
    let report = via_transit_gateway(NODE_SUBNET).audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).reachable();
        check(&report, eni, INGRESS).reachable();
        assert_eq!(check(&report, eni, EGRESS).path.via.as_deref(), Some(TGW));
    }
}

// ---- Unknown inputs ----------------------------------------------------------------------------

#[test]
fn without_daemonset_or_addon_every_release_is_judged_and_the_run_is_not_clean() {
    let mut snapshot = shop();
    snapshot.remove(AWS_NODE_FILE);
    let report = snapshot.audit();

    let cni = &report.clusters[0].cni;
    assert_eq!(cni.version, None);
    assert_eq!(cni.version_source, None);
    assert_eq!(
        cni.modelled_version, "v1.23.1",
        "the texts describe the newest release docs/datapath.md covers"
    );
    let json = serde_json::to_value(&report).expect("the report serialises");
    assert_eq!(json["clusters"][0]["cni"]["version"], Value::Null);
    // Never a clean result: the version is a blind spot with its remedy.
    assert!(!report.is_complete());
    let blind = &report.clusters[0].blind_spots;
    assert_eq!(blind.len(), 1, "{blind:?}");
    assert_eq!(blind[0].input, "CNI version");
    assert!(
        blind[0].remedy.contains("--cni-version"),
        "{}",
        blind[0].remedy
    );
    // Peer-initiated connections to a secondary ENI fail before v1.8.0 (PR #1475) and work
    // after: unknown, with the releases on each side named, never the newest release's verdict.
    let path = check(&report, SECONDARY_ENI, INGRESS)
        .unknown(Cause::MissingInput)
        .path;
    let detail = &path.causes[0].detail;
    assert!(
        detail.contains("CNI version is unknown")
            && detail.contains("unreachable (SRCDST_EGRESS) with v1.1.0–v1.7.0")
            && detail.contains("reachable with v1.8.0–v1.23.1"),
        "{detail}"
    );
    // A path every release agrees on keeps its verdict, and says so.
    let path = check(&report, PRIMARY_ENI, EGRESS).reachable().path;
    assert!(
        path.assumptions
            .iter()
            .any(|a| a.contains("CNI version is unknown") && a.contains("every modelled release")),
        "{:#?}",
        path.assumptions
    );
    let finding = finding(
        &report,
        FindingKind::Unverified,
        Cause::MissingInput,
        INGRESS,
    );
    assert!(finding.detail.contains("CNI version"), "{}", finding.detail);
    assert!(
        commands(finding)
            .iter()
            .any(|c| c.starts_with("kubectl get daemonset aws-node")),
        "{:#?}",
        finding.remediation
    );
}

#[test]
fn without_the_peer_route_tables_the_verdict_is_unknown_remote_and_an_informational_finding() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.remove(PEER_ROUTES_FILE);
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unknown(Cause::UnknownRemote);
        check(&report, eni, INGRESS).unknown(Cause::UnknownRemote);
    }
    let finding = finding(
        &report,
        FindingKind::Unverified,
        Cause::UnknownRemote,
        EGRESS,
    );
    assert_eq!(finding.severity, Severity::Informational);
    assert!(
        commands(finding)
            .iter()
            .any(|c| c.contains("describe-route-tables") && c.contains(PEER_VPC)),
        "{:#?}",
        finding.remediation
    );
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Unreachable)
    );
}

// ---- Latent risk and finding ids ----------------------------------------------------------------

/// The demo node without its secondary ENI, on CNI v1.10.3 with NODE_PORT_SUPPORT=false.
fn single_eni_node_on_1_10_without_node_port_support() -> Snapshot {
    let mut snapshot = shop().cni("v1.10.3", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    snapshot.remove_eni(SECONDARY_ENI);
    snapshot
}

#[test]
fn a_node_without_a_secondary_eni_gets_a_latent_risk_finding_for_the_next_one() {
    let report = single_eni_node_on_1_10_without_node_port_support().audit();

    check(&report, PRIMARY_ENI, EGRESS).reachable();
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    assert!(paths_of(&report, SECONDARY_ENI, EGRESS).is_empty());
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Unreachable),
        "{:#?}",
        report.findings
    );
    let latent = finding(
        &report,
        FindingKind::LatentRisk,
        Cause::SrcdstEgress,
        EGRESS,
    );
    assert_eq!(latent.severity, Severity::Medium);
    assert_eq!(latent.affected.nodes, vec![INSTANCE.to_owned()]);
    assert!(
        commands(latent)
            .iter()
            .any(|c| c.contains("AWS_VPC_CNI_NODE_PORT_SUPPORT=true")),
        "{:#?}",
        latent.remediation
    );
}

#[test]
fn a_node_without_a_secondary_eni_has_no_latent_risk_when_the_configuration_is_sound() {
    let mut snapshot = shop().cni("v1.12.1", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    snapshot.remove_eni(SECONDARY_ENI);
    let report = snapshot.audit();

    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn finding_ids_are_stable_across_runs_with_different_eni_ids() {
    let scenarios = [single_eni_node_on_1_10_without_node_port_support(), shop()];
    for snapshot in scenarios {
        let ids = |report: &podreach_core::Report| {
            let mut ids: Vec<String> = report.findings.iter().map(|f| f.id.clone()).collect();
            ids.sort();
            ids
        };
        let first = snapshot.audit();
        let mut renamed = snapshot.clone();
        renamed.rename(PRIMARY_ENI, "eni-0fedcba987654321a");
        renamed.rename(SECONDARY_ENI, "eni-0fedcba987654321b");
        let second = renamed.audit();

        assert!(!first.findings.is_empty());
        assert!(
            paths_of(&second, PRIMARY_ENI, EGRESS).is_empty(),
            "the ENI ids did change"
        );
        assert_eq!(ids(&first), ids(&second));
        let enis = |report: &podreach_core::Report| -> Vec<Vec<String>> {
            report
                .findings
                .iter()
                .map(|f| f.affected.enis.clone())
                .collect()
        };
        if first
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Unreachable)
        {
            assert_ne!(
                enis(&first),
                enis(&second),
                "the affected ENIs are reported with their new ids"
            );
        }
    }
}

#[test]
fn unknown_peer_tables_do_not_hide_a_failure_elsewhere_on_the_path() {
    // §5.6: FAIL wins over UNKNOWN, and every reason is reported.
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    snapshot.remove(PEER_ROUTES_FILE);
    let report = snapshot.audit_with(&Overrides::default());

    check(&report, SECONDARY_ENI, EGRESS)
        .unreachable(Cause::SrcdstEgress)
        .mentions(Cause::UnknownRemote);
    let path = check(&report, PRIMARY_ENI, EGRESS).path;
    assert_eq!(path.verdict, Verdict::Unknown);
}

// ---- More AWS-side outcomes (§5.2 AWS_PATH, §5.5) ------------------------------------------------

#[test]
fn a_peering_route_to_a_cidr_outside_the_peer_vpc_is_pcx_not_direct() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot
        .routes_mut(ROUTES_FILE, NODE_ROUTE_TABLE)
        .push(peering_route("10.9.0.0/16", PEERING));
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check_to(&report, eni, EGRESS, "10.9.0.0/16").unreachable(Cause::PcxNotDirect);
        check_to(&report, eni, INGRESS, "10.9.0.0/16").unreachable(Cause::PcxNotDirect);
        check_to(&report, eni, EGRESS, PEER_SUBNET_CIDR).reachable();
    }
}

#[test]
fn a_route_to_a_virtual_private_gateway_is_unknown_remote_because_on_premises_is_not_visible() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.routes_mut(ROUTES_FILE, NODE_ROUTE_TABLE).push(json!({
        "DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-0a1b2c3d4e5f60c01", "Origin": "CreateRoute", "State": "active"
    }));
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check_to(&report, eni, EGRESS, "192.168.0.0/16").unknown(Cause::UnknownRemote);
        check_to(&report, eni, INGRESS, "192.168.0.0/16").unknown(Cause::UnknownRemote);
    }
    let finding = finding(
        &report,
        FindingKind::Unverified,
        Cause::UnknownRemote,
        EGRESS,
    );
    assert_eq!(finding.severity, Severity::Informational);
    assert_eq!(finding.destination, "192.168.0.0/16");
}

// ---- rp_filter of the primary interface when aws-vpc-cni-init is missing (§2.6, §5.1) ----------------

fn without_init_container(mut snapshot: Snapshot) -> Snapshot {
    let spec = &mut snapshot.json_mut(AWS_NODE_FILE)["spec"]["template"]["spec"];
    spec.as_object_mut()
        .expect("pod spec")
        .remove("initContainers");
    snapshot
}

#[test]
fn without_the_init_container_secondary_eni_egress_depends_on_an_unknown_rp_filter_from_1_12_1() {
    let report = without_init_container(shop().cni("v1.18.3", &[])).audit();

    check(&report, PRIMARY_ENI, EGRESS).reachable();
    check(&report, SECONDARY_ENI, EGRESS)
        .unknown(Cause::MissingInput)
        .leaves_by(PRIMARY_ENI);
    check(&report, SECONDARY_ENI, INGRESS).reachable();
}

#[test]
fn without_the_init_container_ipamd_still_sets_loose_rp_filter_before_1_12_1_with_node_port_support()
 {
    let report =
        without_init_container(shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "true")]))
            .audit();

    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);
}

// ---- X = 0.0.0.0/0 before v1.23.0 (#3658) ---------------------------------------------------------

#[test]
fn excluding_everything_from_snat_before_1_23_keeps_primary_eni_pods_working_in_both_states() {
    let report = shop()
        .cni(
            "v1.18.3",
            &[("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "0.0.0.0/0")],
        )
        .audit();

    let path = check(&report, PRIMARY_ENI, EGRESS).reachable().path;
    assert!(
        path.assumptions.iter().any(|a| a.contains("#3658")),
        "{:#?}",
        path.assumptions
    );
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS).reachable();
}

#[test]
fn excluding_everything_from_snat_before_1_23_keeps_secondary_eni_pods_working_in_both_states() {
    // Exclusion holding: no SNAT, no mark → T(e) → leaves e with p (OK). RETURN lost: SNAT(D) and
    // hence marked(D) → rule 1024 → main → eth0 with n0 (OK). Both states work.
    let report = shop()
        .cni(
            "v1.18.3",
            &[("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "0.0.0.0/0")],
        )
        .audit();

    check(&report, SECONDARY_ENI, EGRESS).reachable();
}

// ---- The peer side of peer-to-pod is judged from the peer's own route table (§5.4 step 1) ------------

#[test]
fn a_blackhole_on_the_cluster_side_does_not_make_the_peer_side_unknown() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.route_mut(ROUTES_FILE, NODE_ROUTE_TABLE, "10.1.0.0/16")["State"] = json!("blackhole");
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        let path = check(&report, eni, INGRESS)
            .unreachable(Cause::RouteBlackhole)
            .path;
        let codes: Vec<Cause> = path.causes.iter().map(|r| r.code).collect();
        assert_eq!(codes, vec![Cause::RouteBlackhole], "{:#?}", path.causes);
    }
}

#[test]
fn a_missing_peering_document_does_not_hide_a_missing_return_route_at_the_peer() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.remove(PEERINGS_FILE);
    snapshot
        .routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
        .retain(|r| r["DestinationCidrBlock"] != "10.0.0.0/16");
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::PeerNoRoute);
        check(&report, eni, INGRESS).unreachable(Cause::PeerNoRoute);
    }
}

#[test]
fn an_exclusion_written_after_a_space_snats_before_1_12_6_and_not_after() {
    let exclude = [(
        "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
        "10.9.0.0/16, 10.1.0.0/16",
    )];
    // v1.12.5 rejects " 10.1.0.0/16": the peer sees the node IP.
    let before = shop().cni("v1.12.5", &exclude).audit();
    check(&before, SECONDARY_ENI, EGRESS).source_at_peer(NODE_IP);
    assert!(
        before.clusters[0]
            .cni
            .notes
            .iter()
            .any(|n| n.contains("` 10.1.0.0/16` is ignored")),
        "{:?}",
        before.clusters[0].cni.notes
    );
    // v1.12.6 trims it: the exclusion applies and the peer sees the pod address.
    let after = shop().cni("v1.12.6", &exclude).audit();
    check(&after, SECONDARY_ENI, EGRESS).source_at_peer("pod-ip");
}

// ---- Settings the snapshot cannot show ------------------------------------------------------------

#[test]
fn a_setting_from_a_config_map_is_unknown_and_both_of_its_values_are_evaluated() {
    let mut snapshot = shop().cni("v1.11.4", &[]);
    snapshot.json_mut(AWS_NODE_FILE)["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .expect("env")
        .push(json!({
            "name": "AWS_VPC_CNI_NODE_PORT_SUPPORT",
            "valueFrom": { "configMapKeyRef": { "name": "aws-node-config", "key": "node-port" } }
        }));
    let report = snapshot.audit();
    let setting = report.clusters[0]
        .cni
        .settings
        .iter()
        .find(|s| s.name == "AWS_VPC_CNI_NODE_PORT_SUPPORT")
        .expect("listed");
    assert_eq!(
        setting.value,
        "unknown (configMapKeyRef aws-node-config/node-port)"
    );
    // With the default (true) the secondary-ENI pods get out; with false they do not (#2025):
    // the verdict is unknown and says both.
    let path = check(&report, SECONDARY_ENI, EGRESS);
    path.unknown(Cause::MissingInput);
    let detail = &path.path.causes[0].detail;
    assert!(
        detail.contains("configMapKeyRef aws-node-config/node-port")
            && detail.contains("with the default `true` this path is reachable")
            && detail.contains("with `false` it is unreachable (SRCDST_EGRESS)"),
        "{detail}"
    );
    // The primary ENI's pods get out either way: that verdict stands.
    check(&report, PRIMARY_ENI, EGRESS).reachable();
    let finding = finding(
        &report,
        FindingKind::Unverified,
        Cause::MissingInput,
        EGRESS,
    );
    assert_eq!(finding.affected.enis, [SECONDARY_ENI]);
}

#[test]
fn an_image_pinned_by_digest_alone_takes_its_version_from_the_init_container() {
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    let spec = &mut snapshot.json_mut(AWS_NODE_FILE)["spec"]["template"]["spec"];
    spec["containers"][0]["image"] = json!(
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni@sha256:7d3a0e2f9c1b4a5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
    );
    spec["initContainers"][0]["image"] = json!(
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni-init:v1.11.4-eksbuild.1"
    );
    let report = snapshot.audit();
    assert_eq!(report.clusters[0].cni.version.as_deref(), Some("v1.11.4"));
    assert!(
        report.clusters[0]
            .cni
            .notes
            .iter()
            .any(|n| n.contains("read from the image of container aws-vpc-cni-init")),
        "{:?}",
        report.clusters[0].cni.notes
    );
    // v1.11.4 with NODE_PORT_SUPPORT=false: the finding that the newest version would hide.
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
}

// ---- What podreach does not model, said so ---------------------------------------------------------

fn auto_mode(mut snapshot: Snapshot) -> Snapshot {
    snapshot.json_mut("shop/cluster.json")["cluster"]["computeConfig"] = json!({
        "enabled": true,
        "nodePools": ["general-purpose", "system"],
        "nodeRoleArn": "arn:aws:iam::111122223333:role/AmazonEKSAutoNodeRole"
    });
    snapshot
}

#[test]
fn an_auto_mode_cluster_without_aws_node_gets_no_verdicts_and_says_why() {
    let mut snapshot = auto_mode(shop());
    snapshot.remove(AWS_NODE_FILE);
    let report = snapshot.audit();
    let entry = report
        .not_analysed
        .iter()
        .find(|n| n.cluster.as_deref() == Some(CLUSTER))
        .expect("shop is not analysed");
    assert!(entry.reason.contains("EKS Auto Mode"), "{}", entry.reason);
    assert!(report.clusters.iter().all(|c| c.name != CLUSTER));
    assert!(report.findings.iter().all(|f| f.cluster != CLUSTER));
}

#[test]
fn auto_mode_nodes_are_told_by_their_label_and_named_never_judged() {
    let mut snapshot =
        auto_mode(shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]));
    // An EC2 node without the compute-type label: aws-node networks it, analysed as usual.
    let report = snapshot.audit();
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
    // Labelled as Auto Mode's: no verdict for it, and the node is named as not modelled (not a
    // gap: a cluster that always has Auto Mode nodes must still resolve findings).
    snapshot.json_mut(NODES_FILE)["items"][0]["metadata"]["labels"]["eks.amazonaws.com/compute-type"] =
        json!("auto");
    let report = snapshot.audit();
    assert!(paths_of(&report, SECONDARY_ENI, EGRESS).is_empty());
    let named = &report.clusters[0].nodes_not_modelled;
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0].kind, "auto-mode");
    assert_eq!(named[0].instance_id.as_deref(), Some(INSTANCE));
    assert_eq!(
        named[0].pods, 4,
        "the node's pods that hold an address of their own (aws-node runs on the host network)"
    );
    assert!(named[0].why.contains("NodeClass"), "{}", named[0].why);
    assert!(
        report.gaps.iter().all(|g| !g.message.contains("#3821")),
        "{:?}",
        report.gaps
    );
}

#[test]
fn without_node_objects_auto_mode_nodes_are_told_by_running_no_aws_node_pod() {
    let mut snapshot =
        auto_mode(shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]));
    snapshot.remove(NODES_FILE);
    snapshot.json_mut(PODS_FILE)["items"]
        .as_array_mut()
        .expect("pods")
        .retain(|p| p["metadata"]["name"] != "aws-node-7xk2p");
    let report = snapshot.audit();
    assert!(paths_of(&report, SECONDARY_ENI, EGRESS).is_empty());
    let named = &report.clusters[0].nodes_not_modelled;
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0].kind, "auto-mode");
    assert!(named[0].why.contains("no aws-node pod"), "{}", named[0].why);
}

#[test]
fn a_windows_node_is_named_not_judged_with_the_linux_rules() {
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    snapshot.json_mut(NODES_FILE)["items"][0]["metadata"]["labels"]["kubernetes.io/os"] =
        json!("windows");
    let report = snapshot.audit();
    assert!(paths_of(&report, SECONDARY_ENI, EGRESS).is_empty());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let named = &report.clusters[0].nodes_not_modelled;
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0].kind, "windows");
    assert!(named[0].why.contains("HNS"), "{}", named[0].why);
    // No aws-node node is left: the cluster gets no verdicts, and the reason names why.
    assert!(
        report
            .not_analysed
            .iter()
            .any(|n| n.cluster.as_deref() == Some(CLUSTER)),
        "{:?}",
        report.not_analysed
    );
}

#[test]
fn a_windows_instance_is_named_from_ec2_alone_without_node_objects() {
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    snapshot.remove(NODES_FILE);
    snapshot.json_mut(INSTANCES_FILE)["Reservations"][0]["Instances"][0]["Platform"] =
        json!("windows");
    let report = snapshot.audit();
    assert!(paths_of(&report, SECONDARY_ENI, EGRESS).is_empty());
    let named = &report.clusters[0].nodes_not_modelled;
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0].kind, "windows");
    assert!(
        named[0].why.contains("Platform is windows"),
        "{}",
        named[0].why
    );
}

#[test]
fn fargate_pods_are_named_with_their_node_never_reported_as_stray_addresses() {
    let mut snapshot = shop().cni("v1.11.4", &[]);
    // A Fargate node and its pod: the pod's address is on a Fargate-owned ENI, not on any node
    // ENI of the snapshot.
    let mut fargate = snapshot.json_mut(NODES_FILE)["items"][0].clone();
    fargate["metadata"]["name"] = json!("fargate-ip-10-0-1-77.ec2.internal");
    fargate["metadata"]["labels"] = json!({
        "eks.amazonaws.com/compute-type": "fargate",
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": "us-east-1a"
    });
    fargate["spec"] = json!({"providerID": "aws:///us-east-1a/0f1e2d3c4b-5a6978e8d9c0b1a2f3e4d5c6b7a8/fargate-ip-10-0-1-77.ec2.internal"});
    snapshot.push(NODES_FILE, "items", fargate);
    let mut pod = snapshot.json_mut(PODS_FILE)["items"][1].clone();
    pod["metadata"]["name"] = json!("batch-6f7d8c9b5-k2l3m");
    pod["metadata"]["namespace"] = json!("jobs");
    pod["spec"]["nodeName"] = json!("fargate-ip-10-0-1-77.ec2.internal");
    pod["status"]["podIP"] = json!("10.0.1.77");
    pod["status"]["podIPs"] = json!([{ "ip": "10.0.1.77" }]);
    snapshot.push(PODS_FILE, "items", pod);
    let report = snapshot.audit();
    let named = &report.clusters[0].nodes_not_modelled;
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0].kind, "fargate");
    assert_eq!(named[0].pods, 1);
    assert_eq!(named[0].instance_id, None);
    assert!(
        report.gaps.iter().all(|g| !g.message.contains("#3821")),
        "{:?}",
        report.gaps
    );
    // The EC2 node is still judged.
    check(&report, SECONDARY_ENI, EGRESS).reachable();
}

#[test]
fn a_pod_whose_address_no_eni_holds_is_reported_never_skipped() {
    let mut snapshot = shop().cni("v1.11.4", &[]);
    let mut stray = snapshot.json_mut(PODS_FILE)["items"][1].clone();
    stray["metadata"]["name"] = json!("stale-7d9f8c6b5-q2w3e");
    stray["metadata"]["namespace"] = json!("shop");
    stray["status"]["podIP"] = json!("10.0.1.99");
    stray["status"]["podIPs"] = json!([{ "ip": "10.0.1.99" }]);
    snapshot.push(PODS_FILE, "items", stray);
    let report = snapshot.audit();
    let gap = report
        .gaps
        .iter()
        .find(|g| g.object.as_deref() == Some("shop/stale-7d9f8c6b5-q2w3e"))
        .expect("the pod is reported");
    assert!(
        gap.message.contains("10.0.1.99") && gap.message.contains("#3821"),
        "{}",
        gap.message
    );
}

// ---- Managed prefix lists ---------------------------------------------------------------------------

const PREFIX_LIST: &str = "pl-0a1b2c3d4e5f60718";

/// The node subnet reaches the peer through a route to a managed prefix list instead of a CIDR.
fn via_prefix_list() -> Snapshot {
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    let routes = snapshot.routes_mut(ROUTES_FILE, NODE_ROUTE_TABLE);
    routes.retain(|r| r["DestinationCidrBlock"] != "10.1.0.0/16");
    routes.push(json!({
        "DestinationPrefixListId": PREFIX_LIST,
        "Origin": "CreateRoute",
        "State": "active",
        "VpcPeeringConnectionId": PEERING
    }));
    snapshot
}

#[test]
fn a_route_to_a_prefix_list_is_a_destination_per_entry_when_the_entries_are_given() {
    let mut snapshot = via_prefix_list();
    // `aws ec2 get-managed-prefix-list-entries --prefix-list-id pl-… > pl-….json`: the output
    // does not name the list, so the file does.
    snapshot.insert(
        &format!("ec2/{PREFIX_LIST}.json"),
        json!({ "Entries": [
            { "Cidr": "10.1.0.0/24", "Description": "peer VPC subnet" },
            { "Cidr": "2600:1f18::/40", "Description": "IPv6, not an IPv4 route" }
        ] }),
    );
    snapshot.insert(
        "ec2/prefix-lists.json",
        json!({ "PrefixLists": [ {
            "PrefixListId": PREFIX_LIST, "AddressFamily": "IPv4", "State": "create-complete",
            "PrefixListName": "peer-networks", "MaxEntries": 10, "Version": 1,
            "PrefixListArn": format!("arn:aws:ec2:us-east-1:111122223333:prefix-list/{PREFIX_LIST}"),
            "OwnerId": "111122223333", "Tags": []
        } ] }),
    );
    let report = snapshot.audit();
    assert!(report.gaps.is_empty(), "{:?}", report.gaps);
    assert_eq!(report.clusters[0].destinations, ["10.1.0.0/24"]);
    check_to(&report, SECONDARY_ENI, EGRESS, "10.1.0.0/24").unreachable(Cause::SrcdstEgress);
    check_to(&report, PRIMARY_ENI, EGRESS, "10.1.0.0/24").reachable();
}

#[test]
fn a_route_to_a_prefix_list_without_its_entries_is_a_gap_that_says_what_to_add() {
    let report = via_prefix_list().audit();
    let gap = report
        .gaps
        .iter()
        .find(|g| g.object.as_deref().is_some_and(|o| o.contains(PREFIX_LIST)))
        .expect("a gap names the route");
    assert!(
        gap.message.contains(&format!(
            "get-managed-prefix-list-entries --prefix-list-id {PREFIX_LIST}"
        )),
        "{}",
        gap.message
    );
}

#[test]
fn a_route_to_a_gateway_endpoints_prefix_list_is_no_destination_and_no_gap() {
    let mut snapshot = shop().cni("v1.11.4", &[]);
    // The S3 gateway endpoint's route, as describe-route-tables prints it.
    snapshot
        .routes_mut(ROUTES_FILE, NODE_ROUTE_TABLE)
        .push(json!({
            "DestinationPrefixListId": "pl-6da54004",
            "GatewayId": "vpce-0a1b2c3d4e5f60718",
            "Origin": "CreateRoute",
            "State": "active"
        }));
    let report = snapshot.audit();
    assert!(report.gaps.is_empty(), "{:?}", report.gaps);
    assert_eq!(report.clusters[0].destinations, ["10.1.0.0/16"]);
}
