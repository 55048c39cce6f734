//! Security groups and network ACLs on both sides, seen through SNAT (docs/datapath.md §5.7).
//!
//! Every fixture is the demo's `shop` cluster with `describe-security-groups` and
//! `describe-network-acls` output as the AWS CLI prints it: the node's group, the peer
//! database's group (on the peer VPC's ENI `eni-0b01…` at 10.1.0.50) and one network ACL per
//! VPC. The cases are the ways a correct route still fails because the far side admits the
//! node subnet and not the pod subnet, or the reverse.

mod support;

use podreach_core::report::{Cause, FindingKind, Verdict};
use serde_json::{Value, json};
use support::*;

const NODE_SG: &str = "sg-0a7d1e2f3a4b5c601";
const PEER_SG: &str = "sg-0b7d1e2f3a4b5c602";
/// The ENIConfig's group (custom networking) and the branch ENI's group (security groups for pods).
const POD_SG: &str = "sg-0a7d1e2f3a4b5c6aa";
const BRANCH_SG: &str = "sg-0a7d1e2f3a4b5c6bb";
const PEER_SUBNET: &str = "subnet-0b20e5f1c2d3b4a02";
const CLUSTER_ACL: &str = "acl-0a1b2c3d4e5f60a01";
const PEER_ACL: &str = "acl-0b1b2c3d4e5f60a02";
const NODE_SUBNET_CIDR: &str = "10.0.0.0/20";
const SGS_FILE: &str = "ec2/security-groups.json";
const ACLS_FILE: &str = "ec2/network-acls.json";

fn permission(
    protocol: &str,
    ports: Option<(u16, u16)>,
    cidrs: &[&str],
    groups: Vec<Value>,
) -> Value {
    let mut p = json!({
        "IpProtocol": protocol,
        "IpRanges": cidrs.iter().map(|c| json!({ "CidrIp": c })).collect::<Vec<_>>(),
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "UserIdGroupPairs": groups
    });
    if let Some((from, to)) = ports {
        p["FromPort"] = json!(from);
        p["ToPort"] = json!(to);
    }
    p
}

fn tcp_from(port: u16, cidr: &str) -> Value {
    permission("tcp", Some((port, port)), &[cidr], vec![])
}

fn everything_to_anywhere() -> Value {
    permission("-1", None, &["0.0.0.0/0"], vec![])
}

/// A rule of the peer's group naming a group of the cluster VPC across the peering connection.
fn tcp_from_group(port: u16, group: &str) -> Value {
    permission(
        "tcp",
        Some((port, port)),
        &[],
        vec![json!({
            "GroupId": group,
            "UserId": "111122223333",
            "VpcId": CLUSTER_VPC,
            "VpcPeeringConnectionId": PEERING,
            "PeeringStatus": "active"
        })],
    )
}

fn group(id: &str, name: &str, vpc: &str, inbound: Vec<Value>, outbound: Vec<Value>) -> Value {
    json!({
        "Description": name,
        "GroupName": name,
        "IpPermissions": inbound,
        "OwnerId": "111122223333",
        "GroupId": id,
        "IpPermissionsEgress": outbound,
        "VpcId": vpc
    })
}

fn entry(number: u32, egress: bool, allow: bool, cidr: &str, ports: Option<(u16, u16)>) -> Value {
    let mut e = json!({
        "CidrBlock": cidr,
        "Egress": egress,
        "Protocol": if ports.is_some() { "6" } else { "-1" },
        "RuleAction": if allow { "allow" } else { "deny" },
        "RuleNumber": number
    });
    if let Some((from, to)) = ports {
        e["PortRange"] = json!({ "From": from, "To": to });
    }
    e
}

/// A network ACL with `entries` plus the final `*` rules `describe-network-acls` prints.
fn acl(id: &str, vpc: &str, subnets: &[&str], mut entries: Vec<Value>) -> Value {
    entries.push(entry(32767, true, false, "0.0.0.0/0", None));
    entries.push(entry(32767, false, false, "0.0.0.0/0", None));
    json!({
        "Associations": subnets.iter().enumerate().map(|(i, s)| json!({
            "NetworkAclAssociationId": format!("aclassoc-0a1b2c3d4e5f6{i:04}"),
            "NetworkAclId": id,
            "SubnetId": s
        })).collect::<Vec<_>>(),
        "Entries": entries,
        "IsDefault": true,
        "NetworkAclId": id,
        "Tags": [],
        "VpcId": vpc,
        "OwnerId": "111122223333"
    })
}

