//! Transit gateway route tables on the path (docs/datapath.md §10.11): the table associated with
//! the attachment a packet enters by decides; the most specific route wins, a static route beats
//! a propagated one of the same prefix, a blackhole drops; the far attachment's table must route
//! the source the far side sees back to the cluster VPC's attachment. Tables podreach cannot
//! read make the verdict unknown, never reachable.

mod support;

use podreach_core::report::{Cause, FindingKind};
use serde_json::json;
use support::*;

fn over_tgw() -> Snapshot {
    via_transit_gateway(NODE_SUBNET)
}

fn fix_commands(
    report: &podreach_core::Report,
    cause: Cause,
    direction: podreach_core::report::Direction,
) -> Vec<String> {
    commands(finding(report, FindingKind::Unreachable, cause, direction))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn routes_in_both_tables_carry_the_traffic_both_ways() {
    let report = over_tgw().audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).reachable();
        check(&report, eni, INGRESS).reachable();
    }
    let path = check(&report, PRIMARY_ENI, EGRESS).path;
    assert!(
        path.hops.iter().any(|h| h.detail.contains(SPOKE_TGW_TABLE)),
        "{:#?}",
        path.hops
    );
    assert!(
        path.hops
            .iter()
            .any(|h| h.detail.contains(SHARED_TGW_TABLE)),
        "{:#?}",
        path.hops
    );
}

#[test]
fn a_static_blackhole_for_the_far_vpc_in_the_cluster_attachments_table_is_tgw_blackhole() {
    // The case: the propagated route is still there, but a static route for the same
    // prefix wins over it.
    let mut snapshot = over_tgw();
    snapshot.tgw_routes_mut(SPOKE_TGW_TABLE).push(tgw_route(
        "10.1.0.0/16",
        None,
        "static",
        "blackhole",
    ));
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::TgwBlackhole);
        check(&report, eni, INGRESS).mentions(Cause::TgwBlackhole);
    }
    let fixes = fix_commands(&report, Cause::TgwBlackhole, EGRESS);
    assert!(
        fixes.contains(&format!(
            "aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {SPOKE_TGW_TABLE} \
             --destination-cidr-block 10.1.0.0/16 --transit-gateway-attachment-id {PEER_TGW_ATTACHMENT}"
        )),
        "{fixes:#?}"
    );
}

#[test]
fn a_wider_blackhole_is_fixed_by_a_more_specific_route_that_leaves_the_rest_dropped() {
    let mut snapshot = over_tgw();
    let routes = snapshot.tgw_routes_mut(SPOKE_TGW_TABLE);
    routes.clear();
    routes.push(tgw_route("10.0.0.0/8", None, "static", "blackhole"));
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::TgwBlackhole);
    let fixes = fix_commands(&report, Cause::TgwBlackhole, EGRESS);
    // The propagation list still says enabled (its route has not appeared): the fix is a static
    // route for exactly the far VPC's CIDR, more specific than the /8, which stays as it is.
    assert!(
        fixes
            .iter()
            .any(|c| c.contains("--destination-cidr-block 10.1.0.0/16")
                && c.contains(&format!(
                    "--transit-gateway-attachment-id {PEER_TGW_ATTACHMENT}"
                ))),
        "{fixes:#?}"
    );
    assert!(
        !fixes.iter().any(|c| c.contains("10.0.0.0/8")),
        "the wider route stays as it is: {fixes:#?}"
    );
}

#[test]
fn a_far_attachment_not_propagated_into_the_cluster_attachments_table_is_tgw_no_route() {
    let mut snapshot = over_tgw();
    snapshot.tgw_routes_mut(SPOKE_TGW_TABLE).clear();
    snapshot.tgw_propagations_mut(SPOKE_TGW_TABLE).clear();
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::TgwNoRoute);
    }
    let fixes = fix_commands(&report, Cause::TgwNoRoute, EGRESS);
    assert!(
        fixes.contains(&format!(
            "aws ec2 enable-transit-gateway-route-table-propagation --transit-gateway-route-table-id {SPOKE_TGW_TABLE} \
             --transit-gateway-attachment-id {PEER_TGW_ATTACHMENT}"
        )),
        "{fixes:#?}"
    );
}

