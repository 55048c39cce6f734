//! Snapshot files as users really save them: any name, JSON or YAML, gzipped, with a byte-order
//! mark or in UTF-16 (PowerShell's `>`), and the ways a saved command output goes wrong (empty,
//! error text, the wrong `--output`, cut short by `--max-items`). Every problem of every file is
//! named in one run, and the rest of the snapshot is still audited; a run that lost input never
//! looks clean.

mod support;

use std::io::{Read, Write as _};

use podreach_core::report::{Cause, Report};
use podreach_core::snapshot::{self, Input, Loaded};
use podreach_core::{AnalyzeOptions, Model, Overrides};
use serde_json::{Value, json};
use support::*;

/// A snapshot file as bytes, exactly as it sits on disk.
struct Bytes {
    path: String,
    bytes: Vec<u8>,
}

impl Input for Bytes {
    fn path(&self) -> &str {
        &self.path
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.bytes.as_slice()))
    }
}

fn as_bytes(snapshot: &Snapshot) -> Vec<Bytes> {
    snapshot
        .source_files()
        .into_iter()
        .map(|f| Bytes {
            path: f.path,
            bytes: f.text.into_bytes(),
        })
        .collect()
}

/// Replaces the file at `path` by `bytes` saved under `new_path`.
fn replace(files: &mut [Bytes], path: &str, new_path: &str, bytes: impl FnOnce(&[u8]) -> Vec<u8>) {
    let file = files
        .iter_mut()
        .find(|f| f.path == path)
        .expect("the snapshot has this file");
    file.bytes = bytes(&file.bytes);
    file.path = new_path.to_owned();
}

fn load(files: &[Bytes]) -> Loaded {
    snapshot::load_inputs(files.iter().map(|f| f as &dyn Input))
}

fn audit(loaded: Loaded) -> Report {
    let model = Model::new(&loaded.documents, &loaded.problems, &Overrides::default());
    podreach_core::analyze(
        &model,
        &AnalyzeOptions {
            include_paths: true,
            ..Default::default()
        },
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn utf16le_with_bom(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).expect("UTF-8 fixture");
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn yaml(bytes: &[u8]) -> Vec<u8> {
    let value: Value = serde_json::from_slice(bytes).expect("JSON fixture");
    serde_yaml_ng::to_string(&value)
        .expect("YAML of a JSON value")
        .into_bytes()
}

fn node_port_off() -> Snapshot {
    shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")])
}

/// What the findings say, without the file names.
fn findings(report: &Report) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.id.clone(), f.title.clone()))
        .collect()
}

#[test]
fn json_and_yaml_are_read_by_content_whatever_the_file_is_called_and_however_it_is_encoded() {
    let plain = audit(load(&as_bytes(&node_port_off())));
    assert!(!plain.findings.is_empty(), "the fixture has findings");

    let mut files = as_bytes(&node_port_off());
    // `kubectl get daemonset aws-node -o yaml > aws-node.yaml`
    replace(&mut files, AWS_NODE_FILE, "shop/aws-node.yaml", yaml);
    // `aws ec2 describe-route-tables | gzip > route-tables.json.gz`
    replace(&mut files, ROUTES_FILE, "ec2/route-tables.json.gz", gzip);
    // A UTF-8 byte-order mark (Windows editors) under an upper-case extension.
    replace(&mut files, ENIS_FILE, "ec2/ENIS.JSON", |b| {
        [&[0xEF, 0xBB, 0xBF][..], b].concat()
    });
    // PowerShell: `aws ec2 describe-subnets > subnets.txt` writes UTF-16LE with a BOM.
    replace(
        &mut files,
        SUBNETS_FILE,
        "ec2/subnets.txt",
        utf16le_with_bom,
    );
    // `aws ec2 describe-vpcs --output yaml`
    replace(&mut files, VPCS_FILE, "ec2/vpcs", yaml);

    let loaded = load(&files);
    assert!(
        loaded.problems.unreadable.is_empty(),
        "{:?}",
        loaded.problems.unreadable
    );
    assert!(
        loaded.problems.skipped.is_empty(),
        "{:?}",
        loaded.problems.skipped
    );
    let report = audit(loaded);
    assert_eq!(findings(&report), findings(&plain));
    assert_eq!(report.clusters[0].cni.modelled_version, "v1.11.4");
    assert!(report.not_analysed.is_empty(), "{:?}", report.not_analysed);
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
}