fn allow_all() -> Vec<Value> {
    vec![
        entry(100, true, true, "0.0.0.0/0", None),
        entry(100, false, true, "0.0.0.0/0", None),
    ]
}

/// `snapshot` with the groups and ACLs: the peer database admits tcp/5432 by `peer_inbound`;
/// the cluster's groups admit everything from the peer VPC; both ACLs allow everything unless
/// given.
fn with_filters(
    mut snapshot: Snapshot,
    peer_inbound: Vec<Value>,
    cluster_acl: Vec<Value>,
    peer_acl: Vec<Value>,
) -> Snapshot {
    let cluster_groups = [
        (NODE_SG, "eks-cluster-sg-shop"),
        (POD_SG, "shop-pods"),
        (BRANCH_SG, "pod-sg"),
    ];
    let mut groups: Vec<Value> = cluster_groups
        .iter()
        .map(|(id, name)| {
            group(
                id,
                name,
                CLUSTER_VPC,
                vec![permission("-1", None, &["10.1.0.0/16"], vec![])],
                vec![everything_to_anywhere()],
            )
        })
        .collect();
    groups.push(group(
        PEER_SG,
        "payments-db",
        PEER_VPC,
        peer_inbound,
        vec![everything_to_anywhere()],
    ));
    snapshot.insert(SGS_FILE, json!({ "SecurityGroups": groups }));
    snapshot.insert(
        ACLS_FILE,
        json!({ "NetworkAcls": [
            acl(CLUSTER_ACL, CLUSTER_VPC, &[NODE_SUBNET, POD_SUBNET], cluster_acl),
            acl(PEER_ACL, PEER_VPC, &[PEER_SUBNET], peer_acl),
        ] }),
    );
    snapshot
}

fn port(n: u16) -> [u16; 1] {
    [n]
}

/// Custom networking (pods in 100.64.0.0/19, on ENIs carrying the ENIConfig's group) with the
/// peer routing the pod CIDR back: only the filters decide.
fn pods_in_their_own_subnet(env: &[(&str, &str)], peer_inbound: Vec<Value>) -> Snapshot {
    pods_in_their_own_subnet_on("v1.16.0", env, peer_inbound)
}

/// [`pods_in_their_own_subnet`] on another CNI version.
fn pods_in_their_own_subnet_on(
    version: &str,
    env: &[(&str, &str)],
    peer_inbound: Vec<Value>,
) -> Snapshot {
    let mut snapshot = custom_networking(version, env, true);
    snapshot
        .routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
        .push(peering_route(POD_VPC_CIDR, PEERING));
    snapshot.eni_mut(SECONDARY_ENI)["Groups"] =
        json!([{ "GroupName": "shop-pods", "GroupId": POD_SG }]);
    with_filters(snapshot, peer_inbound, allow_all(), allow_all())
}

#[test]
fn peer_group_admitting_the_pod_subnet_rejects_pods_snated_to_the_node_ip() {
    let report = pods_in_their_own_subnet(&[], vec![tcp_from(5432, POD_SUBNET_CIDR)])
        .audit_on_ports(&port(5432));
    let path = check(&report, SECONDARY_ENI, EGRESS);
    path.unreachable(Cause::PeerSg)
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains(PEER_SG) && why.contains("the node IP 10.0.1.10") && why.contains("tcp/5432"),
        "{why}"
    );
    assert_eq!(path.path.tcp_ports.as_deref(), Some("no TCP port"));
    let f = finding(&report, FindingKind::Unreachable, Cause::PeerSg, EGRESS);
    assert!(f.detail.contains("node subnets"), "{}", f.detail);
    let fix = commands(f);
    assert!(
        fix.contains(&format!("aws ec2 authorize-security-group-ingress --group-id {PEER_SG} --ip-permissions IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[{{CidrIp={NODE_SUBNET_CIDR},Description=podreach}}]").as_str()),
        "{fix:#?}"
    );
}

