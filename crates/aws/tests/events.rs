//! Every sample in `events/` decides the scope its README promises, and bad input is a typed
//! error. Pure: no endpoint is involved; the samples are exactly what EventBridge delivers.

use std::path::PathBuf;

use podreach_aws::Scope;
use podreach_aws::trigger::{Decision, EventError, decide};
use serde_json::Value;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn sample(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| unreachable!("events sample {} is missing: {e}", path.display()));
    serde_json::from_str(&text).expect("event samples are valid JSON")
}

fn scope_of(name: &str) -> Scope {
    match decide(&sample(name)) {
        Ok(Decision::Audit { scope, .. }) => scope,
        other => unreachable!("{name}: expected an audit, got {other:?}"),
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_sample_maps_to_the_smallest_scope() {
    let expected: &[(&str, Scope)] = &[
        (
            "autoscaling-instance-launch-successful.json",
            Scope::Instances(ids(&["i-0a1b2c3d4e5f60003"])),
        ),
        (
            "ec2-instance-state-running.json",
            Scope::Instances(ids(&["i-0a1b2c3d4e5f60003"])),
        ),
        (
            "ec2-attach-network-interface.json",
            Scope::Instances(ids(&["i-0a1b2c3d4e5f60001"])),
        ),
        (
            "ec2-assign-private-ip-addresses.json",
            Scope::Enis(ids(&["eni-0a1b2c3d4e5f6a002"])),
        ),
        (
            "ec2-assign-private-ip-addresses-prefix.json",
            Scope::Enis(ids(&["eni-0a1b2c3d4e5f6a001"])),
        ),
        (
            "ec2-unassign-private-ip-addresses.json",
            Scope::Enis(ids(&["eni-0a1b2c3d4e5f6a002"])),
        ),
        (
            "ec2-modify-network-interface-attribute.json",
            Scope::Enis(ids(&["eni-0a1b2c3d4e5f6a002"])),
        ),
        (
            "ec2-delete-network-interface.json",
            Scope::DeletedEnis(ids(&["eni-0a1b2c3d4e5f6a002"])),
        ),
        (
            "ec2-create-route.json",
            Scope::RouteTables(ids(&["rtb-0a1e2d3c4b5a69701"])),
        ),
        (
            "ec2-replace-route.json",
            Scope::RouteTables(ids(&["rtb-0a1e2d3c4b5a69701"])),
        ),
        (
            "ec2-delete-route.json",
            Scope::RouteTables(ids(&["rtb-0a1e2d3c4b5a69701"])),
        ),
        (
            "ec2-associate-route-table.json",
            Scope::RouteTables(ids(&["rtb-0a2e2d3c4b5a69702"])),
        ),
        (
            "ec2-replace-route-table-association.json",
            Scope::RouteTables(ids(&["rtb-0a2e2d3c4b5a69702"])),
        ),
        (
            "ec2-disassociate-route-table.json",
            Scope::Associations(ids(&["rtbassoc-0a2e2d3c4b5a69712"])),
        ),
        (
            "ec2-detach-network-interface.json",
            Scope::Attachments(ids(&["eni-attach-0a1b2c3d4e5f6a002"])),
        ),
        (
            "ec2-create-vpc-peering-connection.json",
            Scope::Vpcs(ids(&["vpc-0a5e1d2c3b4a59601", "vpc-0d8a4c3b2a1f59604"])),
        ),
        (
            "ec2-accept-vpc-peering-connection.json",
            Scope::Peerings(ids(&["pcx-0ab25c2d3e4f50802"])),
        ),
        (
            "ec2-delete-vpc-peering-connection.json",
            Scope::Peerings(ids(&["pcx-0ab25c2d3e4f50802"])),
        ),
        (
            "ec2-associate-vpc-cidr-block.json",
            Scope::Vpcs(ids(&["vpc-0a5e1d2c3b4a59601"])),
        ),
        ("eks-create-addon.json", Scope::Clusters(ids(&["shop"]))),
        ("eks-update-addon.json", Scope::Clusters(ids(&["shop"]))),
        ("eks-delete-addon.json", Scope::Clusters(ids(&["shop"]))),
        (
            "eks-update-cluster-version.json",
            Scope::Clusters(ids(&["shop"])),
        ),
        (
            "k8s-hpa-successful-rescale.json",
            Scope::Clusters(ids(&["shop"])),
        ),
        ("k8s-pod-scheduled.json", Scope::Clusters(ids(&["shop"]))),
        // Inputs of verdicts: every id of the request and the response, sorted.
        (
            "ec2-authorize-security-group-ingress.json",
            Scope::Inputs(ids(&["sg-0b7d1e2f3a4b5c602"])),
        ),
        (
            "ec2-authorize-security-group-egress.json",
            Scope::Inputs(ids(&["sg-0a7d1e2f3a4b5c601"])),
        ),
        (
            "ec2-revoke-security-group-ingress.json",
            Scope::Inputs(ids(&["sg-0b7d1e2f3a4b5c602"])),
        ),
        (
            "ec2-revoke-security-group-egress.json",
            Scope::Inputs(ids(&["sg-0a7d1e2f3a4b5c601"])),
        ),
        (
            "ec2-modify-security-group-rules.json",
            Scope::Inputs(ids(&["sg-0b7d1e2f3a4b5c602"])),
        ),
        (
            "ec2-create-network-acl-entry.json",
            Scope::Inputs(ids(&["acl-0a1b2c3d4e5f60a01"])),
        ),
        (
            "ec2-replace-network-acl-entry.json",
            Scope::Inputs(ids(&["acl-0a1b2c3d4e5f60a01"])),
        ),
        (
            "ec2-delete-network-acl-entry.json",
            Scope::Inputs(ids(&["acl-0b1b2c3d4e5f60a02"])),
        ),
        (
            "ec2-replace-network-acl-association.json",
            Scope::Inputs(ids(&[
                "acl-0a9b2c3d4e5f60a09",
                "aclassoc-001b2c3d4e5f60b00",
                "aclassoc-0a9b2c3d4e5f60b09",
            ])),
        ),
        (
            "ec2-modify-managed-prefix-list.json",
            Scope::Inputs(ids(&["pl-0a1b2c3d4e5f6a801"])),
        ),
        (
            "ec2-disassociate-vpc-cidr-block.json",
            Scope::Inputs(ids(&[
                "vpc-0a5e1d2c3b4a59601",
                "vpc-cidr-assoc-0a1b2c3d4e5f60704",
            ])),
        ),
        (
            "ec2-create-transit-gateway-vpc-attachment.json",
            Scope::Inputs(ids(&[
                "tgw-0a9b8c7d6e5f40001",
                "tgw-attach-0a1b2c3d4e5f6b001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        (
            "ec2-modify-transit-gateway-vpc-attachment.json",
            Scope::Inputs(ids(&[
                "tgw-0a9b8c7d6e5f40001",
                "tgw-attach-0a1b2c3d4e5f6b001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        (
            "ec2-delete-transit-gateway-vpc-attachment.json",
            Scope::Inputs(ids(&[
                "tgw-0a9b8c7d6e5f40001",
                "tgw-attach-0a1b2c3d4e5f6b001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        (
            "ec2-create-transit-gateway-route.json",
            Scope::Inputs(ids(&[
                "tgw-attach-0b1b2c3d4e5f6b002",
                "tgw-rtb-0a1b2c3d4e5f6c001",
                "vpc-0b6f3e2d1c0b59602",
            ])),
        ),
        (
            "ec2-replace-transit-gateway-route.json",
            Scope::Inputs(ids(&["tgw-rtb-0a1b2c3d4e5f6c001"])),
        ),
        (
            "ec2-delete-transit-gateway-route.json",
            Scope::Inputs(ids(&["tgw-rtb-0a1b2c3d4e5f6c001"])),
        ),
        (
            "ec2-associate-transit-gateway-route-table.json",
            Scope::Inputs(ids(&[
                "tgw-attach-0a1b2c3d4e5f6b001",
                "tgw-rtb-0a1b2c3d4e5f6c001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        (
            "ec2-disassociate-transit-gateway-route-table.json",
            Scope::Inputs(ids(&[
                "tgw-attach-0a1b2c3d4e5f6b001",
                "tgw-rtb-0a1b2c3d4e5f6c001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        (
            "ec2-enable-transit-gateway-route-table-propagation.json",
            Scope::Inputs(ids(&[
                "tgw-attach-0a1b2c3d4e5f6b001",
                "tgw-rtb-0a1b2c3d4e5f6c001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        (
            "ec2-disable-transit-gateway-route-table-propagation.json",
            Scope::Inputs(ids(&[
                "tgw-attach-0a1b2c3d4e5f6b001",
                "tgw-rtb-0a1b2c3d4e5f6c001",
                "vpc-0a5e1d2c3b4a59601",
            ])),
        ),
        ("scheduled.json", Scope::AllClusters),
    ];
    for (name, scope) in expected {
        assert_eq!(&scope_of(name), scope, "{name}");
    }
    // The instance-terminated sample names its own instance.
    assert!(
        matches!(scope_of("ec2-instance-state-terminated.json"), Scope::Instances(ref i) if i.len() == 1)
    );
    // CreateNetworkInterface: the new ENI, from the response.
    assert!(
        matches!(scope_of("ec2-create-network-interface.json"), Scope::Enis(ref e) if e.len() == 1 && e[0].starts_with("eni-"))
    );
    // No sample is left out of the table.
    let files = std::fs::read_dir(events_dir())
        .expect("events/ is listable")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(
        files,
        expected.len() + 2,
        "a sample in events/ is not covered here"
    );
}

#[test]
fn a_failed_api_call_is_ignored() {
    let decision = decide(&sample("invalid/ec2-attach-network-interface-failed.json"))
        .expect("a failed call is a valid event");
    assert!(
        matches!(decision, Decision::Ignore(ref why) if why.contains("UnauthorizedOperation")),
        "{decision:?}"
    );
}

#[test]
fn an_addon_other_than_vpc_cni_is_ignored() {
    let mut event = sample("eks-update-addon.json");
    event["detail"]["requestParameters"]["addonName"] = Value::from("coredns");
    assert!(matches!(decide(&event), Ok(Decision::Ignore(_))));
}

#[test]
fn malformed_events_are_typed_errors() {
    let not_an_event = decide(&sample("invalid/not-an-event.json")).expect_err("not an event");
    assert_eq!(not_an_event.error_type(), "podreach.MalformedEvent");

    let mut unknown = sample("scheduled.json");
    unknown["detail-type"] = Value::from("Something Else");
    let error = decide(&unknown).expect_err("unsupported");
    assert_eq!(error.error_type(), "podreach.UnsupportedEvent");
    assert!(error.to_string().contains("Something Else"));

    let mut incomplete = sample("ec2-create-route.json");
    incomplete["detail"]["requestParameters"]
        .as_object_mut()
        .expect("requestParameters is an object")
        .remove("routeTableId");
    let error = decide(&incomplete).expect_err("routeTableId is needed");
    assert!(
        matches!(
            error,
            EventError::MissingField {
                field: "routeTableId",
                ..
            }
        ),
        "{error}"
    );

    let truncated = std::fs::read_to_string(events_dir().join("invalid/truncated.json"))
        .expect("the truncated sample exists");
    assert!(
        serde_json::from_str::<Value>(&truncated).is_err(),
        "the sample must stay truncated"
    );
}

/// Arbitrary JSON, a few levels deep.
fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        "(sg|acl|pl|tgw|tgw-attach|vpc|eni|i|rtb)-[0-9a-f]{0,17}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every leaf and object of `value`, as JSON pointers.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

proptest::proptest! {
    // The property test that stands for a coverage-guided target (README, "Fuzzing"): every
    // sample with one field replaced by arbitrary JSON, and arbitrary JSON alone, is decided or
    // refused with a typed error, never a panic.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn a_sample_with_any_field_replaced_is_decided_or_refused_never_a_panic(
        sample_index in 0usize..64,
        field in proptest::prelude::any::<proptest::sample::Index>(),
        replacement in arbitrary_json(),
    ) {
        let names = sample_names();
        let mut event = sample(&names[sample_index % names.len()]);
        let mut all = Vec::new();
        pointers(&event, String::new(), &mut all);
        let target = field.get(&all).clone();
        if target.is_empty() {
            event = replacement;
        } else if let Some(slot) = event.pointer_mut(&target) {
            *slot = replacement;
        }
        match decide(&event) {
            Ok(_) => {}
            Err(e) => proptest::prop_assert!(e.error_type().starts_with("podreach.")),
        }
    }
}

fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/ is listable")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}