#[test]
fn every_unusable_file_is_named_with_its_likely_cause_in_one_run_and_the_rest_is_audited() {
    let plain = audit(load(&as_bytes(&node_port_off())));
    let mut files = as_bytes(&node_port_off());
    let broken: [(&str, &str, &str); 5] = [
        // `aws eks describe-addon … > addon.json` that failed: nothing on stdout.
        ("shop/addon.json", "", "empty (0 bytes)"),
        // The same with `2>&1`: the AWS CLI's error text.
        (
            "shop/addon-2.json",
            "\nAn error occurred (ResourceNotFoundException) when calling the DescribeAddon \
             operation: No addon: vpc-cni found in cluster: shop\n",
            "an error message",
        ),
        (
            "shop/eniconfigs.json",
            "error: the server doesn't have a resource type \"eniconfigs\"\n",
            "an error message",
        ),
        (
            "ec2/peerings-table.txt",
            "-------------------------------------------------\n\
             |        DescribeVpcPeeringConnections          |\n\
             +-----------------------------------------------+\n\
             ||           VpcPeeringConnections             ||\n",
            "--output table",
        ),
        (
            "ec2/instances.txt",
            "RESERVATIONS\t123456789012\tr-0a1b2c3d4e5f60718\n\
             INSTANCES\t0\tx86_64\ti-0a5f0e1d2c3b4a701\n",
            "--output text",
        ),
    ];
    for (path, text, _) in &broken {
        files.push(Bytes {
            path: (*path).to_owned(),
            bytes: text.as_bytes().to_vec(),
        });
    }

    let loaded = load(&files);
    assert_eq!(
        loaded.problems.unreadable.len(),
        broken.len(),
        "{:?}",
        loaded.problems.unreadable
    );
    for (path, _, cause) in &broken {
        let message = loaded
            .problems
            .unreadable
            .iter()
            .find(|e| e.file() == *path)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(message.starts_with(path), "{message}");
        assert!(message.contains(cause), "{message}");
        assert_eq!(message.lines().count(), 1, "one line per file: {message}");
    }

    let report = audit(loaded);
    assert_eq!(findings(&report), findings(&plain), "the rest is audited");
    assert_eq!(
        report.not_analysed.len(),
        broken.len(),
        "a run that lost input is not a clean result: {:?}",
        report.not_analysed
    );
}

#[test]
fn output_cut_short_by_max_items_is_used_but_reported_incomplete() {
    let mut snapshot = node_port_off();
    // `aws ec2 describe-network-interfaces --max-items 1` prints the first page and a token.
    snapshot.json_mut(ENIS_FILE)["NextToken"] =
        json!("eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAxfQ==");
    let loaded = load(&as_bytes(&snapshot));
    assert_eq!(
        loaded
            .problems
            .incomplete
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>(),
        [ENIS_FILE]
    );
    let report = audit(loaded);
    let entry = report
        .not_analysed
        .iter()
        .find(|n| n.reason.contains(ENIS_FILE))
        .expect("the incomplete file is named");
    assert!(entry.reason.contains("--max-items"), "{}", entry.reason);
    check(&report, SECONDARY_ENI, EGRESS).unreachable(Cause::SrcdstEgress);
}

#[test]
fn an_empty_kubectl_list_and_enis_of_other_vpcs_are_not_worth_a_word() {
    let mut snapshot = node_port_off();
    // `kubectl get eniconfigs -o json` on a cluster without custom networking.
    snapshot.insert(
        "shop/eniconfigs.json",
        json!({ "apiVersion": "v1", "items": [], "kind": "List", "metadata": { "resourceVersion": "" } }),
    );
    // A region-wide describe-network-interfaces holds ENIs of VPCs no cluster uses.
    let mut stranger = snapshot.eni_mut(PRIMARY_ENI).clone();
    stranger["NetworkInterfaceId"] = json!("eni-0f0f0f0f0f0f0f0f1");
    stranger["VpcId"] = json!("vpc-0f0f0f0f0f0f0f0f1");
    stranger["SubnetId"] = json!("subnet-0f0f0f0f0f0f0f0f1");
    stranger["Attachment"]["InstanceId"] = json!("i-0f0f0f0f0f0f0f0f1");
    snapshot.push(ENIS_FILE, "NetworkInterfaces", stranger);

    let loaded = load(&as_bytes(&snapshot));
    assert!(
        loaded.problems.skipped.is_empty(),
        "{:?}",
        loaded.problems.skipped
    );
    let report = audit(loaded);
    assert!(report.gaps.is_empty(), "{:?}", report.gaps);
    assert!(report.not_analysed.is_empty(), "{:?}", report.not_analysed);
}