#[test]
fn the_same_group_admits_pods_once_external_snat_shows_their_own_address() {
    let env = [("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")];
    let report = pods_in_their_own_subnet(&env, vec![tcp_from(5432, POD_SUBNET_CIDR)])
        .audit_on_ports(&port(5432));
    let path = check(&report, SECONDARY_ENI, EGRESS);
    path.reachable()
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI);
    assert_eq!(path.path.tcp_ports.as_deref(), Some("tcp/5432"));
}

#[test]
fn peer_group_admitting_the_node_subnet_rejects_pods_after_external_snat() {
    let admits_nodes = || vec![tcp_from(5432, NODE_SUBNET_CIDR)];
    let snated = pods_in_their_own_subnet(&[], admits_nodes()).audit_on_ports(&port(5432));
    check(&snated, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);

    let env = [("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")];
    let report = pods_in_their_own_subnet(&env, admits_nodes()).audit_on_ports(&port(5432));
    let path = check(&report, SECONDARY_ENI, EGRESS);
    path.unreachable(Cause::PeerSg).source_at_peer("pod-ip");
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains("the pod address") && why.contains(PEER_SG),
        "{why}"
    );
}

#[test]
fn without_a_port_the_verdict_names_the_ports_that_pass_both_ways() {
    let inbound = vec![
        tcp_from(5432, NODE_SUBNET_CIDR),
        tcp_from(443, NODE_SUBNET_CIDR),
    ];
    let report = with_filters(
        shop().cni("v1.16.0", &[]),
        inbound,
        allow_all(),
        allow_all(),
    )
    .audit();
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.reachable();
    assert_eq!(path.path.tcp_ports.as_deref(), Some("tcp/443, tcp/5432"));
    // Asking for a port the group does not admit makes the same path unreachable.
    let report = with_filters(
        shop().cni("v1.16.0", &[]),
        vec![tcp_from(5432, NODE_SUBNET_CIDR)],
        allow_all(),
        allow_all(),
    )
    .audit_on_ports(&port(6379));
    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::PeerSg);
}

#[test]
fn peer_acl_without_the_ephemeral_range_drops_the_reply_to_the_node() {
    // The peer's subnet lets 5432 in but only answers to ports below 1024.
    let peer_acl = vec![
        entry(100, false, true, "10.0.0.0/16", Some((5432, 5432))),
        entry(100, true, true, "10.0.0.0/16", Some((0, 1023))),
    ];
    let report = with_filters(
        shop().cni("v1.16.0", &[]),
        vec![tcp_from(5432, NODE_SUBNET_CIDR)],
        allow_all(),
        peer_acl,
    )
    .audit_on_ports(&port(5432));
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.unreachable(Cause::PeerNacl);
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains(PEER_ACL) && why.contains("tcp/1024-65535"),
        "{why}"
    );
    let f = finding(&report, FindingKind::Unreachable, Cause::PeerNacl, EGRESS);
    let fix = commands(f);
    let acl_fix = fix
        .iter()
        .find(|c| c.contains("create-network-acl-entry"))
        .expect("an ACL entry to add");
    assert_eq!(flag_value(acl_fix, "--network-acl-id"), Some(PEER_ACL));
    assert!(
        acl_fix.contains("--egress") && acl_fix.contains("--port-range From=1024,To=65535"),
        "{acl_fix}"
    );
    assert_eq!(flag_value(acl_fix, "--cidr-block"), Some(NODE_SUBNET_CIDR));
}

#[test]
fn a_deny_numbered_before_the_allow_wins() {
    let cluster_acl = vec![
        entry(50, true, false, "10.1.0.0/16", Some((5432, 5432))),
        entry(100, true, true, "0.0.0.0/0", None),
        entry(100, false, true, "0.0.0.0/0", None),
    ];
    let report = with_filters(
        shop().cni("v1.16.0", &[]),
        vec![tcp_from(5432, NODE_SUBNET_CIDR)],
        cluster_acl,
        allow_all(),
    )
    .audit_on_ports(&port(5432));
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.unreachable(Cause::NaclLocal);
    assert!(
        path.path.causes[0].detail.contains("rule 50 deny"),
        "{:?}",
        path.path.causes
    );
    let f = finding(&report, FindingKind::Unreachable, Cause::NaclLocal, EGRESS);
    let fix = commands(f)
        .into_iter()
        .find(|c| c.contains("create-network-acl-entry"))
        .expect("ACL fix");
    let number: u32 = flag_value(fix, "--rule-number")
        .and_then(|n| n.parse().ok())
        .expect("a rule number");
    assert!(number < 50, "{fix}");
}

