//! docs/datapath.md §6.1, row by row: the verdicts of both directions for a pod on the primary ENI and
//! a pod on a secondary ENI of the demo node, talking to the peered VPC (10.1.0.0/24 over
//! pcx-0ab15c2d3e4f50801, every AWS route in place, rp_filter(eth0) = 2 unless a row says 1).

mod support;

use podreach_core::Overrides;
use podreach_core::datapath::HostTable;
use podreach_core::report::Cause;
use support::*;

const PEER_VPC_CIDR: &str = "10.1.0.0/16";
const SECONDARY_TABLE: HostTable = HostTable::Eni(Some(2));

// ---- ≤ 1.7, E=false, D ∉ X ----------------------------------------------------------------------

#[test]
fn secondary_eni_pod_reply_leaves_primary_eni_before_1_8() {
    let report = shop().cni("v1.7.10", &[]).audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI)
        .host_table(HostTable::Main);
    check(&report, PRIMARY_ENI, INGRESS)
        .reachable()
        .leaves_by(PRIMARY_ENI);
    check(&report, SECONDARY_ENI, INGRESS)
        .unreachable(Cause::SrcdstEgress)
        .source_at_peer("pod-ip")
        .leaves_by(PRIMARY_ENI);
}

// ---- ≤ 1.2: the legacy `not to <primary VPC CIDR> lookup main` rule --------------------------------

#[test]
fn v1_2_legacy_rule_sends_secondary_eni_pod_replies_out_of_the_primary_eni() {
    let report = shop().cni("v1.2.0", &[]).audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS)
        .unreachable(Cause::SrcdstEgress)
        .leaves_by(PRIMARY_ENI);
}

// ---- 1.6–1.7, E=false, D ∈ X ----------------------------------------------------------------------

#[test]
fn v1_7_with_the_peer_in_exclude_snat_cidrs_pods_use_their_own_eni_and_address_both_ways() {
    let report = shop()
        .cni(
            "v1.7.10",
            &[("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", PEER_VPC_CIDR)],
        )
        .audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(PRIMARY_ENI);
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI)
        .host_table(SECONDARY_TABLE);
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS)
        .reachable()
        .leaves_by(SECONDARY_ENI);
}

#[test]
fn exclude_snat_cidrs_are_not_read_before_1_6_so_1_5_behaves_like_the_default() {
    let report = shop()
        .cni(
            "v1.5.5",
            &[("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", PEER_VPC_CIDR)],
        )
        .audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS).unreachable(Cause::SrcdstEgress);
}

// ---- any version, E=true ------------------------------------------------------------------------

#[test]
fn external_snat_pods_leave_their_own_eni_with_their_own_address_from_1_8() {
    let report = shop()
        .cni("v1.18.3", &[("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")])
        .audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(PRIMARY_ENI);
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI)
        .host_table(SECONDARY_TABLE);
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS)
        .reachable()
        .leaves_by(SECONDARY_ENI);
}

#[test]
fn external_snat_before_1_8_also_lets_the_peer_reach_secondary_eni_pods() {
    let report = shop()
        .cni("v1.7.10", &[("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true")])
        .audit();

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip");
    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI);
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS)
        .reachable()
        .leaves_by(SECONDARY_ENI);
}

// ---- 1.8.0–1.12.0, E=false, N=true ----------------------------------------------------------------

#[test]
fn from_1_8_to_1_12_0_with_node_port_support_every_path_works() {
    for version in ["v1.8.0", "v1.11.4", "v1.12.0"] {
        let report = shop()
            .cni(version, &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "true")])
            .audit();
        assert_eq!(report.clusters[0].cni.modelled_version, version);

        check(&report, PRIMARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP);
        check(&report, SECONDARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP)
            .leaves_by(PRIMARY_ENI)
            .host_table(HostTable::Main);
        check(&report, PRIMARY_ENI, INGRESS).reachable();
        check(&report, SECONDARY_ENI, INGRESS)
            .reachable()
            .leaves_by(SECONDARY_ENI);
    }
}

// ---- 1.8.0–1.12.0, E=false, N=false, D ∉ X ------------------------------------------------------

