//! The two Lambda handlers (`podreach_aws::function::on_change`, `on_change_invocation` for a
//! batch from the debounce queue, and `scheduled_audit`) end to end against moto, in-process:
//! every sample event of `events/` goes through the handler with the live collector and the real
//! SNS publisher, and what the SQS subscribers of the topic receive is checked — message schema,
//! attributes, Subject, the filter policy a pager would use, the AWS Chatbot format — together
//! with the scope each event was resolved to.
//!
//! The bundled demo is recreated in a fresh moto account per test (`seed_demo`), and each sample's
//! demo ids are rewritten to moto's (`SeededDemo::to_moto_ids`, through `lambda::sample_event`).
//! The samples also name objects the demo does not have (the node launched or scaled in, the ENI
//! ipamd creates, the pod subnet's route table, the `analytics` peering); those stay unknown to
//! moto, as objects that are gone by the time an event is handled are, and the table says what the
//! handler must do then: an unknown ENI widens the audit to every cluster (`events/README.md`: a
//! deleted ENI carried no pods), an unknown instance, route table or peering concerns no cluster
//! and the event is ignored with that reason (for a peering only on EC2: moto 5.2.5 ignores the
//! filters of `DescribeVpcPeeringConnections` and answers with every peering of the account). A
//! second table maps those ids onto the demo's own objects, so that each lookup chain (ENI → tag or
//! instance → cluster, route table → VPC → clusters, peering → VPCs → clusters) is exercised with
//! objects that exist.
//!
//! moto's `DescribeCluster` names no VPC; [`lambda::give_clusters_their_vpc_ids`] stores the VPC
//! id in moto so it answers as EKS does, except in
//! `a_cluster_described_without_its_vpc_id_is_still_audited`, which checks that the collector
//! copes without it.
//!
//! moto has no EKS add-on API, so `DescribeAddon` alone is answered by an `aws-smithy-mocks` rule
//! (`podreach_tests::lambda::collector`): `legacy`'s add-on from the demo, and EKS's
//! `ResourceNotFoundException` for `shop`. The functions get no kubectl dumps, so `shop`'s CNI is
//! analysed from version defaults and only `legacy` has a finding (HIGH); the filter-policy test
//! therefore changes the topology first so that findings of two severities exist.
//!
//! Needs moto in `<repo>/.venv` (`scripts/install-test-deps.sh`, which `./scripts/test` runs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use podreach_aws::error::ApiFailure;
use podreach_aws::function::{
    Context, FunctionConfig, HandlerError, Outcome, on_change, on_change_invocation,
    scheduled_audit,
};
use podreach_aws::publish::{DryRun, Message, Publish, SUBJECT_MAX};
use podreach_aws::state::MemoryStore;
use podreach_aws::trigger::{self, Decision};
use podreach_aws::{Collect, CollectError, Collection, Collector, FailureKind, Scope};
use podreach_core::{AnalyzeOptions, Overrides, SourceFile, demo, raw};
use podreach_tests::{lambda, moto, seed};
use serde_json::{Value, json};

use lambda::{Notification, Subscribers};
use moto::{Account, Moto};
use seed::SeededDemo;

use podreach_tests::lambda::KUBECTL_DUMPS;

/// The attributes every message carries.
const ATTRIBUTES: [&str; 6] = [
    "account",
    "cluster",
    "finding_id",
    "kind",
    "region",
    "severity",
];

/// What the handler must do with one sample.
#[derive(Debug, Clone, Copy)]
struct Expect {
    action: &'static str,
    clusters: &'static [&'static str],
    /// A part of `Outcome.why`.
    why: &'static str,
}

const BOTH: &[&str] = &["legacy", "shop"];
const SHOP: &[&str] = &["shop"];
const NONE: &[&str] = &[];

const fn audited(clusters: &'static [&'static str], why: &'static str) -> Expect {
    Expect {
        action: "audited",
        clusters,
        why,
    }
}

/// An event whose objects resolve to no cluster.
const fn no_cluster(why: &'static str) -> Expect {
    Expect {
        action: "ignored",
        clusters: NONE,
        why,
    }
}

