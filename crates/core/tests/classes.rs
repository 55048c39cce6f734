//! The class-based verdict matrix against the naive baseline (every pod address × every block,
//! no classes), on small random clusters: CNI versions and settings, extra routes with every
//! kind of fate (peered, not covered by the peer, blackhole, on premises), a second peer subnet
//! with or without a return route. If a class key or a destination signature ever missed an
//! input of the procedure, some address would get another verdict here.

mod support;

use std::collections::BTreeMap;

use podreach_core::analysis::{analyze_cluster, baseline};
use podreach_core::model::Model;
use podreach_core::report::Cause;
use podreach_core::snapshot;
use proptest::prelude::*;
use serde_json::json;
use support::*;

const VERSIONS: [&str; 4] = ["v1.7.10", "v1.11.4", "v1.12.6", "v1.19.0"];

/// Extra routes of the node subnet's table: CIDR, target, state.
const EXTRA_ROUTES: [(&str, &str, &str); 5] = [
    ("10.1.0.0/25", PEERING, "active"),
    ("10.1.1.0/24", PEERING, "active"),
    ("10.9.0.0/16", PEERING, "active"),
    ("172.20.0.0/16", PEERING, "blackhole"),
    ("192.168.0.0/24", "vgw-0a1b2c3d4e5f60901", "active"),
];

/// Routes back that cover part of the node subnet: the node IP and the primary-ENI pods
/// (10.0.1.10–13), the secondary-ENI pods (10.0.1.21–23), two of them, or the node IP only.
const PARTIAL_RETURNS: [&str; 4] = [
    "10.0.1.0/28",
    "10.0.1.16/28",
    "10.0.1.22/31",
    "10.0.1.10/32",
];

#[derive(Debug, Clone)]
struct Case {
    version: usize,
    node_port_false: bool,
    external_snat: bool,
    exclude: Vec<bool>,
    external_service: bool,
    routes: Vec<bool>,
    second_peer_subnet: Option<bool>,
    peer_returns: bool,
    /// The secondary ENI in a second cluster subnet: sharing the node subnet's route table or not.
    second_cluster_subnet: Option<bool>,
    /// The peer routes back only the node subnet (10.0.0.0/20), not the whole VPC.
    peer_returns_node_subnet_only: bool,
    /// A return route over the peering for part of the node subnet, and whether it is the only
    /// one (else it sits beside the broader return route, or a blackhole for that part).
    partial_return: Option<(usize, PartialKind)>,
}

#[derive(Debug, Clone, Copy)]
enum PartialKind {
    Only,
    Beside,
    Blackhole,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..VERSIONS.len(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 2),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), EXTRA_ROUTES.len()),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        proptest::option::of((
            0..PARTIAL_RETURNS.len(),
            prop_oneof![
                Just(PartialKind::Only),
                Just(PartialKind::Beside),
                Just(PartialKind::Blackhole)
            ],
        )),
    )
        .prop_map(
            |(
                version,
                node_port_false,
                external_snat,
                exclude,
                external_service,
                routes,
                second_peer_subnet,
                peer_returns,
                second_cluster_subnet,
                peer_returns_node_subnet_only,
                partial_return,
            )| Case {
                version,
                node_port_false,
                external_snat,
                exclude,
                external_service,
                routes,
                second_peer_subnet,
                peer_returns,
                second_cluster_subnet,
                peer_returns_node_subnet_only,
                partial_return,
            },
        )
}