#[test]
fn a_group_reference_across_peering_matches_only_enis_carrying_the_group() {
    // SNATed traffic leaves by the primary ENI, which carries the node group: admitted.
    let snated = pods_in_their_own_subnet(&[], vec![tcp_from_group(5432, NODE_SG)])
        .audit_on_ports(&port(5432));
    check(&snated, SECONDARY_ENI, EGRESS)
        .reachable()
        .leaves_by(PRIMARY_ENI);
    // Not SNATed, it leaves by the pod's ENI, which carries the ENIConfig's group only.
    let env = [("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")];
    let report = pods_in_their_own_subnet(&env, vec![tcp_from_group(5432, NODE_SG)])
        .audit_on_ports(&port(5432));
    check(&report, SECONDARY_ENI, EGRESS)
        .unreachable(Cause::PeerSg)
        .leaves_by(SECONDARY_ENI);
    // A reference does not cross a peering connection between Regions.
    let mut other_region = pods_in_their_own_subnet(&[], vec![tcp_from_group(5432, NODE_SG)]);
    other_region.object_mut(
        PEERINGS_FILE,
        "VpcPeeringConnections",
        "VpcPeeringConnectionId",
        PEERING,
    )["AccepterVpcInfo"]["Region"] = json!("eu-west-1");
    let report = other_region.audit_on_ports(&port(5432));
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::PeerSg);
}

#[test]
fn a_branch_eni_is_judged_by_its_own_groups() {
    let env = [
        ("ENABLE_POD_ENI", "true"),
        ("POD_SECURITY_GROUP_ENFORCING_MODE", "strict"),
    ];
    let mut snapshot = with_branch_eni(shop().cni("v1.18.3", &env));
    snapshot
        .routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
        .push(peering_route(NODE_SUBNET_CIDR, PEERING));
    let mut snapshot = with_filters(
        snapshot,
        vec![tcp_from_group(5432, BRANCH_SG)],
        allow_all(),
        allow_all(),
    );
    // The branch ENI's group lets nothing out to the peer.
    snapshot.object_mut(SGS_FILE, "SecurityGroups", "GroupId", BRANCH_SG)["IpPermissionsEgress"] =
        json!([tcp_from(443, "0.0.0.0/0")]);
    let report = snapshot.audit_on_ports(&port(5432));
    let path = check(&report, BRANCH_ENI, EGRESS);
    path.unreachable(Cause::SgEgress).leaves_by(BRANCH_ENI);
    assert!(
        path.path.causes[0].detail.contains(BRANCH_SG),
        "{:?}",
        path.path.causes
    );
    // The peer's reference to the branch ENI's group admits it once the group lets it out.
    snapshot.object_mut(SGS_FILE, "SecurityGroups", "GroupId", BRANCH_SG)["IpPermissionsEgress"] =
        json!([everything_to_anywhere()]);
    check(&snapshot.audit_on_ports(&port(5432)), BRANCH_ENI, EGRESS).reachable();
}