#[test]
fn the_far_attachments_table_without_the_cluster_vpc_is_tgw_no_return_both_ways() {
    let mut snapshot = over_tgw();
    snapshot.tgw_routes_mut(SHARED_TGW_TABLE).clear();
    snapshot.tgw_propagations_mut(SHARED_TGW_TABLE).clear();
    let report = snapshot.audit();

    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, EGRESS).unreachable(Cause::TgwNoReturn);
        // The peer's request toward the pod is routed by the same table.
        check(&report, eni, INGRESS).unreachable(Cause::TgwNoReturn);
    }
    let fixes = fix_commands(&report, Cause::TgwNoReturn, EGRESS);
    assert!(
        fixes.contains(&format!(
            "aws ec2 enable-transit-gateway-route-table-propagation --transit-gateway-route-table-id {SHARED_TGW_TABLE} \
             --transit-gateway-attachment-id {CLUSTER_TGW_ATTACHMENT}"
        )),
        "{fixes:#?}"
    );
}

#[test]
fn a_more_specific_blackhole_for_the_node_subnet_in_the_far_table_drops_the_snated_reply() {
    let mut snapshot = over_tgw();
    snapshot.tgw_routes_mut(SHARED_TGW_TABLE).push(tgw_route(
        "10.0.1.0/24",
        None,
        "static",
        "blackhole",
    ));
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .unreachable(Cause::TgwBlackhole)
        .source_at_peer(NODE_IP);
    let fixes = fix_commands(&report, Cause::TgwBlackhole, EGRESS);
    assert!(
        fixes.contains(&format!(
            "aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {SHARED_TGW_TABLE} \
             --destination-cidr-block 10.0.1.0/24 --transit-gateway-attachment-id {CLUSTER_TGW_ATTACHMENT}"
        )),
        "{fixes:#?}"
    );
}

#[test]
fn a_route_to_another_vpc_attachment_returns_the_traffic_elsewhere() {
    let mut snapshot = over_tgw();
    let routes = snapshot.tgw_routes_mut(SHARED_TGW_TABLE);
    routes.clear();
    routes.push(tgw_route(
        "10.0.0.0/16",
        Some(("tgw-attach-0c1b2c3d4e5f60b03", "vpc-0c6f3e2d1c0b59603")),
        "static",
        "active",
    ));
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::TgwNoReturn);
    let fixes = fix_commands(&report, Cause::TgwNoReturn, EGRESS);
    assert!(
        fixes.contains(&format!(
            "aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {SHARED_TGW_TABLE} \
             --destination-cidr-block 10.0.0.0/16 --transit-gateway-attachment-id {CLUSTER_TGW_ATTACHMENT}"
        )),
        "{fixes:#?}"
    );
}

#[test]
fn an_attachment_associated_with_no_table_has_its_traffic_dropped() {
    let mut snapshot = over_tgw();
    snapshot.tgw_associations_mut(SPOKE_TGW_TABLE).clear();
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS).unreachable(Cause::TgwNoRoute);
    let fixes = fix_commands(&report, Cause::TgwNoRoute, EGRESS);
    assert!(
        fixes.iter().any(
            |c| c.starts_with("aws ec2 associate-transit-gateway-route-table ")
                && c.ends_with(CLUSTER_TGW_ATTACHMENT)
        ),
        "{fixes:#?}"
    );
}

#[test]
fn without_the_route_tables_the_verdict_is_unknown_naming_the_commands() {
    let mut snapshot = over_tgw();
    snapshot.remove_tgw_route_tables();
    let report = snapshot.audit();

    let path = check(&report, PRIMARY_ENI, EGRESS)
        .unknown(Cause::MissingInput)
        .path;
    assert!(
        path.causes[0]
            .detail
            .contains("aws ec2 describe-transit-gateway-route-tables"),
        "{:#?}",
        path.causes
    );
}