fn snapshot_of(case: &Case) -> Snapshot {
    let exclude: Vec<&str> = ["10.1.0.0/25", "10.9.0.0/16"]
        .iter()
        .zip(&case.exclude)
        .filter(|(_, on)| **on)
        .map(|(c, _)| *c)
        .collect();
    let exclude = exclude.join(",");
    let mut env: Vec<(&str, &str)> = Vec::new();
    if case.node_port_false {
        env.push(("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false"));
    }
    if case.external_snat {
        env.push(("AWS_VPC_K8S_CNI_EXTERNALSNAT", "true"));
    }
    if !exclude.is_empty() {
        env.push(("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", &exclude));
    }
    if case.external_service {
        env.push(("AWS_EXTERNAL_SERVICE_CIDRS", "10.1.0.128/25"));
    }
    let mut s = shop().cni(VERSIONS[case.version], &env);
    for ((cidr, target, state), on) in EXTRA_ROUTES.iter().zip(&case.routes) {
        if !on {
            continue;
        }
        let route = if target.starts_with("vgw-") {
            json!({ "DestinationCidrBlock": cidr, "GatewayId": target, "Origin": "CreateRoute", "State": state })
        } else {
            json!({ "DestinationCidrBlock": cidr, "Origin": "CreateRoute", "State": state, "VpcPeeringConnectionId": target })
        };
        s.routes_mut(ROUTES_FILE, NODE_ROUTE_TABLE).push(route);
    }
    if let Some(returns) = case.second_peer_subnet {
        let peer_subnet = "subnet-0b21e5f1c2d3b4a12";
        let table = "rtb-0b4e2d3c4b5a69714";
        s.push(
            SUBNETS_FILE,
            "Subnets",
            subnet(peer_subnet, PEER_VPC, "10.1.1.0/24", "eu-west-1b"),
        );
        let mut routes = vec![local_route("10.1.0.0/16")];
        if returns {
            routes.push(peering_route("10.0.0.0/16", PEERING));
        }
        s.push(
            PEER_ROUTES_FILE,
            "RouteTables",
            route_table(table, PEER_VPC, peer_subnet, routes),
        );
    }
    if let Some(same_table) = case.second_cluster_subnet {
        let pods_subnet = "subnet-0a12e5f1c2d3b4a21";
        s.push(
            SUBNETS_FILE,
            "Subnets",
            subnet(pods_subnet, CLUSTER_VPC, "10.0.16.0/20", "us-east-1a"),
        );
        if same_table {
            s.object_mut(ROUTES_FILE, "RouteTables", "RouteTableId", NODE_ROUTE_TABLE)["Associations"]
                .as_array_mut()
                .expect("associations")
                .push(json!({
                    "Main": false,
                    "RouteTableAssociationId": "rtbassoc-0a12e5f1c2d3b4a21",
                    "RouteTableId": NODE_ROUTE_TABLE,
                    "SubnetId": pods_subnet,
                    "AssociationState": { "State": "associated" }
                }));
        } else {
            let routes = vec![local_route("10.0.0.0/16")];
            s.push(
                ROUTES_FILE,
                "RouteTables",
                route_table("rtb-0a5e2d3c4b5a69721", CLUSTER_VPC, pods_subnet, routes),
            );
        }
        s.eni_mut(SECONDARY_ENI)["SubnetId"] = json!(pods_subnet);
        // EC2 keeps an ENI's addresses inside its subnet (the pods dump follows).
        for n in 20..=23 {
            s.rename(&format!("10.0.1.{n}"), &format!("10.0.16.{n}"));
        }
    }
    if case.peer_returns_node_subnet_only {
        for route in s.routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE) {
            if route["DestinationCidrBlock"] == "10.0.0.0/16" {
                route["DestinationCidrBlock"] = json!("10.0.0.0/20");
            }
        }
    }
    if !case.peer_returns {
        s.routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
            .retain(|r| {
                r["DestinationCidrBlock"] != "10.0.0.0/16"
                    && r["DestinationCidrBlock"] != "10.0.0.0/20"
            });
    }
    if let Some((index, kind)) = case.partial_return {
        let routes = s.routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE);
        if matches!(kind, PartialKind::Only) {
            routes.retain(|r| {
                r["DestinationCidrBlock"] != "10.0.0.0/16"
                    && r["DestinationCidrBlock"] != "10.0.0.0/20"
            });
        }
        let mut route = peering_route(PARTIAL_RETURNS[index], PEERING);
        if matches!(kind, PartialKind::Blackhole) {
            route["State"] = json!("blackhole");
        }
        routes.push(route);
    }
    s
}

type Outcome = (podreach_core::report::Verdict, Vec<Cause>);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn class_verdicts_equal_per_address_verdicts(case in case()) {
        let files = snapshot_of(&case).source_files();
        let loaded = snapshot::load(&files).into_result().expect("the fixture is readable");
        let model = Model::from_documents(&loaded.documents, &Default::default());

        // The matrix: per pod address, its subject's class; per block, its verdict for that class.
        let mut matrix: BTreeMap<(String, String, String, String), Outcome> = BTreeMap::new();
        let mut gaps = Vec::new();
        for cluster in &model.clusters {
            let analysis = analyze_cluster(&model, cluster, &[], &mut gaps);
            let v = &analysis.verdicts;
            for subject in &v.subjects {
                let addresses = subject.pod_ips.iter().copied().chain(
                    subject.pod_prefixes.iter().flat_map(|p| {
                        (u32::from(p.network())..=u32::from(p.broadcast())).map(std::net::Ipv4Addr::from)
                    }),
                );
                for address in addresses {
                    for block in &v.blocks {
                        for direction in [EGRESS, INGRESS] {
                            let e = v.for_block(subject.class, block, direction);
                            let key = (
                                address.to_string(),
                                subject.eni.id.clone(),
                                block.block.to_string(),
                                direction.as_str().to_owned(),
                            );
                            let outcome = (e.verdict, e.reasons.iter().map(|r| r.code).collect());
                            prop_assert!(
                                matrix.insert(key.clone(), outcome).is_none(),
                                "{key:?} belongs to one subject only"
                            );
                        }
                    }
                }
            }
        }

        let mut compared = 0usize;
        let mut mismatches = Vec::new();
        baseline::naive(&model, &[], 1, |n| {
            let key = (
                n.address.to_string(),
                n.subject.eni.id.clone(),
                n.block.block.to_string(),
                n.direction.as_str().to_owned(),
            );
            let naive: Outcome = (n.evaluation.verdict, n.evaluation.reasons.iter().map(|r| r.code).collect());
            compared += 1;
            match matrix.get(&key) {
                Some(classes) if *classes == naive => {}
                other => mismatches.push(format!("{} {key:?}: classes {other:?}, naive {naive:?}", n.address)),
            }
        });
        prop_assert!(compared > 0, "the fixture has pod addresses and destinations");
        prop_assert_eq!(compared, matrix.len(), "every address of the matrix is compared");
        prop_assert!(mismatches.is_empty(), "{case:?}\n{}", mismatches.join("\n"));
    }
}