#[test]
fn a_snat_exemption_that_the_peer_group_would_reject_says_so_and_adds_the_rule() {
    // CNI < 1.8: replies of pods on secondary ENIs leave the primary ENI (SRCDST_EGRESS), and one
    // fix is to exempt the peer from SNAT. The peer's database admits only the node subnet, so
    // pod-initiated connections would then arrive from the pod subnet and be rejected.
    let report =
        pods_in_their_own_subnet_on("v1.7.10", &[], vec![tcp_from(5432, NODE_SUBNET_CIDR)])
            .audit_on_ports(&port(5432));
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);
    let f = finding(
        &report,
        FindingKind::Unreachable,
        Cause::SrcdstEgress,
        INGRESS,
    );
    let exemption = f
        .remediation
        .iter()
        .find(|r| r.action.contains("exempt"))
        .expect("the SNAT exemption fix");
    assert!(!exemption.breaks.is_empty(), "{exemption:#?}");
    assert!(
        exemption.breaks[0].contains(PEER_SG) && exemption.breaks[0].contains("pod addresses"),
        "{:?}",
        exemption.breaks
    );
    assert!(exemption.action.contains("WARNING"), "{}", exemption.action);
    let rule = commands(f)
        .into_iter()
        .find(|c| c.starts_with("aws ec2 authorize-security-group-ingress"))
        .expect("the rule that admits the pod subnet");
    assert!(
        rule.contains(PEER_SG) && rule.contains(POD_SUBNET_CIDR) && rule.contains("FromPort=5432"),
        "{rule}"
    );
    // With a peer group that admits both, the same fix carries no warning.
    let both = vec![permission(
        "tcp",
        Some((5432, 5432)),
        &[NODE_SUBNET_CIDR, POD_SUBNET_CIDR],
        vec![],
    )];
    let report = pods_in_their_own_subnet_on("v1.7.10", &[], both).audit_on_ports(&port(5432));
    let f = finding(
        &report,
        FindingKind::Unreachable,
        Cause::SrcdstEgress,
        INGRESS,
    );
    assert!(
        f.remediation.iter().all(|r| r.breaks.is_empty()),
        "{:#?}",
        f.remediation
    );
}

#[test]
fn missing_far_side_groups_make_the_hop_unknown_never_a_guess() {
    let mut snapshot = with_filters(
        shop().cni("v1.16.0", &[]),
        vec![tcp_from(5432, NODE_SUBNET_CIDR)],
        allow_all(),
        allow_all(),
    );
    let sgs = snapshot.json_mut(SGS_FILE);
    sgs["SecurityGroups"]
        .as_array_mut()
        .expect("groups")
        .retain(|g| g["GroupId"] != PEER_SG);
    let report = snapshot.audit_on_ports(&port(5432));
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.unknown(Cause::MissingInput);
    assert!(
        path.path.causes[0].detail.contains(PEER_SG),
        "{:?}",
        path.path.causes
    );
    // Without any security group or ACL output, the filters are an assumption, as before.
    let report = shop().cni("v1.16.0", &[]).audit_on_ports(&port(5432));
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.reachable();
    assert_eq!(path.path.tcp_ports, None);
    assert!(
        path.path
            .assumptions
            .iter()
            .any(|a| a.contains("security groups are not in the snapshot"))
    );
    assert!(
        report.clusters[0]
            .assumptions
            .iter()
            .any(|a| a.contains("tcp/5432"))
    );
    assert_eq!(path.path.verdict, Verdict::Reachable);
}

/// The cluster's groups in `snapshot` admit inbound only `inbound`.
fn cluster_groups_admit(snapshot: &mut Snapshot, inbound: Vec<Value>) {
    let sgs = snapshot.json_mut(SGS_FILE);
    for g in sgs["SecurityGroups"].as_array_mut().expect("groups") {
        if g["VpcId"] == CLUSTER_VPC {
            g["IpPermissions"] = json!(inbound.clone());
        }
    }
}

#[test]
fn the_pod_group_must_admit_the_far_host_for_connections_it_opens() {
    let mut snapshot = with_filters(
        shop().cni("v1.16.0", &[]),
        vec![tcp_from(5432, NODE_SUBNET_CIDR)],
        allow_all(),
        allow_all(),
    );
    cluster_groups_admit(&mut snapshot, vec![tcp_from(8080, "10.1.0.0/16")]);
    let report = snapshot.audit_on_ports(&port(8080));
    check(&report, SECONDARY_ENI, INGRESS).reachable();
    let report = snapshot.audit_on_ports(&port(9090));
    let path = check(&report, SECONDARY_ENI, INGRESS);
    path.unreachable(Cause::SgIngress);
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains(SECONDARY_ENI) && why.contains("tcp/9090"),
        "{why}"
    );
    let f = finding(&report, FindingKind::Unreachable, Cause::SgIngress, INGRESS);
    assert!(
        commands(f)
            .iter()
            .any(|c| c.contains(&format!("--group-id {NODE_SG}"))
                && c.contains("FromPort=9090")
                && c.contains("CidrIp=10.1.0.0/24")),
        "{:#?}",
        f.remediation
    );
}