#[test]
fn from_1_8_to_1_12_0_without_node_port_support_secondary_eni_pod_egress_leaves_its_eni_snated() {
    for version in ["v1.8.0", "v1.11.4", "v1.12.0"] {
        let report = shop()
            .cni(version, &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")])
            .audit();
        assert_eq!(report.clusters[0].cni.modelled_version, version);

        check(&report, PRIMARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP)
            .leaves_by(PRIMARY_ENI);
        check(&report, SECONDARY_ENI, EGRESS)
            .unreachable(Cause::SrcdstEgress)
            .source_at_peer(NODE_IP)
            .leaves_by(SECONDARY_ENI)
            .host_table(SECONDARY_TABLE);
        check(&report, PRIMARY_ENI, INGRESS).reachable();
        check(&report, SECONDARY_ENI, INGRESS)
            .reachable()
            .leaves_by(SECONDARY_ENI);
    }
}

// ---- ≥ 1.12.1, E=false, any N ----------------------------------------------------------------

#[test]
fn from_1_12_1_without_node_port_support_every_path_works() {
    for version in ["v1.12.1", "v1.19.0"] {
        let report = shop()
            .cni(version, &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")])
            .audit();
        assert_eq!(report.clusters[0].cni.modelled_version, version);

        check(&report, PRIMARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP);
        check(&report, SECONDARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP)
            .leaves_by(PRIMARY_ENI);
        check(&report, PRIMARY_ENI, INGRESS).reachable();
        check(&report, SECONDARY_ENI, INGRESS)
            .reachable()
            .leaves_by(SECONDARY_ENI);
    }
}

// ---- ≥ 1.8, E=false, rpf_mode(eth0) = 1 -------------------------------------------------------

#[test]
fn strict_rp_filter_on_the_primary_interface_drops_replies_to_secondary_eni_pod_connections() {
    let overrides = Overrides {
        rp_filter_primary: Some(1),
        ..Overrides::default()
    };
    let report = shop().cni("v1.18.3", &[]).audit_with(&overrides);

    check(&report, PRIMARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);
    check(&report, SECONDARY_ENI, EGRESS)
        .unreachable(Cause::RpfStrict)
        .source_at_peer(NODE_IP)
        .leaves_by(PRIMARY_ENI);
    check(&report, PRIMARY_ENI, INGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS)
        .reachable()
        .leaves_by(SECONDARY_ENI);
}

#[test]
fn loose_rp_filter_on_the_primary_interface_lets_secondary_eni_pod_replies_in() {
    let overrides = Overrides {
        rp_filter_primary: Some(2),
        ..Overrides::default()
    };
    let report = shop().cni("v1.18.3", &[]).audit_with(&overrides);

    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer(NODE_IP);
}

// ---- ≥ 1.12.6, D ∈ ES ------------------------------------------------------------------------

#[test]
fn external_service_cidr_with_snat_breaks_only_the_peer_opening_connections_to_secondary_eni_pods()
{
    for version in ["v1.12.6", "v1.19.0"] {
        let report = shop()
            .cni(version, &[("AWS_EXTERNAL_SERVICE_CIDRS", PEER_VPC_CIDR)])
            .audit();
        assert_eq!(report.clusters[0].cni.modelled_version, version);

        check(&report, PRIMARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP);
        check(&report, SECONDARY_ENI, EGRESS)
            .reachable()
            .source_at_peer(NODE_IP)
            .leaves_by(PRIMARY_ENI)
            .host_table(HostTable::Main);
        check(&report, PRIMARY_ENI, INGRESS).reachable();
        check(&report, SECONDARY_ENI, INGRESS)
            .unreachable(Cause::SrcdstEgress)
            .source_at_peer("pod-ip")
            .leaves_by(PRIMARY_ENI);
    }
}

#[test]
fn external_service_cidr_without_snat_breaks_secondary_eni_pods_both_ways() {
    let unsnated: [&[(&str, &str)]; 2] = [
        &[
            ("AWS_EXTERNAL_SERVICE_CIDRS", PEER_VPC_CIDR),
            ("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", PEER_VPC_CIDR),
        ],
        &[
            ("AWS_EXTERNAL_SERVICE_CIDRS", PEER_VPC_CIDR),
            ("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true"),
        ],
    ];
    for env in unsnated {
        let report = shop().cni("v1.12.6", env).audit();

        check(&report, PRIMARY_ENI, EGRESS)
            .reachable()
            .source_at_peer("pod-ip")
            .leaves_by(PRIMARY_ENI);
        check(&report, SECONDARY_ENI, EGRESS)
            .unreachable(Cause::SrcdstEgress)
            .source_at_peer("pod-ip")
            .leaves_by(PRIMARY_ENI);
        check(&report, PRIMARY_ENI, INGRESS).reachable();
        check(&report, SECONDARY_ENI, INGRESS)
            .unreachable(Cause::SrcdstEgress)
            .leaves_by(PRIMARY_ENI);
    }
}

#[test]
fn external_service_cidrs_are_not_read_before_1_12_6() {
    let report = shop()
        .cni(
            "v1.12.5",
            &[
                ("AWS_EXTERNAL_SERVICE_CIDRS", PEER_VPC_CIDR),
                ("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true"),
            ],
        )
        .audit();

    check(&report, SECONDARY_ENI, EGRESS)
        .reachable()
        .source_at_peer("pod-ip")
        .leaves_by(SECONDARY_ENI);
    check(&report, SECONDARY_ENI, INGRESS)
        .reachable()
        .leaves_by(SECONDARY_ENI);
}