/// Every sample with the demo's ids rewritten and no other change: the scope `trigger.rs`
/// derives, resolved by the collector against the seeded demo (`events/README.md`, "The files").
const SAMPLES: &[(&str, Expect)] = &[
    // The launched node i-…60003 is not in the demo: an instance nobody has concerns no cluster.
    (
        "autoscaling-instance-launch-successful.json",
        no_cluster("concerns no EKS cluster"),
    ),
    // pcx-0ab25… (to `analytics`) is not in the demo. EC2 would find no peering, so no cluster;
    // moto 5.2.5 ignores every filter of DescribeVpcPeeringConnections and returns all of the
    // account's peerings, whose VPCs hold both clusters.
    (
        "ec2-accept-vpc-peering-connection.json",
        audited(BOTH, "AcceptVpcPeeringConnection on pcx-0ab25c2d3e4f50802"),
    ),
    // ENIs the demo lacks, as if gone by the time of the lookup: no cluster owned them (the
    // index of this fresh store is empty), so one lookup and no audit.
    (
        "ec2-assign-private-ip-addresses-prefix.json",
        no_cluster("no longer exists and no cluster's nodes owned it"),
    ),
    (
        "ec2-assign-private-ip-addresses.json",
        no_cluster("no longer exists and no cluster's nodes owned it"),
    ),
    // The pod subnet's route table rtb-0a2e… is not in the demo.
    (
        "ec2-associate-route-table.json",
        no_cluster("concerns no EKS cluster"),
    ),
    // shop's VPC.
    (
        "ec2-associate-vpc-cidr-block.json",
        audited(SHOP, "AssociateVpcCidrBlock on vpc-"),
    ),
    // The instance i-…60001 is not in the demo.
    (
        "ec2-attach-network-interface.json",
        no_cluster("concerns no EKS cluster"),
    ),
    (
        "ec2-create-network-interface.json",
        no_cluster("no longer exists and no cluster's nodes owned it"),
    ),
    // shop's node subnet route table rtb-0a1e… is in the demo.
    (
        "ec2-create-route.json",
        audited(SHOP, "CreateRoute on rtb-"),
    ),
    // vpcId is shop's VPC; the peer (analytics) is unknown.
    (
        "ec2-create-vpc-peering-connection.json",
        audited(SHOP, "CreateVpcPeeringConnection on vpc-"),
    ),
    // Gone objects the sample names (not the demo's): no cluster owns them, nothing is audited
    // and nothing looked up (the index is empty on this fresh store: a gone ENI cannot make a
    // finding appear).
    (
        "ec2-delete-network-interface.json",
        no_cluster("is gone and no cluster's nodes owned it"),
    ),
    (
        "ec2-delete-route.json",
        audited(SHOP, "DeleteRoute on rtb-"),
    ),
    // As for the accept: under EC2 no cluster, under moto every peering's VPCs.
    (
        "ec2-delete-vpc-peering-connection.json",
        audited(BOTH, "DeleteVpcPeeringConnection on pcx-0ab25c2d3e4f50802"),
    ),
    // Named only by an attachment / association id, gone: the same.
    (
        "ec2-detach-network-interface.json",
        no_cluster("is gone and no cluster's nodes owned it"),
    ),
    (
        "ec2-disassociate-route-table.json",
        no_cluster("is gone and no cluster's nodes owned it"),
    ),
    (
        "ec2-instance-state-running.json",
        no_cluster("concerns no EKS cluster"),
    ),
    (
        "ec2-instance-state-terminated.json",
        no_cluster("concerns no EKS cluster"),
    ),
    (
        "ec2-modify-network-interface-attribute.json",
        no_cluster("no longer exists and no cluster's nodes owned it"),
    ),
    (
        "ec2-replace-route-table-association.json",
        no_cluster("concerns no EKS cluster"),
    ),
    (
        "ec2-replace-route.json",
        audited(SHOP, "ReplaceRoute on rtb-"),
    ),
    (
        "ec2-unassign-private-ip-addresses.json",
        no_cluster("no longer exists and no cluster's nodes owned it"),
    ),
    (
        "eks-create-addon.json",
        audited(SHOP, "CreateAddon on shop"),
    ),
    (
        "eks-delete-addon.json",
        audited(SHOP, "DeleteAddon on shop"),
    ),
    (
        "eks-update-addon.json",
        audited(SHOP, "UpdateAddon on shop"),
    ),
    (
        "eks-update-cluster-version.json",
        audited(SHOP, "UpdateClusterVersion on shop"),
    ),
    (
        "k8s-hpa-successful-rescale.json",
        audited(SHOP, "Kubernetes event SuccessfulRescale"),
    ),
    (
        "k8s-pod-scheduled.json",
        audited(SHOP, "Kubernetes event Scheduled"),
    ),
    // Through `scheduled_audit`.
    ("scheduled.json", audited(BOTH, "scheduled audit")),
    // Inputs of verdicts (security groups, network ACLs, prefix lists, VPC CIDRs, transit
    // gateways): this fresh store has no index of what each cluster reads yet, so every cluster.
    (
        "ec2-authorize-security-group-ingress.json",
        audited(BOTH, "AuthorizeSecurityGroupIngress on "),
    ),
    (
        "ec2-authorize-security-group-egress.json",
        audited(BOTH, "AuthorizeSecurityGroupEgress on "),
    ),
    (
        "ec2-revoke-security-group-ingress.json",
        audited(BOTH, "RevokeSecurityGroupIngress on "),
    ),
    (
        "ec2-revoke-security-group-egress.json",
        audited(BOTH, "RevokeSecurityGroupEgress on "),
    ),
    (
        "ec2-modify-security-group-rules.json",
        audited(BOTH, "ModifySecurityGroupRules on "),
    ),
    (
        "ec2-create-network-acl-entry.json",
        audited(BOTH, "CreateNetworkAclEntry on "),
    ),
    (
        "ec2-replace-network-acl-entry.json",
        audited(BOTH, "ReplaceNetworkAclEntry on "),
    ),
    (
        "ec2-delete-network-acl-entry.json",
        audited(BOTH, "DeleteNetworkAclEntry on "),
    ),
    (
        "ec2-replace-network-acl-association.json",
        audited(BOTH, "ReplaceNetworkAclAssociation on "),
    ),
    (
        "ec2-modify-managed-prefix-list.json",
        audited(BOTH, "ModifyManagedPrefixList on "),
    ),
    (
        "ec2-disassociate-vpc-cidr-block.json",
        audited(BOTH, "DisassociateVpcCidrBlock on "),
    ),
    (
        "ec2-create-transit-gateway-vpc-attachment.json",
        audited(BOTH, "CreateTransitGatewayVpcAttachment on "),
    ),
    (
        "ec2-modify-transit-gateway-vpc-attachment.json",
        audited(BOTH, "ModifyTransitGatewayVpcAttachment on "),
    ),
    (
        "ec2-delete-transit-gateway-vpc-attachment.json",
        audited(BOTH, "DeleteTransitGatewayVpcAttachment on "),
    ),
    (
        "ec2-create-transit-gateway-route.json",
        audited(BOTH, "CreateTransitGatewayRoute on "),
    ),
    (
        "ec2-replace-transit-gateway-route.json",
        audited(BOTH, "ReplaceTransitGatewayRoute on "),
    ),
    (
        "ec2-delete-transit-gateway-route.json",
        audited(BOTH, "DeleteTransitGatewayRoute on "),
    ),
    (
        "ec2-associate-transit-gateway-route-table.json",
        audited(BOTH, "AssociateTransitGatewayRouteTable on "),
    ),
    (
        "ec2-disassociate-transit-gateway-route-table.json",
        audited(BOTH, "DisassociateTransitGatewayRouteTable on "),
    ),
    (
        "ec2-enable-transit-gateway-route-table-propagation.json",
        audited(BOTH, "EnableTransitGatewayRouteTablePropagation on "),
    ),
    (
        "ec2-disable-transit-gateway-route-table-propagation.json",
        audited(BOTH, "DisableTransitGatewayRouteTablePropagation on "),
    ),
];

/// The sample ids the demo lacks → the demo object that plays their part, for
/// [`event_objects_that_exist_resolve_to_their_cluster`].
const STAND_INS: [(&str, &str); 10] = [
    ("i-0a1b2c3d4e5f60001", "i-0a5f0e1d2c3b4a701"), // shop's node
    ("i-0a1b2c3d4e5f60002", "i-0a5f0e1d2c3b4a701"),
    ("i-0a1b2c3d4e5f60003", "i-0a5f0e1d2c3b4a701"),
    ("eni-0a1b2c3d4e5f6a001", "eni-0a01f1e2d3c4b5a61"), // its primary ENI: no tags
    ("eni-0a1b2c3d4e5f6a002", "eni-0a02f1e2d3c4b5a62"), // its secondary ENI: CNI tags
    (
        "eni-attach-0a1b2c3d4e5f6a002",
        "eni-attach-0a02f1e2d3c4b5a62",
    ),
    ("rtb-0a2e2d3c4b5a69702", "rtb-0a1e2d3c4b5a69701"), // shop's only route table
    ("rtbassoc-0a2e2d3c4b5a69712", "rtbassoc-0a1e2d3c4b5a69701"), // its association
    ("pcx-0ab25c2d3e4f50802", "pcx-0ab15c2d3e4f50801"), // shop ↔ payments
    ("vpc-0d8a4c3b2a1f59604", "vpc-0b6f3e2d1c0b59602"), // payments
];

fn config(settings: &[(&str, &str)]) -> FunctionConfig {
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    FunctionConfig::from_lookup(|name| settings.get(name).cloned())
        .expect("a valid function configuration")
}

