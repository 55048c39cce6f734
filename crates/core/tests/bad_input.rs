//! Bad input: malformed, truncated or wrongly typed files are errors that name the file and the
//! JSON path; objects that cannot be resolved are gaps naming the file and the object; unknown
//! files are skipped with a reason. Never a panic, and everything else is still analysed.

mod support;

use podreach_core::report::Cause;
use podreach_core::{Overrides, SnapshotError, SourceFile};
use serde_json::{Value, json};
use support::*;

fn audit_files(files: &[SourceFile]) -> Result<podreach_core::Report, SnapshotError> {
    podreach_core::audit(
        files,
        &Overrides::default(),
        &podreach_core::AnalyzeOptions {
            include_paths: true,
            ..Default::default()
        },
    )
}

/// The snapshot's files with the text of `path` replaced by `edit(text)`.
fn with_text(snapshot: &Snapshot, path: &str, edit: impl Fn(&str) -> String) -> Vec<SourceFile> {
    let mut files = snapshot.source_files();
    let file = files
        .iter_mut()
        .find(|f| f.path == path)
        .expect("the snapshot has this file");
    file.text = edit(&file.text);
    files
}

#[test]
fn malformed_json_is_an_error_naming_the_file_line_and_json_path() {
    let files = with_text(&shop(), ROUTES_FILE, |text| {
        assert!(text.contains(r#""GatewayId": "local""#));
        text.replacen(r#""GatewayId": "local""#, r#""GatewayId": local"#, 1)
    });

    let error = audit_files(&files).expect_err("malformed JSON");
    let (file, line, json_path) = syntax_parts(&error).expect("a syntax error");
    assert_eq!(file, ROUTES_FILE);
    assert!(line > 1, "{error}");
    assert!(json_path.starts_with("RouteTables[0].Routes[0]"), "{error}");
    assert!(error.to_string().starts_with(ROUTES_FILE), "{error}");
}

#[test]
fn a_dump_truncated_mid_file_is_an_error_naming_the_file_and_where_it_stops() {
    let files = with_text(&shop(), ENIS_FILE, |text| {
        text[..text.len() * 3 / 5].to_owned()
    });

    let error = audit_files(&files).expect_err("truncated JSON");
    let (file, _, json_path) = syntax_parts(&error).expect("a syntax error");
    assert_eq!(file, ENIS_FILE);
    assert!(json_path.starts_with("NetworkInterfaces["), "{error}");
    assert!(error.to_string().contains(ENIS_FILE), "{error}");
}

#[test]
fn concatenated_dumps_are_an_error_after_the_document() {
    let files = with_text(&shop(), VPCS_FILE, |text| format!("{text}\n{text}"));

    let error = audit_files(&files).expect_err("two documents in one file");
    assert!(
        matches!(&error, SnapshotError::Syntax { file, .. } if file == VPCS_FILE),
        "{error}"
    );
}

#[test]
fn every_truncation_of_every_file_is_an_error_naming_that_file_never_a_panic() {
    let snapshot = shop();
    for original in snapshot.source_files() {
        let cuts = (0..original.text.len())
            .step_by(211)
            .filter(|&cut| original.text.is_char_boundary(cut));
        for cut in cuts {
            let files = with_text(&snapshot, &original.path, |text| text[..cut].to_owned());
            let error = audit_files(&files).expect_err("a truncated file");
            assert!(
                error.to_string().starts_with(&original.path),
                "cut at {cut}: {error}"
            );
        }
    }
}

#[test]
fn a_wrong_type_is_an_error_naming_the_file_the_field_and_the_command() {
    let mut snapshot = shop();
    snapshot.eni_mut(SECONDARY_ENI)["Attachment"]["DeviceIndex"] = json!("one");

    let error = snapshot
        .try_audit(&Overrides::default())
        .expect_err("wrong type");
    let (file, json_path, command) = shape_parts(&error).expect("a shape error");
    assert_eq!(file, ENIS_FILE);
    assert_eq!(json_path, "NetworkInterfaces[1].Attachment.DeviceIndex");
    assert!(command.contains("describe-network-interfaces"), "{error}");
    assert!(error.to_string().contains(ENIS_FILE), "{error}");
}

#[test]
fn a_wrong_type_in_the_cluster_document_names_the_field() {
    let mut snapshot = shop();
    snapshot.json_mut("shop/cluster.json")["cluster"]["resourcesVpcConfig"]["vpcId"] = json!(42);

    let error = snapshot
        .try_audit(&Overrides::default())
        .expect_err("wrong type");
    assert!(
        matches!(&error, SnapshotError::Shape { file, json_path, .. }
            if file == "shop/cluster.json" && json_path == "cluster.resourcesVpcConfig.vpcId"),
        "{error}"
    );
}

/// Every scalar of every file replaced by a value of another JSON type.
fn wrong_type_variants(value: &Value) -> Vec<Value> {
    fn walk(root: &Value, at: &mut Vec<PathStep>, out: &mut Vec<Value>) {
        let node = lookup(root, at);
        match node {
            Value::Object(map) => {
                for key in map.keys().cloned().collect::<Vec<_>>() {
                    at.push(PathStep::Key(key));
                    walk(root, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for index in 0..items.len() {
                    at.push(PathStep::Index(index));
                    walk(root, at, out);
                    at.pop();
                }
            }
            scalar => {
                let replacement = match scalar {
                    Value::String(_) => json!(7),
                    _ => json!("seven"),
                };
                let mut variant = root.clone();
                *lookup_mut(&mut variant, at) = replacement;
                out.push(variant);
            }
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn lookup<'v>(value: &'v Value, at: &[PathStep]) -> &'v Value {
    at.iter().fold(value, |v, step| match step {
        PathStep::Key(k) => &v[k.as_str()],
        PathStep::Index(i) => &v[*i],
    })
}

fn lookup_mut<'v>(value: &'v mut Value, at: &[PathStep]) -> &'v mut Value {
    at.iter().fold(value, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

#[test]
fn any_scalar_of_any_file_with_the_wrong_type_is_an_error_or_a_report_never_a_panic() {
    let snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    for original in snapshot.source_files() {
        let value: Value = serde_json::from_str(&original.text).expect("valid JSON");
        for variant in wrong_type_variants(&value) {
            let mut edited = snapshot.clone();
            edited.insert(&original.path, variant);
            if let Err(error) = edited.try_audit(&Overrides::default()) {
                assert!(error.to_string().starts_with(&original.path), "{error}");
            }
        }
    }
}

#[test]
fn an_eni_in_a_subnet_missing_from_the_snapshot_is_a_gap_and_the_node_is_still_analysed() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.eni_mut(SECONDARY_ENI)["SubnetId"] = json!("subnet-0deadbeef00000001");
    let report = snapshot.audit();

    let gap = report
        .gaps
        .iter()
        .find(|g| g.object.as_deref() == Some(SECONDARY_ENI))
        .expect("a gap naming the ENI");
    assert_eq!(gap.file.as_deref(), Some(ENIS_FILE));
    assert!(
        gap.message.contains("subnet-0deadbeef00000001"),
        "{}",
        gap.message
    );
    assert!(paths_of(&report, SECONDARY_ENI, EGRESS).is_empty());
    check(&report, PRIMARY_ENI, EGRESS).reachable();
    check(&report, PRIMARY_ENI, INGRESS).reachable();
}

#[test]
fn an_eni_without_a_readable_address_is_a_gap_and_the_rest_is_analysed() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    let eni = snapshot.eni_mut(SECONDARY_ENI);
    eni["PrivateIpAddress"] = json!("10.0.1.x");
    eni["PrivateIpAddresses"] = json!([private_ip("10.0.1.x", true)]);
    let report = snapshot.audit();

    let gap = report
        .gaps
        .iter()
        .find(|g| g.object.as_deref() == Some(SECONDARY_ENI))
        .expect("a gap");
    assert_eq!(gap.file.as_deref(), Some(ENIS_FILE));
    check(&report, PRIMARY_ENI, EGRESS).reachable();
}

#[test]
fn an_invalid_route_cidr_is_a_gap_naming_the_table_and_the_rest_of_the_table_is_used() {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot
        .routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE)
        .push(peering_route("10.9.0.0/33", PEERING));
    let report = snapshot.audit();

    let gap = report
        .gaps
        .iter()
        .find(|g| g.object.as_deref() == Some(PEER_ROUTE_TABLE))
        .expect("a gap");
    assert_eq!(gap.file.as_deref(), Some(PEER_ROUTES_FILE));
    assert!(gap.message.contains("10.9.0.0/33"), "{}", gap.message);
    check(&report, SECONDARY_ENI, EGRESS).reachable();
    check(&report, SECONDARY_ENI, INGRESS).reachable();
}

#[test]
fn unrecognised_files_are_skipped_with_a_reason_and_the_rest_is_analysed() {
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    snapshot.insert(
        "ec2/load-balancers.json",
        json!({ "LoadBalancerDescriptions": [ { "LoadBalancerName": "web" } ] }),
    );
    snapshot.insert(
        "shop/services.json",
        json!({ "apiVersion": "v1", "kind": "List", "items": [ { "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" } } ] }),
    );
    let report = snapshot.audit();

    for (file, reason) in [
        ("ec2/load-balancers.json", "LoadBalancerDescriptions"),
        ("shop/services.json", "Service"),
    ] {
        let gap = report
            .gaps
            .iter()
            .find(|g| g.file.as_deref() == Some(file))
            .expect("a gap for the skipped file");
        assert!(gap.message.starts_with("not used:"), "{}", gap.message);
        assert!(gap.message.contains(reason), "{}", gap.message);
    }
    check(&report, PRIMARY_ENI, EGRESS).reachable();
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
}

#[test]
fn a_cluster_whose_vpc_is_missing_is_a_gap_and_the_other_cluster_is_still_analysed() {
    let mut snapshot = shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")]);
    let mut other = snapshot.json_mut("shop/cluster.json").clone();
    other["cluster"]["name"] = json!("orphan");
    other["cluster"]["arn"] = json!("arn:aws:eks:us-east-1:111122223333:cluster/orphan");
    other["cluster"]["resourcesVpcConfig"]["vpcId"] = json!("vpc-0ffffffffffffff09");
    snapshot.insert("orphan/cluster.json", other);
    let report = snapshot.audit();

    let gap = report
        .gaps
        .iter()
        .find(|g| g.cluster.as_deref() == Some("orphan"))
        .expect("a gap for the cluster");
    assert_eq!(gap.file.as_deref(), Some("orphan/cluster.json"));
    assert!(
        gap.message.contains("vpc-0ffffffffffffff09"),
        "{}",
        gap.message
    );
    let names: Vec<&str> = report.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec![CLUSTER]);
    assert_eq!(
        report.clusters[0].cni.modelled_version, "v1.11.4",
        "shop's DaemonSet is still attributed to shop"
    );
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
}

/// `(file, line, JSON path)` of a syntax error.
fn syntax_parts(error: &SnapshotError) -> Option<(&str, usize, &str)> {
    match error {
        SnapshotError::Syntax {
            file,
            line,
            json_path,
            ..
        } => Some((file, *line, json_path)),
        _ => None,
    }
}

/// `(file, JSON path, command)` of a shape error.
fn shape_parts(error: &SnapshotError) -> Option<(&str, &str, &str)> {
    match error {
        SnapshotError::Shape {
            file,
            json_path,
            command,
            ..
        } => Some((file, json_path, command)),
        _ => None,
    }
}