#[test]
fn a_reply_leaving_another_eni_than_the_request_entered_needs_that_enis_outbound_rule() {
    // CNI v1.7.10: the reply of a pod on the secondary ENI leaves by the primary ENI (its
    // source/destination check off here, so EC2 forwards it). No connection is tracked on the
    // primary ENI, so its own outbound rules must let the reply out.
    let mut snapshot = shop().cni("v1.7.10", &[]);
    snapshot.eni_mut(PRIMARY_ENI)["SourceDestCheck"] = json!(false);
    snapshot.eni_mut(PRIMARY_ENI)["Groups"] =
        json!([{ "GroupName": "nodes-443-out", "GroupId": "sg-0a7d1e2f3a4b5c6cc" }]);
    let mut snapshot = with_filters(
        snapshot,
        vec![tcp_from(5432, NODE_SUBNET_CIDR)],
        allow_all(),
        allow_all(),
    );
    let sgs = snapshot.json_mut(SGS_FILE);
    sgs["SecurityGroups"]
        .as_array_mut()
        .expect("groups")
        .push(group(
            "sg-0a7d1e2f3a4b5c6cc",
            "nodes-443-out",
            CLUSTER_VPC,
            vec![permission("-1", None, &["10.1.0.0/16"], vec![])],
            vec![tcp_from(443, "0.0.0.0/0")],
        ));
    let report = snapshot.audit_on_ports(&port(8080));
    let path = check(&report, SECONDARY_ENI, INGRESS);
    path.unreachable(Cause::SgEgress).leaves_by(PRIMARY_ENI);
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains("tracks no connection") && why.contains("sg-0a7d1e2f3a4b5c6cc"),
        "{why}"
    );
}

#[test]
fn a_new_eni_without_eniconfig_groups_gets_the_vpc_default_group_before_1_8() {
    // Custom networking with an ENIConfig that lists no security groups: before v1.8.0 the CNI
    // created the node's next ENI with none, so EC2 gave it the VPC's `default` group (issue
    // #1124); from v1.8.0 it takes the primary ENI's (PR #1259). Here the default group lets
    // nothing out, so pods that land on that next ENI, not SNATed, cannot reach the peer.
    let latent = |version: &str| {
        let env = [("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")];
        let admits_all = vec![permission(
            "-1",
            None,
            &["10.0.0.0/8", "100.64.0.0/10"],
            vec![],
        )];
        let mut snapshot = pods_in_their_own_subnet_on(version, &env, admits_all);
        let configs = snapshot.json_mut("shop/eniconfigs.json");
        configs["items"][0]["spec"]
            .as_object_mut()
            .expect("ENIConfig spec")
            .remove("securityGroups");
        snapshot.json_mut(SGS_FILE)["SecurityGroups"]
            .as_array_mut()
            .expect("groups")
            .push(group(
                "sg-0a7d1e2f3a4b5c6dd",
                "default",
                CLUSTER_VPC,
                vec![permission(
                    "-1",
                    None,
                    &[],
                    vec![json!({ "GroupId": "sg-0a7d1e2f3a4b5c6dd" })],
                )],
                vec![],
            ));
        let report = snapshot.audit_on_ports(&port(5432));
        findings(&report, FindingKind::LatentRisk, Cause::SgEgress, EGRESS)
            .into_iter()
            .map(|f| f.detail.clone())
            .collect::<Vec<_>>()
    };
    let before = latent("v1.7.10");
    assert_eq!(before.len(), 1, "{before:#?}");
    assert!(before[0].contains("sg-0a7d1e2f3a4b5c6dd"), "{}", before[0]);
    assert!(
        latent("v1.8.0").is_empty(),
        "the primary ENI's groups let it out"
    );
}

// ---- Security-group references over a transit gateway (docs/datapath.md §5.7) ------------------

/// A rule naming a group of the same account with no peering connection: how
/// `describe-security-groups` prints a reference to a group across a transit gateway.
fn group_pair(protocol: &str, ports: Option<(u16, u16)>, group: &str) -> Value {
    permission(
        protocol,
        ports,
        &[],
        vec![json!({ "GroupId": group, "UserId": "111122223333" })],
    )
}