/// A fresh moto account with the demo, its SNS topic and subscribers, and a collector.
struct World {
    account: Account,
    seeded: SeededDemo,
    subscribers: Subscribers,
    collector: Collector,
    region: String,
}

impl World {
    async fn new() -> World {
        let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
        let subscribers = lambda::subscribers(&account).await;
        let collector = lambda::collector(&account, lambda::demo_addons());
        let region = lambda::region(&account);
        World {
            account,
            seeded,
            subscribers,
            collector,
            region,
        }
    }

    /// `TOPIC_ARN` of this world plus `settings`.
    fn config(&self, settings: &[(&str, &str)]) -> FunctionConfig {
        let mut all = vec![("TOPIC_ARN", self.subscribers.topic_arn.as_str())];
        all.extend_from_slice(settings);
        config(&all)
    }

    fn event(&self, name: &str) -> Value {
        lambda::sample_event(name, &self.seeded, &self.account)
    }

    /// Runs `name` through the handler its rule targets, publishing to the topic.
    async fn handle(&self, name: &str, config: &FunctionConfig) -> Result<Outcome, HandlerError> {
        let event = self.event(name);
        let publisher = self.subscribers.publisher();
        if name == "scheduled.json" {
            scheduled_audit(
                &event,
                &lambda::fresh_context(config, &self.region, &self.collector, &publisher),
            )
            .await
        } else {
            on_change(
                &event,
                &lambda::fresh_context(config, &self.region, &self.collector, &publisher),
            )
            .await
        }
    }

    async fn drain_all(&self, expected: usize) -> Vec<Notification> {
        lambda::drain(&self.subscribers.sqs, &self.subscribers.all, expected).await
    }
}

/// The offline audit of the demo without its kubectl dumps: what the functions can see.
fn offline_report() -> Value {
    let files: Vec<SourceFile> = demo::files()
        .into_iter()
        .filter(|f| !KUBECTL_DUMPS.contains(&f.path.as_str()))
        .collect();
    let report = podreach_core::audit(&files, &Overrides::default(), &AnalyzeOptions::default())
        .expect("the demo parses");
    serde_json::to_value(report).expect("a report serialises")
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"]
        .as_array()
        .expect("a report has findings")
}

/// The parts of a finding that must survive publishing (ids mapped back to the demo's).
fn finding_view(finding: &Value) -> Value {
    json!({
        "id": finding["id"],
        "kind": finding["kind"],
        "severity": finding["severity"],
        "cluster": finding["cluster"],
        "title": finding["title"],
        "direction": finding["direction"],
        "cause": finding["cause"],
        "destination": finding["destination"],
        "pod_addresses": finding["affected"]["pod_addresses"],
        "enis": finding["affected"]["enis"],
        "nodes": finding["affected"]["nodes"],
        "remediation": finding["remediation"],
    })
}

const SEVERITIES: [&str; 5] = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

fn rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or_else(|| unknown_severity(severity))
}

#[allow(
    clippy::panic,
    reason = "test support: an unknown severity fails the test"
)]
fn unknown_severity(severity: &str) -> ! {
    panic!("`{severity}` is not a podreach severity")
}

/// What every message must satisfy, in either format.
fn check_envelope(n: &Notification, account: &Account, region: &str) {
    let subject = n.subject.as_deref().expect("every message has a Subject");
    assert!(
        !subject.is_empty()
            && subject.chars().count() <= SUBJECT_MAX
            && subject.chars().all(|c| (' '..='~').contains(&c)),
        "an SNS Subject is 1..=100 printable ASCII characters: {subject:?}"
    );
    let names: BTreeSet<&str> = n.attributes.keys().map(String::as_str).collect();
    let mut expected = BTreeSet::from(ATTRIBUTES);
    if n.attributes.get("kind").map(String::as_str) != Some("digest") {
        // A finding's message also says where it stands in the finding's lifecycle, and (but
        // for a resolution, which keeps only the finding's id, severity and kind) its cause.
        expected.insert("lifecycle");
        // And the announcement's stable id, the same on a copy sent again.
        expected.insert("dedupe");
        if n.attributes.get("lifecycle").map(String::as_str) != Some("RESOLVED") {
            expected.insert("cause");
        }
        assert!(
            ["NEW", "CHANGED", "ONGOING", "RESOLVED"].contains(&n.attribute("lifecycle")),
            "{:#}",
            n.envelope
        );
    }
    assert_eq!(
        names, expected,
        "the six attributes, and `lifecycle`, `dedupe` and `cause` on findings: {:#}",
        n.envelope
    );
    assert!(n.attributes.len() <= 10, "SNS allows ten attributes");
    assert_eq!(n.attribute("account"), account.id);
    assert_eq!(n.attribute("region"), region);
}

/// Checks a JSON-format finding message against the offline finding with the same id.
fn check_json_finding(n: &Notification, seeded: &SeededDemo, offline: &Value) {
    let body = n.body();
    assert_eq!(body["schema"], "podreach/finding/v1", "{body:#}");
    assert_eq!(body["account"], n.attribute("account"));
    assert_eq!(body["region"], n.attribute("region"));
    let finding = &body["finding"];
    assert_eq!(finding["id"], n.attribute("finding_id"), "{body:#}");
    assert_eq!(finding["severity"], n.attribute("severity"));
    assert_eq!(finding["kind"], n.attribute("kind"));
    assert_eq!(finding["cluster"], n.attribute("cluster"));
    let mapped: Value = serde_json::from_str(&seeded.to_demo_ids(&finding.to_string()))
        .expect("id mapping keeps JSON valid");
    let expected = findings(offline)
        .iter()
        .find(|f| f["id"] == finding["id"])
        .unwrap_or_else(|| no_offline_finding(finding));
    assert_eq!(
        finding_view(&mapped),
        finding_view(expected),
        "the published finding (ids mapped back to the demo's) is the offline audit's"
    );
}