#[test]
fn a_gateway_shared_from_another_account_without_its_tables_is_unknown_remote_naming_the_owner() {
    let mut snapshot = over_tgw();
    snapshot.remove_tgw_route_tables();
    snapshot.insert(
        "ec2/transit-gateways.json",
        json!({ "TransitGateways": [{ "TransitGatewayId": TGW, "State": "available", "OwnerId": "444455556666" }] }),
    );
    let report = snapshot.audit();

    let path = check(&report, PRIMARY_ENI, EGRESS)
        .unknown(Cause::UnknownRemote)
        .path;
    assert!(
        path.causes[0].detail.contains("444455556666"),
        "{:#?}",
        path.causes
    );
}

#[test]
fn a_search_for_other_prefixes_is_unknown_not_a_missing_route() {
    let mut snapshot = over_tgw();
    let file = tgw_table_file(SPOKE_TGW_TABLE, "routes");
    snapshot.json_mut(&file)["SearchedPrefixes"] = json!(["10.9.0.0/16"]);
    snapshot.tgw_routes_mut(SPOKE_TGW_TABLE).clear();
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS).unknown(Cause::MissingInput);
}

#[test]
fn a_search_cut_at_a_thousand_routes_is_unknown_not_a_missing_route() {
    let mut snapshot = over_tgw();
    let file = tgw_table_file(SPOKE_TGW_TABLE, "routes");
    snapshot.json_mut(&file)["AdditionalRoutesAvailable"] = json!(true);
    snapshot.tgw_routes_mut(SPOKE_TGW_TABLE).clear();
    let report = snapshot.audit();

    check(&report, PRIMARY_ENI, EGRESS).unknown(Cause::MissingInput);
}

#[test]
fn a_route_to_a_vpn_attachment_ends_the_path_beyond_with_the_assumption_stated() {
    let mut snapshot = over_tgw();
    let routes = snapshot.tgw_routes_mut(SPOKE_TGW_TABLE);
    routes.clear();
    routes.push(json!({
        "DestinationCidrBlock": "10.1.0.0/16",
        "TransitGatewayAttachments": [{
            "ResourceId": "vpn-0a1b2c3d4e5f60d01",
            "TransitGatewayAttachmentId": "tgw-attach-0d1b2c3d4e5f60b04",
            "ResourceType": "vpn"
        }],
        "Type": "propagated",
        "State": "active"
    }));
    let report = snapshot.audit();

    let path = check(&report, PRIMARY_ENI, EGRESS)
        .unknown(Cause::UnknownRemote)
        .path;
    assert!(
        path.assumptions
            .iter()
            .any(|a| a.contains("vpn-0a1b2c3d4e5f60d01")),
        "{:#?}",
        path.assumptions
    );
}

#[test]
fn a_routes_file_that_names_no_table_is_a_gap_and_not_used() {
    let mut snapshot = over_tgw();
    let file = tgw_table_file(SPOKE_TGW_TABLE, "routes");
    let routes = snapshot.json_mut(&file).clone();
    snapshot.remove(&file);
    snapshot.insert("ec2/tgw/routes.json", routes);
    let report = snapshot.audit();

    assert!(
        report
            .gaps
            .iter()
            .any(|g| g.file.as_deref() == Some("ec2/tgw/routes.json")),
        "{:#?}",
        report.gaps
    );
    check(&report, PRIMARY_ENI, EGRESS).unknown(Cause::MissingInput);
}

#[test]
fn a_far_table_routing_only_part_of_the_node_subnet_back_says_so() {
    // Only the upper half of the node subnet is routed back: the whole subnet is not, and a
    // new ENI's address may fall in the other half (docs/datapath.md §10.6).
    let mut snapshot = over_tgw();
    let routes = snapshot.tgw_routes_mut(SHARED_TGW_TABLE);
    routes.clear();
    routes.push(tgw_route(
        "10.0.1.128/25",
        Some((CLUSTER_TGW_ATTACHMENT, CLUSTER_VPC)),
        "static",
        "active",
    ));
    let report = snapshot.audit();

    let path = check(&report, PRIMARY_ENI, EGRESS)
        .unreachable(Cause::TgwNoReturn)
        .path;
    let detail = &path.causes[0].detail;
    assert!(
        detail.contains("has no route for all of") && detail.contains("10.0.1.128/25"),
        "{detail}"
    );
}