/// The shop reaching the peer over a transit gateway (attachment in the node's AZ, so only the
/// filters decide), the peer's database group admitting `peer_inbound`.
fn over_transit_gateway(peer_inbound: Vec<Value>) -> Snapshot {
    with_filters(
        via_transit_gateway(NODE_SUBNET),
        peer_inbound,
        allow_all(),
        allow_all(),
    )
}

fn everything_from_the_cluster_vpc() -> Value {
    permission("-1", None, &["10.0.0.0/16"], vec![])
}

#[test]
fn over_a_transit_gateway_a_node_group_admitting_only_itself_is_sg_ingress_not_unknown() {
    // EKS's cluster security group admits itself; the peer's ENI can never carry it, so the
    // gateway's SecurityGroupReferencingSupport cannot change the verdict.
    let mut snapshot = over_transit_gateway(vec![everything_from_the_cluster_vpc()]);
    snapshot.object_mut(SGS_FILE, "SecurityGroups", "GroupId", NODE_SG)["IpPermissions"] =
        json!([group_pair("-1", None, NODE_SG)]);
    let report = snapshot.audit_on_ports(&port(5432));

    let path = check(&report, PRIMARY_ENI, INGRESS);
    path.unreachable(Cause::SgIngress);
    assert!(
        path.path
            .assumptions
            .iter()
            .any(|a| a.contains("SecurityGroupReferencingSupport")),
        "the question is noted: {:#?}",
        path.path.assumptions
    );
    check(&report, PRIMARY_ENI, EGRESS).reachable();
}

#[test]
fn over_a_transit_gateway_a_peer_rule_naming_the_node_group_for_another_port_is_peer_sg() {
    let report = over_transit_gateway(vec![group_pair("tcp", Some((443, 443)), NODE_SG)])
        .audit_on_ports(&port(5432));
    check(&report, PRIMARY_ENI, EGRESS)
        .unreachable(Cause::PeerSg)
        .source_at_peer(NODE_IP);
}

#[test]
fn over_a_transit_gateway_a_peer_rule_naming_the_node_group_for_the_port_stays_unknown() {
    // Here the verdict does depend on the gateway's setting, which podreach does not read.
    let report = over_transit_gateway(vec![group_pair("tcp", Some((5432, 5432)), NODE_SG)])
        .audit_on_ports(&port(5432));
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.unknown(Cause::MissingInput);
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains("SecurityGroupReferencingSupport")
            && why.contains("aws ec2 describe-transit-gateways --transit-gateway-ids"),
        "{why}"
    );
}

#[test]
fn over_a_transit_gateway_an_outbound_rule_naming_the_peer_group_never_matches() {
    // AWS passes references over a transit gateway in inbound rules only.
    let only_to_the_peer_group = json!([group_pair("tcp", Some((5432, 5432)), PEER_SG)]);
    let mut snapshot = over_transit_gateway(vec![everything_from_the_cluster_vpc()]);
    snapshot.object_mut(SGS_FILE, "SecurityGroups", "GroupId", NODE_SG)["IpPermissionsEgress"] =
        only_to_the_peer_group;
    let report = snapshot.audit_on_ports(&port(5432));
    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::SgEgress);

    // Across a peering connection in one Region the same reference matches.
    let mut peered = with_filters(
        shop().cni("v1.18.3", &[]),
        vec![everything_from_the_cluster_vpc()],
        allow_all(),
        allow_all(),
    );
    let mut across_the_peering = tcp_from_group(5432, PEER_SG);
    across_the_peering["UserIdGroupPairs"][0]["VpcId"] = json!(PEER_VPC);
    peered.object_mut(SGS_FILE, "SecurityGroups", "GroupId", NODE_SG)["IpPermissionsEgress"] =
        json!([across_the_peering]);
    let report = peered.audit_on_ports(&port(5432));
    check(&report, PRIMARY_ENI, EGRESS).reachable();
}

#[test]
fn an_attachment_that_disables_referencing_stops_the_reference_over_the_transit_gateway() {
    let mut snapshot = over_transit_gateway(vec![group_pair("tcp", Some((5432, 5432)), NODE_SG)]);
    snapshot.object_mut(
        "ec2/transit-gateway-vpc-attachments.json",
        "TransitGatewayVpcAttachments",
        "TransitGatewayAttachmentId",
        "tgw-attach-0b1b2c3d4e5f60b02",
    )["Options"]["SecurityGroupReferencingSupport"] = json!("disable");
    let report = snapshot.audit_on_ports(&port(5432));
    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::PeerSg);
}