#[allow(
    clippy::panic,
    reason = "test support: a finding the offline audit lacks fails the test"
)]
fn no_offline_finding(finding: &Value) -> ! {
    panic!("the offline audit of the demo has no finding with this id: {finding:#}")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_is_handled_as_documented() {
    let started = Instant::now();
    let world = World::new().await;
    let seeding = started.elapsed();
    let offline = offline_report();
    let config = world.config(&[("MIN_SEVERITY", "LOW")]);

    // The table covers every sample, and nothing else.
    let mut names: Vec<&str> = SAMPLES.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        lambda::sample_names(),
        "SAMPLES lists every file of events/ (except invalid/)"
    );

    let mut failures = Vec::new();
    for (name, expect) in SAMPLES {
        let outcome = world
            .handle(name, &config)
            .await
            .unwrap_or_else(|e| handler_failed(name, &e));
        let clusters: Vec<&str> = outcome.clusters.iter().map(String::as_str).collect();
        if outcome.action != expect.action
            || clusters != expect.clusters
            || !outcome.why.contains(expect.why)
        {
            failures.push(format!(
                "{name}: expected {} {:?} (why ∋ {:?}), got {} {:?}: {}",
                expect.action, expect.clusters, expect.why, outcome.action, clusters, outcome.why
            ));
        }

        // What was published: the offline findings of the clusters audited, plus the digest.
        let in_scope: Vec<&Value> = findings(&offline)
            .iter()
            .filter(|f| clusters.iter().any(|c| f["cluster"] == *c))
            .collect();
        let digest = usize::from(*name == "scheduled.json");
        let wanted = in_scope
            .iter()
            .filter(|f| rank(f["severity"].as_str().unwrap_or_default()) >= rank("LOW"))
            .count()
            + digest;
        let messages = world.drain_all(wanted).await;
        if outcome.action == "ignored" {
            assert!(
                outcome.api_calls > 0 || outcome.why.contains("no cluster's nodes own"),
                "{name}: the lookup found no cluster"
            );
            assert_eq!((outcome.findings, outcome.published), (0, 0), "{name}");
        } else {
            assert_eq!(outcome.findings, in_scope.len(), "{name}: {outcome:?}");
            assert!(outcome.api_calls > 0, "{name}: an audit calls the APIs");
        }
        assert_eq!(outcome.published, wanted, "{name}: {outcome:?}");
        assert_eq!(
            messages.len(),
            wanted,
            "{name}: the queue received what the outcome says was published"
        );
        for n in &messages {
            check_envelope(n, &world.account, &world.region);
            if n.attribute("kind") == "digest" {
                assert_eq!(n.body()["schema"], "podreach/digest/v1");
            } else {
                check_json_finding(n, &world.seeded, &offline);
            }
        }
        eprintln!(
            "{name}: {} {:?}, {} finding(s), {} message(s), {} API call(s)",
            outcome.action,
            clusters,
            outcome.findings,
            messages.len(),
            outcome.api_calls
        );
    }
    assert!(
        failures.is_empty(),
        "samples handled otherwise than documented:\n{}",
        failures.join("\n")
    );
    eprintln!(
        "seeding {:.1} s, {} samples, test {:.1} s",
        seeding.as_secs_f64(),
        SAMPLES.len(),
        started.elapsed().as_secs_f64()
    );
}

#[allow(
    clippy::panic,
    reason = "test support: a handler error fails the test with its type"
)]
fn handler_failed(name: &str, error: &HandlerError) -> ! {
    panic!(
        "{name}: the handler failed ({}): {error}",
        error.error_type()
    )
}

/// Records what would be published.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Message>>);