#[test]
fn over_a_transit_gateway_a_block_without_far_enis_decides_a_self_referencing_node_group() {
    // The far VPC's ENIs are read and none holds an address of the destination block: no
    // reference can match a sender there, whatever the gateway's setting (the case the
    // differential test found).
    let mut snapshot = over_transit_gateway(vec![everything_from_the_cluster_vpc()]);
    snapshot.object_mut(SGS_FILE, "SecurityGroups", "GroupId", NODE_SG)["IpPermissions"] =
        json!([group_pair("-1", None, NODE_SG)]);
    let database = snapshot.eni_mut("eni-0b01f1e2d3c4b5a65");
    database["PrivateIpAddress"] = json!("10.1.7.50");
    database["PrivateIpAddresses"] = json!([private_ip("10.1.7.50", true)]);
    let report = snapshot.audit_on_ports(&port(5432));

    check(&report, PRIMARY_ENI, INGRESS).unreachable(Cause::SgIngress);
}

/// `describe-transit-gateways` output for the fixture's gateway, and every VPC attachment's
/// `SecurityGroupReferencingSupport` set to `attachments`.
fn referencing(snapshot: &mut Snapshot, gateway: &str, attachments: &str) {
    snapshot.insert(
        "ec2/transit-gateways.json",
        json!({ "TransitGateways": [{
            "TransitGatewayId": TGW,
            "State": "available",
            "OwnerId": "111122223333",
            "Options": {
                "AmazonSideAsn": 64512,
                "AutoAcceptSharedAttachments": "disable",
                "DefaultRouteTableAssociation": "enable",
                "DefaultRouteTablePropagation": "enable",
                "VpnEcmpSupport": "enable",
                "DnsSupport": "enable",
                "SecurityGroupReferencingSupport": gateway,
                "MulticastSupport": "disable"
            }
        }] }),
    );
    for id in [CLUSTER_TGW_ATTACHMENT, "tgw-attach-0b1b2c3d4e5f60b02"] {
        snapshot.object_mut(
            "ec2/transit-gateway-vpc-attachments.json",
            "TransitGatewayVpcAttachments",
            "TransitGatewayAttachmentId",
            id,
        )["Options"]["SecurityGroupReferencingSupport"] = json!(attachments);
    }
}

#[test]
fn a_transit_gateway_and_attachments_enabling_referencing_let_the_reference_decide() {
    let rule = || vec![group_pair("tcp", Some((5432, 5432)), NODE_SG)];

    let mut enabled = over_transit_gateway(rule());
    referencing(&mut enabled, "enable", "enable");
    let report = enabled.audit_on_ports(&port(5432));
    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);

    let mut disabled = over_transit_gateway(rule());
    referencing(&mut disabled, "disable", "enable");
    let report = disabled.audit_on_ports(&port(5432));
    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::PeerSg);
}

#[test]
fn an_attachment_output_without_the_option_leaves_the_reference_unknown_and_names_the_command() {
    let mut snapshot = over_transit_gateway(vec![group_pair("tcp", Some((5432, 5432)), NODE_SG)]);
    referencing(&mut snapshot, "enable", "enable");
    let attachment = snapshot.object_mut(
        "ec2/transit-gateway-vpc-attachments.json",
        "TransitGatewayVpcAttachments",
        "TransitGatewayAttachmentId",
        "tgw-attach-0b1b2c3d4e5f60b02",
    );
    attachment["Options"]
        .as_object_mut()
        .expect("the attachment's options")
        .remove("SecurityGroupReferencingSupport");
    let report = snapshot.audit_on_ports(&port(5432));
    let path = check(&report, PRIMARY_ENI, EGRESS);
    path.unknown(Cause::MissingInput);
    let why = &path.path.causes[0].detail;
    assert!(
        why.contains("describe-transit-gateway-vpc-attachments")
            && !why.contains("describe-transit-gateways --"),
        "{why}"
    );
}