impl Publish for Recorder {
    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        self.0.lock().expect("recorder lock").push(message.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn event_objects_that_exist_resolve_to_their_cluster() {
    let started = Instant::now();
    let world = World::new().await;
    // The samples' own ids for objects the demo lacks, played by shop's objects.
    let mut ids = world.seeded.ids.clone();
    for (sample_id, demo_id) in STAND_INS {
        let moto_id = world
            .seeded
            .moto_id(demo_id)
            .expect("the stand-in exists in the seeded demo");
        ids.insert(sample_id.to_owned(), moto_id.to_owned());
    }
    let stand_ins = SeededDemo { ids };
    let config = world.config(&[]);
    // One store, where a full audit first leaves the clusters' owned ids: the gone objects
    // (a detached ENI's attachment, a deleted ENI, a removed association) are found there.
    let store = MemoryStore::default();
    let recorder = Recorder::default();
    let scheduled = lambda::sample_event("scheduled.json", &stand_ins, &world.account);
    scheduled_audit(
        &scheduled,
        &Context {
            store: &store,
            ..lambda::fresh_context(&config, &world.region, &world.collector, &recorder)
        },
    )
    .await
    .unwrap_or_else(|e| handler_failed("scheduled.json", &e));

    let mut failures = Vec::new();
    for name in lambda::sample_names() {
        if name == "scheduled.json" {
            continue;
        }
        let event = lambda::sample_event(&name, &stand_ins, &world.account);
        let recorder = Recorder::default();
        let outcome = on_change(
            &event,
            &Context {
                store: &store,
                ..lambda::fresh_context(&config, &world.region, &world.collector, &recorder)
            },
        )
        .await
        .unwrap_or_else(|e| handler_failed(&name, &e));
        // Under moto only, the peering events widen (moto ignores the peering id filter and
        // answers with the legacy ↔ payments peering too; EC2 would give shop alone). The inputs
        // of the payments side (its security group and network ACL, and a transit gateway route
        // to its VPC) are read by both clusters, which both reach payments. Objects of no
        // audited cluster (the samples' transit gateway route table and prefix list, which the
        // demo lacks, and an ACL association moto names otherwise) are dismissed.
        let expected: &[&str] = if [
            "ec2-accept-vpc-peering-connection.json",
            "ec2-delete-vpc-peering-connection.json",
            "ec2-authorize-security-group-ingress.json",
            "ec2-revoke-security-group-ingress.json",
            "ec2-modify-security-group-rules.json",
            "ec2-delete-network-acl-entry.json",
            "ec2-create-transit-gateway-route.json",
        ]
        .contains(&name.as_str())
        {
            BOTH
        } else if [
            "ec2-replace-transit-gateway-route.json",
            "ec2-delete-transit-gateway-route.json",
            "ec2-modify-managed-prefix-list.json",
            "ec2-replace-network-acl-association.json",
        ]
        .contains(&name.as_str())
        {
            NONE
        } else {
            SHOP
        };
        let action = if expected.is_empty() {
            "ignored"
        } else {
            "audited"
        };
        let clusters: Vec<&str> = outcome.clusters.iter().map(String::as_str).collect();
        if outcome.action != action || clusters != expected {
            failures.push(format!(
                "{name}: expected {action} {expected:?}, got {} {clusters:?}: {}",
                outcome.action, outcome.why
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "events whose objects exist were not resolved to their cluster:\n{}",
        failures.join("\n")
    );
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn high_severity_filter_policy_passes_only_high_and_critical() {
    let started = Instant::now();
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    // ipamd deleted shop's secondary ENI (`ec2-delete-network-interface.json`), and shop's
    // vpc-cni add-on is the one `eks-create-addon.json` creates (v1.11.4,
    // AWS_VPC_CNI_NODE_PORT_SUPPORT=false): no pod sits on a secondary ENI now, but the next one
    // will be cut off from the peer, a latent risk (MEDIUM), while legacy's finding stays HIGH.
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    let eni = seeded
        .moto_id("eni-0a02f1e2d3c4b5a62")
        .expect("shop's secondary ENI");
    ec2.detach_network_interface()
        .attachment_id(
            seeded
                .moto_id("eni-attach-0a02f1e2d3c4b5a62")
                .expect("its attachment"),
        )
        .force(true)
        .send()
        .await
        .expect("DetachNetworkInterface on moto");
    ec2.delete_network_interface()
        .network_interface_id(eni)
        .send()
        .await
        .expect("DeleteNetworkInterface on moto");
    let create_addon: Value = serde_json::from_str(&lambda::sample_text("eks-create-addon.json"))
        .expect("the sample is JSON");
    let request = &create_addon["detail"]["requestParameters"];
    let mut addons = lambda::demo_addons();
    addons.insert(
        "shop".to_owned(),
        raw::Addon {
            addon_name: "vpc-cni".to_owned(),
            cluster_name: "shop".to_owned(),
            addon_version: request["addonVersion"].as_str().map(str::to_owned),
            status: Some("ACTIVE".to_owned()),
            configuration_values: request["configurationValues"].as_str().map(str::to_owned),
        },
    );
    let subscribers = lambda::subscribers(&account).await;
    let collector = lambda::collector(&account, addons);
    let region = lambda::region(&account);
    let publisher = subscribers.publisher();
    let config = config(&[
        ("TOPIC_ARN", subscribers.topic_arn.as_str()),
        ("MIN_SEVERITY", "LOW"),
    ]);

    let scheduled = lambda::sample_event("scheduled.json", &seeded, &account);
    let everything = scheduled_audit(
        &scheduled,
        &lambda::fresh_context(&config, &region, &collector, &publisher),
    )
    .await
    .expect("the scheduled audit runs");
    let addon_event = lambda::sample_event("eks-create-addon.json", &seeded, &account);
    let shop_only = on_change(
        &addon_event,
        &lambda::fresh_context(&config, &region, &collector, &publisher),
    )
    .await
    .expect("the add-on event is handled");
    assert_eq!(shop_only.clusters, ["shop"]);
    let published = everything.published + shop_only.published;

    let all = lambda::drain(&subscribers.sqs, &subscribers.all, published).await;
    assert_eq!(
        all.len(),
        published,
        "every message reaches the unfiltered queue"
    );
    let severities: BTreeMap<&str, Vec<&str>> = all.iter().fold(BTreeMap::new(), |mut m, n| {
        m.entry(n.attribute("severity"))
            .or_default()
            .push(n.attribute("kind"));
        m
    });
    let passing: BTreeSet<&str> = all
        .iter()
        .filter(|n| ["HIGH", "CRITICAL"].contains(&n.attribute("severity")))
        .map(|n| n.message_id.as_str())
        .collect();
    assert!(
        !passing.is_empty() && passing.len() < all.len(),
        "the audits published messages of several severities, some HIGH or above and some \
         below: {severities:?}"
    );
    assert!(
        severities.contains_key("MEDIUM"),
        "shop's latent risk is MEDIUM: {severities:?}"
    );

    let high = lambda::drain(&subscribers.sqs, &subscribers.high, passing.len()).await;
    let received: BTreeSet<&str> = high.iter().map(|n| n.message_id.as_str()).collect();
    assert_eq!(
        received, passing,
        "the filtered queue receives exactly the HIGH and CRITICAL messages ({severities:?})"
    );
    assert_eq!(high.len(), received.len(), "each once");
    eprintln!(
        "{} message(s) {severities:?}, {} passed the filter policy, test {:.1} s",
        all.len(),
        high.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chatbot_format_is_the_custom_notification_schema() {
    let started = Instant::now();
    let world = World::new().await;
    let offline = offline_report();
    let config = world.config(&[("MESSAGE_FORMAT", "chatbot")]);

    // legacy's add-on updated, so legacy's HIGH finding is published.
    let mut event = world.event("eks-update-addon.json");
    event["detail"]["requestParameters"]["clusterName"] = json!("legacy");
    let publisher = world.subscribers.publisher();
    let outcome = on_change(
        &event,
        &lambda::fresh_context(&config, &world.region, &world.collector, &publisher),
    )
    .await
    .expect("the add-on event is handled");
    assert_eq!(outcome.clusters, ["legacy"]);
    let messages = world.drain_all(outcome.published).await;
    let legacy: Vec<&Value> = findings(&offline)
        .iter()
        .filter(|f| f["cluster"] == "legacy")
        .collect();
    assert_eq!(
        messages.len(),
        legacy.len(),
        "one message per finding at or above MEDIUM (legacy's)"
    );
    assert!(!messages.is_empty());
    for n in &messages {
        check_envelope(n, &world.account, &world.region);
        let body = n.body();
        let id = n.attribute("finding_id");
        let finding = legacy
            .iter()
            .find(|f| f["id"] == id)
            .expect("the message is one of legacy's offline findings");
        assert_eq!(body["version"], "1.0", "{body:#}");
        assert_eq!(body["source"], "custom");
        // The notification's id is the announcement's: the same on a copy sent again.
        assert_eq!(body["id"], n.attribute("dedupe"));
        assert_eq!(
            body["metadata"]["additionalContext"]["message_id"],
            n.attribute("dedupe")
        );
        assert_eq!(body["metadata"]["additionalContext"]["redelivery"], "false");
        assert_eq!(
            body["metadata"]["threadId"],
            format!("{}-{}-{id}", world.account.id, world.region),
            "one finding (of an account and Region), one Slack thread"
        );
        assert_eq!(body["content"]["textType"], "client-markdown");
        let title = body["content"]["title"].as_str().expect("a title");
        assert!(
            title.contains("legacy") && title.chars().count() <= 250,
            "{title}"
        );
        let description = body["content"]["description"]
            .as_str()
            .expect("a description");
        // The function has no kubectl dumps: pods are unknown, their addresses are listed as
        // ranges.
        let pods = finding["affected"]["pods"].as_array().expect("pods");
        let addresses = finding["affected"]["pod_address_ranges"]
            .as_array()
            .expect("address ranges");
        let listed = if pods.is_empty() { addresses } else { pods };
        assert!(!listed.is_empty());
        for item in listed {
            let item = item.as_str().expect("a string");
            assert!(
                description.contains(&format!("• `{item}`")),
                "the description lists {item}: {description}"
            );
        }
        let commands: Vec<&str> = finding["remediation"]
            .as_array()
            .expect("remediation")
            .iter()
            .filter_map(|r| r["command"].as_str())
            .collect();
        assert!(!commands.is_empty());
        let block = format!("```\n{}\n```", commands.join("\n"));
        assert!(
            description.contains(&block),
            "the fix commands are in a code block:\n{description}"
        );
        assert!(description.chars().count() <= 8_000);
        let keywords = body["content"]["keywords"].as_array().expect("keywords");
        assert!(keywords.contains(&json!(n.attribute("severity"))));
        assert_eq!(body["metadata"]["additionalContext"]["finding_id"], id);
        assert_eq!(
            body["metadata"]["additionalContext"]["account"],
            world.account.id
        );
    }

    // The digest of a scheduled audit in the same format, threaded per account and region.
    let outcome = world
        .handle("scheduled.json", &config)
        .await
        .expect("the scheduled audit runs");
    let messages = world.drain_all(outcome.published).await;
    let digests: Vec<&Notification> = messages
        .iter()
        .filter(|n| n.attribute("kind") == "digest")
        .collect();
    assert_eq!(digests.len(), 1);
    let digest = digests[0].body();
    assert_eq!(digest["version"], "1.0");
    assert_eq!(digest["source"], "custom");
    assert_eq!(
        digest["metadata"]["threadId"],
        format!("podreach-digest-{}-{}", world.account.id, world.region)
    );
    let description = digest["content"]["description"]
        .as_str()
        .expect("a description");
    for finding in findings(&offline) {
        let title = finding["title"].as_str().expect("a title");
        assert!(
            description.contains(&title.chars().take(40).collect::<String>()),
            "the digest lists {title}: {description}"
        );
    }
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_audit_publishes_a_digest() {
    let started = Instant::now();
    let world = World::new().await;
    let offline = offline_report();

    let outcome = world
        .handle("scheduled.json", &world.config(&[]))
        .await
        .expect("the scheduled audit runs");
    assert_eq!(outcome.action, "audited");
    assert_eq!(outcome.clusters, BOTH);
    let messages = world.drain_all(outcome.published).await;
    assert_eq!(messages.len(), outcome.published);
    let (digests, others): (Vec<&Notification>, Vec<&Notification>) = messages
        .iter()
        .partition(|n| n.attribute("kind") == "digest");
    assert_eq!(digests.len(), 1, "one digest per scheduled audit");
    let published_offline: Vec<&Value> = findings(&offline)
        .iter()
        .filter(|f| rank(f["severity"].as_str().unwrap_or_default()) >= rank("MEDIUM"))
        .collect();
    assert_eq!(
        others.len(),
        published_offline.len(),
        "plus each finding at or above MIN_SEVERITY"
    );
    let n = digests[0];
    check_envelope(n, &world.account, &world.region);
    assert_eq!(n.attribute("finding_id"), "digest");
    assert_eq!(n.attribute("cluster"), "legacy,shop");
    let worst = findings(&offline)
        .iter()
        .filter_map(|f| f["severity"].as_str())
        .max_by_key(|s| rank(s))
        .expect("the demo has findings");
    assert_eq!(
        n.attribute("severity"),
        worst,
        "the digest carries the worst severity"
    );
    let body = n.body();
    assert_eq!(body["schema"], "podreach/digest/v1", "{body:#}");
    assert_eq!(body["account"], world.account.id);
    let names: Vec<&Value> = body["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("legacy"), &json!("shop")]);
    let ids: BTreeSet<&str> = body["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    let offline_ids: BTreeSet<&str> = findings(&offline)
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, offline_ids, "the digest names every finding");
    let gaps = body["gaps"].as_array().expect("gaps listed");
    assert_eq!(gaps.len(), outcome.gaps);
    assert!(
        gaps.iter().any(|g| g["cluster"] == "shop"
            && g["message"]
                .as_str()
                .is_some_and(|m| m.contains("self-managed"))),
        "shop's missing add-on is a gap of the digest: {gaps:#?}"
    );

    // CLUSTERS narrows the scheduled audit; a digest is published even without a finding at or
    // above MIN_SEVERITY. shop's CNI version is unknown: the digest says UNKNOWN, never clean.
    let outcome = world
        .handle("scheduled.json", &world.config(&[("CLUSTERS", "shop")]))
        .await
        .expect("the scheduled audit of shop runs");
    assert_eq!(outcome.clusters, ["shop"]);
    assert_eq!(outcome.published, 1, "the digest only: {outcome:?}");
    assert_eq!(outcome.blind_spots.len(), 1, "{outcome:?}");
    assert!(
        outcome.blind_spots[0].starts_with("shop: CNI version"),
        "{outcome:?}"
    );
    let messages = world.drain_all(1).await;
    assert_eq!(messages.len(), 1);
    let n = &messages[0];
    assert_eq!(
        (
            n.attribute("kind"),
            n.attribute("severity"),
            n.attribute("cluster")
        ),
        ("digest", "LOW", "shop")
    );
    assert!(
        n.subject
            .as_deref()
            .is_some_and(|s| s.contains("UNKNOWN: shop")),
        "{:?}",
        n.subject
    );
    assert_eq!(n.body()["clusters"][0]["status"], "UNKNOWN");
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_call_is_ignored_and_publishes_nothing() {
    let world = World::new().await;
    let outcome = world
        .handle(
            "invalid/ec2-attach-network-interface-failed.json",
            &world.config(&[("MIN_SEVERITY", "INFORMATIONAL")]),
        )
        .await
        .expect("a failed call is not an error");
    assert_eq!(outcome.action, "ignored");
    assert!(
        outcome
            .why
            .contains("AttachNetworkInterface failed (Client.UnauthorizedOperation)"),
        "{}",
        outcome.why
    );
    assert_eq!(
        (outcome.api_calls, outcome.findings, outcome.published),
        (0, 0, 0),
        "nothing collected, nothing published"
    );
    assert!(world.drain_all(0).await.is_empty());
}

/// A collector that must not be asked: records that it was.
#[derive(Debug, Default)]
struct NoCollection(AtomicUsize);

impl Collect for NoCollection {
    async fn collect(&self, _scope: &Scope) -> Result<Collection, CollectError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(CollectError::ListClusters(ApiFailure {
            action: "eks:ListClusters",
            kind: FailureKind::Service,
            code: None,
            message: "this test's collector must not be asked".to_owned(),
        }))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_events_are_typed_errors_not_panics() {
    let attach: Value =
        serde_json::from_str(&lambda::sample_text("ec2-attach-network-interface.json"))
            .expect("the sample is JSON");
    let with = |pointer: &str, value: Value| {
        let mut event = attach.clone();
        *event
            .pointer_mut(pointer)
            .expect("the sample has this field") = value;
        event
    };
    let mut no_instance = attach.clone();
    no_instance["detail"]["requestParameters"]
        .as_object_mut()
        .expect("requestParameters")
        .remove("instanceId");
    let running: Value =
        serde_json::from_str(&lambda::sample_text("ec2-instance-state-running.json"))
            .expect("the sample is JSON");
    let mut no_instance_id = running.clone();
    no_instance_id["detail"]
        .as_object_mut()
        .expect("detail")
        .remove("instance-id");
    let pod: Value = serde_json::from_str(&lambda::sample_text("k8s-pod-scheduled.json"))
        .expect("the sample is JSON");
    let mut no_cluster = pod.clone();
    no_cluster["source"] = json!("kubernetes-event-exporter");
    let mut foreign_k8s = pod.clone();
    foreign_k8s["source"] = json!("my-exporter");
    let version: Value =
        serde_json::from_str(&lambda::sample_text("eks-update-cluster-version.json"))
            .expect("the sample is JSON");
    let mut no_name = version.clone();
    no_name["detail"]["requestParameters"]
        .as_object_mut()
        .expect("requestParameters")
        .remove("name");
    let mut no_event_name = attach.clone();
    no_event_name["detail"]
        .as_object_mut()
        .expect("detail")
        .remove("eventName");
    let not_an_event: Value =
        serde_json::from_str(&lambda::sample_text("invalid/not-an-event.json"))
            .expect("not-an-event.json is JSON (just not an event)");

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "invalid/not-an-event.json",
            not_an_event,
            "podreach.MalformedEvent",
            "not an EventBridge event",
        ),
        (
            "{\"not\":\"an event\"}",
            json!({"not": "an event"}),
            "podreach.MalformedEvent",
            "detail-type",
        ),
        (
            "a string",
            json!("ec2-attach-network-interface"),
            "podreach.MalformedEvent",
            "not an EventBridge event",
        ),
        (
            "null",
            Value::Null,
            "podreach.MalformedEvent",
            "not an EventBridge event",
        ),
        (
            "an array",
            json!([attach.clone()]),
            "podreach.MalformedEvent",
            "not an EventBridge event",
        ),
        (
            "detail-type a number",
            with("/detail-type", json!(7)),
            "podreach.MalformedEvent",
            "not an EventBridge event",
        ),
        (
            "CloudTrail detail without eventName",
            no_event_name,
            "podreach.MalformedEvent",
            "eventName",
        ),
        (
            "unknown detail-type",
            with(
                "/detail-type",
                json!("EC2 Spot Instance Interruption Warning"),
            ),
            "podreach.UnsupportedEvent",
            "EC2 Spot Instance Interruption Warning",
        ),
        (
            "Kubernetes Event from another source",
            foreign_k8s,
            "podreach.UnsupportedEvent",
            "my-exporter",
        ),
        (
            "AttachNetworkInterface without instanceId",
            no_instance,
            "podreach.IncompleteEvent",
            "instanceId",
        ),
        (
            "state change without instance-id",
            no_instance_id,
            "podreach.IncompleteEvent",
            "instance-id",
        ),
        (
            "Kubernetes Event naming no cluster",
            no_cluster,
            "podreach.IncompleteEvent",
            "clusterName",
        ),
        (
            "UpdateClusterVersion without name",
            no_name,
            "podreach.IncompleteEvent",
            "name",
        ),
    ];

    let config = config(&[("TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:unused")]);
    let collector = NoCollection::default();
    let publisher = Recorder::default();
    let mut failures = Vec::new();
    for (what, event, error_type, message) in &cases {
        match trigger::decide(event) {
            Err(e) if e.error_type() == *error_type && e.to_string().contains(message) => {}
            other => failures.push(format!(
                "{what}: trigger::decide gave {other:?}, expected {error_type} mentioning {message:?}"
            )),
        }
        match on_change(
            event,
            &lambda::fresh_context(&config, "us-east-1", &collector, &publisher),
        )
        .await
        {
            Err(e) if e.error_type() == *error_type && e.to_string().contains(message) => {}
            Err(e) => failures.push(format!(
                "{what}: on_change failed with {} ({e}), expected {error_type}",
                e.error_type()
            )),
            Ok(outcome) => failures.push(format!("{what}: on_change succeeded: {outcome:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        collector.0.load(Ordering::SeqCst),
        0,
        "nothing was collected"
    );
    assert!(
        publisher.0.lock().expect("recorder lock").is_empty(),
        "nothing published"
    );

    // An unsupported CloudTrail call of a supported service is not an error: it changes nothing.
    let describe = with("/detail/eventName", json!("DescribeNetworkInterfaces"));
    assert!(matches!(
        trigger::decide(&describe),
        Ok(Decision::Ignore(why)) if why.contains("does not change what podreach analyses")
    ));

    // truncated.json is not JSON: the Lambda runtime cannot deserialise it, so the handler
    // never sees it (runtime_api.rs shows the runtime's own error for it).
    let truncated = lambda::sample_text("invalid/truncated.json");
    let error = serde_json::from_str::<Value>(&truncated).expect_err("truncated.json is not JSON");
    assert!(error.is_eof(), "cut mid-way: {error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_publishes_nothing() {
    let world = World::new().await;
    // DRY_RUN needs no topic; a bad value is a configuration error naming the variable.
    let dry = config(&[("DRY_RUN", "true"), ("MIN_SEVERITY", "LOW")]);
    assert!(dry.dry_run && dry.topic_arn.is_none());
    let bad = FunctionConfig::from_lookup(|name| (name == "DRY_RUN").then(|| "perhaps".to_owned()))
        .expect_err("DRY_RUN=perhaps is rejected");
    assert_eq!(bad.name, "DRY_RUN");

    let event = world.event("eks-update-addon.json");
    let outcome = on_change(
        &event,
        &lambda::fresh_context(&dry, &world.region, &world.collector, &DryRun),
    )
    .await
    .expect("the dry run audits");
    assert_eq!(outcome.action, "audited");
    assert_eq!(outcome.clusters, SHOP);
    assert!(
        outcome.published > 0,
        "the outcome counts what would have been published: {outcome:?}"
    );
    lambda::assert_nothing_received(
        &world.subscribers.sqs,
        &world.subscribers.all,
        "a dry run publishes nothing",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_described_without_its_vpc_id_is_still_audited() {
    // moto's DescribeCluster has no `resourcesVpcConfig.vpcId` (see `podreach_tests::lambda`);
    // the collector means to take the VPC from the cluster's subnets then
    // (`Collector::describe_cluster`), so the add-on event still audits shop. Here the clusters
    // are left as moto describes them.
    let (account, seeded) = seed::fresh_account_with_demo().await;
    let collector = lambda::collector(&account, lambda::demo_addons());
    let event = lambda::sample_event("eks-update-addon.json", &seeded, &account);
    let config = config(&[("DRY_RUN", "true")]);
    let outcome = on_change(
        &event,
        &lambda::fresh_context(&config, &lambda::region(&account), &collector, &DryRun),
    )
    .await
    .expect("the add-on event is handled");
    assert_eq!(
        (outcome.action, outcome.clusters.as_slice()),
        ("audited", ["shop".to_owned()].as_slice()),
        "a cluster whose DescribeCluster lacks vpcId is found through its subnets: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_audit_without_clusters_still_publishes_its_digest() {
    // A region without clusters (or CLUSTERS naming none that exist): the digest says so. SNS
    // rejects a String attribute whose value is empty, so the `cluster` attribute of a digest of
    // no clusters must not be "".
    let account = Moto::shared().account().await;
    let subscribers = lambda::subscribers(&account).await;
    let collector = lambda::collector(&account, lambda::demo_addons());
    let publisher = subscribers.publisher();
    let event = lambda::sample_event("scheduled.json", &SeededDemo::default(), &account);
    let config = config(&[("TOPIC_ARN", subscribers.topic_arn.as_str())]);
    let outcome = scheduled_audit(
        &event,
        &lambda::fresh_context(&config, &lambda::region(&account), &collector, &publisher),
    )
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => handler_failed("scheduled.json in an account without clusters", &e),
    };
    assert_eq!(outcome.clusters, NONE);
    assert_eq!(outcome.published, 1, "{outcome:?}");
    let messages = lambda::drain(&subscribers.sqs, &subscribers.all, 1).await;
    assert_eq!(messages.len(), 1);
    let n = &messages[0];
    check_envelope(n, &account, &lambda::region(&account));
    assert_eq!(
        (n.attribute("kind"), n.attribute("severity")),
        ("digest", "NONE")
    );
    assert!(!n.attribute("cluster").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_from_the_debounce_queue_is_audited_once_for_the_union_of_its_events() {
    let started = Instant::now();
    let world = World::new().await;
    let config = world.config(&[("MIN_SEVERITY", "LOW")]);
    let publisher = world.subscribers.publisher();

    // Every on-change sample, a non-event and a failed call, through a real (moto) SQS queue.
    let mut bodies: Vec<String> = lambda::sample_names()
        .iter()
        .filter(|name| *name != "scheduled.json")
        .map(|name| world.event(name).to_string())
        .collect();
    let samples = bodies.len();
    bodies.push(r#"{"not":"an event"}"#.to_owned());
    bodies.push(
        world
            .event("invalid/ec2-attach-network-interface-failed.json")
            .to_string(),
    );
    let (batch, ids) = lambda::sqs_batch(&world.account, "podreach-changes", &bodies).await;
    let answer = on_change_invocation(
        &batch,
        &lambda::fresh_context(&config, &world.region, &world.collector, &publisher),
    )
    .await
    .expect("a batch gets a partial-failure answer");
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": ids[samples]}]}),
        "only the non-event goes back to the queue"
    );
    // 13 of the samples audit legacy on their own; the batch publishes its finding once. shop's
    // CNI is self-managed and unseen (no add-on; the functions here read no Kubernetes API):
    // its version is unknown, so what differs between releases is its one LOW finding.
    let messages = world.drain_all(2).await;
    let mut clusters: Vec<&str> = messages.iter().map(|n| n.attribute("cluster")).collect();
    clusters.sort_unstable();
    assert_eq!(
        clusters,
        ["legacy", "shop"],
        "one audit, one message per finding"
    );
    let shop = messages
        .iter()
        .find(|n| n.attribute("cluster") == "shop")
        .expect("shop's finding");
    assert_eq!(shop.attribute("severity"), "LOW");
    assert_eq!(shop.body()["finding"]["cause"], "MISSING_INPUT");
    assert!(
        shop.body()["finding"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("CNI version is unknown")),
        "{:#}",
        shop.body()
    );
    for n in &messages {
        check_envelope(n, &world.account, &world.region);
    }

    // A batch of shop events only: shop has no finding at MEDIUM or above (only its LOW one,
    // the CNI version it cannot see), nothing is published.
    let config = world.config(&[("MIN_SEVERITY", "MEDIUM")]);
    let bodies: Vec<String> = [
        "eks-update-addon.json",
        "k8s-pod-scheduled.json",
        "ec2-create-route.json",
    ]
    .iter()
    .map(|name| world.event(name).to_string())
    .collect();
    let (batch, _) = lambda::sqs_batch(&world.account, "podreach-changes-2", &bodies).await;
    let answer = on_change_invocation(
        &batch,
        &lambda::fresh_context(&config, &world.region, &world.collector, &publisher),
    )
    .await
    .expect("a batch gets a partial-failure answer");
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert!(world.drain_all(0).await.is_empty());
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

/// After a full audit cached legacy's context, an ENI event collects only its node: three EC2
/// calls (the ENI, then the node's ENIs and its instance together), audited against the context.
/// One node's view resolves and changes nothing: its findings are quiet repeats. A context older
/// than `CONTEXT_MAX_AGE_MINUTES`, or a route event, re-collects the whole cluster.
#[tokio::test(flavor = "multi_thread")]
async fn an_eni_event_after_a_full_audit_collects_only_its_node() {
    let world = World::new().await;
    let config = world.config(&[("MIN_SEVERITY", "LOW"), ("CONTEXT_MAX_AGE_MINUTES", "30")]);
    let store = podreach_aws::state::MemoryStore::default();
    let suppressions = podreach_aws::suppressions::SuppressionSource::None;
    let recorder = Recorder::default();
    let at = |now: i64| podreach_aws::function::Context {
        config: &config,
        region: &world.region,
        collector: &world.collector,
        others: &[],
        publisher: &recorder,
        store: &store,
        suppressions: &suppressions,
        now: Some(now),
        deadline: None,
    };
    // AssignPrivateIpAddresses on legacy's secondary ENI (the sample names an ENI the demo
    // lacks); legacy (CNI v1.7.10) has findings from its add-on settings alone.
    let text = lambda::sample_text("ec2-assign-private-ip-addresses.json")
        .replace("eni-0a1b2c3d4e5f6a002", "eni-0c02f1e2d3c4b5a64");
    let eni_event = lambda::event_for(&text, &world.seeded, &world.account);
    let t0 = 1_890_000_000;

    // 1. Nothing cached yet: the whole cluster, whose context is then cached.
    let first = on_change(&eni_event, &at(t0))
        .await
        .unwrap_or_else(|e| handler_failed("first", &e));
    assert_eq!(first.context_age_seconds, None, "{first:?}");
    assert!(first.api_calls > 5, "{first:?}");
    assert!(first.published > 0, "{first:?}");

    // 2. A minute later: only the node, in three EC2 calls.
    let second = on_change(&eni_event, &at(t0 + 60))
        .await
        .unwrap_or_else(|e| handler_failed("second", &e));
    assert_eq!(second.context_age_seconds, Some(60), "{second:?}");
    assert_eq!(second.api_calls, 3, "{second:?}");
    assert_eq!(second.clusters, ["legacy"]);
    assert!(second.findings > 0, "the node's own findings: {second:?}");
    assert_eq!(second.published, 0, "{second:?}");
    assert_eq!(
        second.lifecycle.get("ONGOING").copied(),
        Some(second.findings),
        "every finding of the node is a repeat: {second:?}"
    );
    assert!(
        second.why.contains("only the event's node(s)"),
        "{second:?}"
    );

    // 3. Past the context's age: the whole cluster again.
    let stale = on_change(&eni_event, &at(t0 + 60 + 31 * 60))
        .await
        .unwrap_or_else(|e| handler_failed("stale", &e));
    assert_eq!(stale.context_age_seconds, None, "{stale:?}");
    assert!(stale.api_calls > 5, "{stale:?}");

    // 4. A route event is never a node's: the whole cluster, whatever is cached.
    let route = on_change(
        &world.event("ec2-create-route.json"),
        &at(t0 + 60 + 32 * 60),
    )
    .await
    .unwrap_or_else(|e| handler_failed("route", &e));
    assert_eq!(route.context_age_seconds, None, "{route:?}");
    assert!(route.api_calls > 5, "{route:?}");
}
