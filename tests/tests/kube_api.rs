//! podreach's Kubernetes API reader (`podreach_aws::kube`) against the fake EKS API server
//! (`tests/kube/fake_kube`), and that server proven against the real client, Debian's `kubectl`
//! (`scripts/install-kubectl.sh`, which `./scripts/test` runs): `kubectl get pods -A
//! --chunk-size=2 -o json` and `kubectl get daemonset aws-node -n kube-system -o json` with a
//! token podreach made must give exactly what podreach reads. Then each way a read fails, as a
//! blind spot with its cause and remedy: no access entry (401), no RBAC (403), the aws-auth
//! ConfigMap mode, AmazonEKSViewPolicy (no Node objects), a private endpoint that never answers
//! (within the time bound), a closed port, a certificate of another CA, and a list whose
//! `continue` token expires once (read again) or twice (a blind spot).
//!
//! Identities are moto accounts (STS `AssumeRole`): moto's `GetCallerIdentity` names the
//! principal the remedies quote.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use podreach_aws::kube::{KubeAccess, KubeMode, KubeSettings, Reach, Runner};
use podreach_aws::stats::CallStats;
use podreach_core::snapshot::{Document, SourceFile};
use podreach_core::{demo, raw, snapshot};
use podreach_tests::kube::{FakeKube, READERS, identity, project_rbac, readable_cluster};
use podreach_tests::moto::{Account, Moto};
use serde_json::{Value, json};

fn demo_json(path: &str) -> Value {
    let text = demo::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, t)| *t)
        .expect("a demo file");
    serde_json::from_str(text).expect("demo JSON")
}

/// The demo's `shop` as a cluster's API objects: its aws-node DaemonSet, pods and Node.
fn shop_objects() -> Value {
    json!({
        "daemonsets": [demo_json("shop/aws-node.json")],
        "pods": demo_json("shop/pods.json")["items"],
        "nodes": demo_json("shop/nodes.json")["items"],
    })
}

/// `describe-cluster`'s answer for a registered cluster, as the reader takes it.
fn described(registered: &podreach_tests::kube::Registered, public: bool) -> raw::Cluster {
    serde_json::from_value(json!({
        "name": registered.name,
        "arn": registered.arn,
        "endpoint": registered.endpoint,
        "certificateAuthority": {"data": registered.ca_data},
        "resourcesVpcConfig": {"vpcId": "vpc-0a5e1d2c3b4a59601", "endpointPublicAccess": public,
                               "endpointPrivateAccess": true},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}
    }))
    .expect("a cluster")
}

fn access(account: &Account, runner: Runner, page_size: u32) -> KubeAccess {
    KubeAccess::from_config(
        &account.config,
        KubeMode::Eks,
        runner,
        KubeSettings {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(3),
            page_size,
        },
    )
}

fn kubectl() -> PathBuf {
    let path = podreach_tests::infra::repo_root().join(".tools/kubectl/usr/bin/kubectl");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-kubectl.sh (./scripts/test does)",
        path.display()
    );
    path
}

/// A kubeconfig for `registered` with a bearer token podreach made for `account`.
fn kubeconfig(
    dir: &std::path::Path,
    registered: &podreach_tests::kube::Registered,
    account: &Account,
) -> PathBuf {
    let token = podreach_aws::kube::token::eks_token(
        &registered.name,
        &podreach_tests::lambda::region(account),
        &account.credentials,
        SystemTime::now(),
    )
    .expect("a token");
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": registered.endpoint, "certificate-authority-data": registered.ca_data}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x"
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config.to_string()).expect("write the kubeconfig");
    path
}

fn run_kubectl(config: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(kubectl())
        .arg("--kubeconfig")
        .arg(config)
        .args(args)
        .env("HOME", config.parent().expect("a directory"))
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A file read by podreach's own snapshot reader (the offline path).
fn read_as_snapshot(path: &str, text: String) -> Document {
    let loaded = snapshot::load(&[SourceFile {
        path: path.to_owned(),
        text,
    }])
    .into_result()
    .expect("kubectl's output is a snapshot document");
    loaded
        .documents
        .into_iter()
        .next()
        .expect("one document")
        .document
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_and_podreach_read_the_same_pods_and_daemonset_from_the_fake_api() {
    let kube = FakeKube::shared();
    let account = Moto::shared().account().await;
    let registered = kube.register(&readable_cluster(&account, "shop", shop_objects(), None));
    let dir = tempfile::tempdir().expect("a scratch directory");
    let config = kubeconfig(dir.path(), &registered, &account);

    kube.clear_requests(&registered.arn);
    let pods_text = run_kubectl(
        &config,
        &["get", "pods", "-A", "--chunk-size=2", "-o", "json"],
    );
    let chunked: Vec<Value> = kube
        .requests(&registered.arn)
        .into_iter()
        .filter(|r| r["path"] == "/api/v1/pods")
        .collect();
    assert!(
        chunked.len() >= 3 && chunked.iter().all(|r| r["query"]["limit"] == "2"),
        "kubectl reads in chunks of 2: {chunked:#?}"
    );
    assert!(
        chunked
            .iter()
            .skip(1)
            .all(|r| r["query"]["continue"].is_string())
    );
    let daemonset_text = run_kubectl(
        &config,
        &[
            "get",
            "daemonset",
            "aws-node",
            "-n",
            "kube-system",
            "-o",
            "json",
        ],
    );

    // podreach, with its own token, in pages of 2 as well.
    let stats = CallStats::new();
    let read = access(&account, Runner::Cli, 2)
        .read(&described(&registered, true), &Reach::Cluster, &stats)
        .await;
    assert!(read.blind_spots.is_empty(), "{:#?}", read.blind_spots);
    let kubectl_pods = match read_as_snapshot("pods.json", pods_text) {
        Document::Pods(pods) => pods,
        other => unreachable!("kubectl's pods are a pods document, not {other:?}"),
    };
    let podreach_pods = read.pods.expect("the pods were read");
    assert_eq!(podreach_pods.items.len(), 5);
    assert_eq!(
        podreach_pods.items, kubectl_pods.items,
        "the same pods, field for field"
    );
    let kubectl_daemonset = match read_as_snapshot("aws-node.json", daemonset_text) {
        Document::AwsNode(daemonset) => daemonset,
        other => unreachable!("kubectl's DaemonSet is the aws-node document, not {other:?}"),
    };
    let podreach_daemonset = read.daemonset.expect("the DaemonSet was read");
    assert_eq!(
        serde_json::to_value(&podreach_daemonset).expect("serialises"),
        serde_json::to_value(&kubectl_daemonset).expect("serialises"),
    );
    assert!(podreach_daemonset.metadata.resource_version.is_some());
    assert_eq!(read.nodes.expect("nodes").items.len(), 1);
    // No ENIConfig CRD in this cluster: no ENIConfigs, and that is no failure.
    assert!(read.eniconfigs.is_none());
    let reading = stats.reading().since(&Default::default(), 0);
    assert!(
        reading.operations["k8s:list pods"].calls >= 3,
        "{:?}",
        reading.operations
    );
    assert!(reading.operations["k8s:list pods"].bytes > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_audit_reads_only_its_node_pods_and_the_daemonset() {
    let kube = FakeKube::shared();
    let account = Moto::shared().account().await;
    let mut objects = shop_objects();
    // A second node's pod, which the node audit must not read.
    let mut other = objects["pods"][1].clone();
    other["metadata"]["name"] = json!("web-6b9f7c5d8-zzzzz");
    other["spec"]["nodeName"] = json!("ip-10-0-2-10.ec2.internal");
    other["status"]["podIP"] = json!("10.0.2.21");
    other["status"]["podIPs"] = json!([{"ip": "10.0.2.21"}]);
    objects["pods"].as_array_mut().expect("pods").push(other);
    let registered = kube.register(&readable_cluster(&account, "shop", objects, None));
    kube.clear_requests(&registered.arn);
    let stats = CallStats::new();
    let read = access(&account, Runner::Functions, 500)
        .read(
            &described(&registered, true),
            &Reach::Nodes(vec!["ip-10-0-1-10.ec2.internal".to_owned()]),
            &stats,
        )
        .await;
    assert!(read.blind_spots.is_empty(), "{:#?}", read.blind_spots);
    let pods = read.pods.expect("pods");
    assert!(
        pods.items
            .iter()
            .all(|p| p.node() == Some("ip-10-0-1-10.ec2.internal"))
    );
    assert_eq!(pods.items.len(), 5);
    assert!(read.daemonset.is_some());
    let requests = kube.requests(&registered.arn);
    assert!(
        requests.len() <= 2,
        "at most 2 Kubernetes calls: {requests:#?}"
    );
    let selector = requests
        .iter()
        .find(|r| r["path"] == "/api/v1/pods")
        .and_then(|r| r["query"]["fieldSelector"].as_str())
        .expect("the pods request has a field selector");
    assert!(
        selector.contains("spec.nodeName=ip-10-0-1-10.ec2.internal"),
        "{selector}"
    );
}

/// Reads `registration` and returns its one blind spot.
async fn blind_spot(
    account: &Account,
    registration: Value,
    public: bool,
    runner: Runner,
) -> (raw::BlindSpot, Duration) {
    let registered = FakeKube::shared().register(&registration);
    let started = Instant::now();
    let read = access(account, runner, 500)
        .read(
            &described(&registered, public),
            &Reach::Cluster,
            &CallStats::new(),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(
        read.blind_spots.len(),
        1,
        "one blind spot: {:#?}",
        read.blind_spots
    );
    (read.blind_spots.into_iter().next().expect("one"), elapsed)
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_access_entry_the_remedy_is_the_entry_for_podreachs_own_role() {
    let account = Moto::shared().account().await;
    let mut registration = readable_cluster(&account, "shop", shop_objects(), None);
    registration["access_entries"] = json!([]);
    let (spot, _) = blind_spot(&account, registration, true, Runner::Functions).await;
    let (_, role) = identity(&account);
    assert_eq!(spot.input, "Kubernetes API");
    assert!(spot.cause.contains("401"), "{}", spot.cause);
    assert!(
        spot.remedy.contains(&format!(
            "aws eks create-access-entry --cluster-name shop --region us-east-1 --principal-arn {role} --kubernetes-groups {READERS}"
        )) && spot.remedy.contains("kubectl apply -f infra/rbac.yaml")
            && spot.remedy.contains("AmazonEKSViewPolicy"),
        "{}",
        spot.remedy
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_map_cluster_is_told_to_map_the_role_in_aws_auth() {
    let account = Moto::shared().account().await;
    let mut registration = readable_cluster(&account, "shop", shop_objects(), None);
    registration["authentication_mode"] = json!("CONFIG_MAP");
    let registered = FakeKube::shared().register(&registration);
    let mut cluster = described(&registered, true);
    cluster.access_config = Some(raw::AccessConfig {
        authentication_mode: Some("CONFIG_MAP".to_owned()),
    });
    let read = access(&account, Runner::Cli, 500)
        .read(&cluster, &Reach::Cluster, &CallStats::new())
        .await;
    let spot = &read.blind_spots[0];
    let (_, role) = identity(&account);
    assert!(spot.cause.contains("401"), "{}", spot.cause);
    assert!(
        spot.remedy.contains(&format!(
            "eksctl create iamidentitymapping --cluster shop --region us-east-1 --arn {role}"
        )) && spot
            .remedy
            .contains("authenticationMode=API_AND_CONFIG_MAP"),
        "{}",
        spot.remedy
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_without_rbac_is_forbidden_and_told_to_apply_the_projects_rbac() {
    let account = Moto::shared().account().await;
    let mut registration = readable_cluster(&account, "shop", shop_objects(), None);
    registration["rbac"] = json!([]);
    let (spot, _) = blind_spot(&account, registration, true, Runner::Functions).await;
    assert!(
        spot.cause.contains("403") && spot.cause.contains("forbidden"),
        "{}",
        spot.cause
    );
    assert!(
        spot.remedy.contains("kubectl apply -f infra/rbac.yaml")
            && spot
                .remedy
                .contains("aws eks update-access-entry --cluster-name shop"),
        "{}",
        spot.remedy
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_view_policy_leaves_the_node_objects_unread_and_says_so() {
    let account = Moto::shared().account().await;
    let (_, role) = identity(&account);
    let mut registration = readable_cluster(&account, "shop", shop_objects(), None);
    registration["rbac"] = json!([]);
    registration["access_entries"] = json!([{"principal_arn": role, "kubernetes_groups": [], "policies": ["AmazonEKSViewPolicy"]}]);
    registration["objects"]["eniconfigs"] = json!([]);
    let registered = FakeKube::shared().register(&registration);
    let read = access(&account, Runner::Functions, 500)
        .read(
            &described(&registered, true),
            &Reach::Cluster,
            &CallStats::new(),
        )
        .await;
    assert!(
        read.daemonset.is_some() && read.pods.is_some(),
        "the view policy covers these"
    );
    let inputs: Vec<&str> = read.blind_spots.iter().map(|b| b.input.as_str()).collect();
    assert_eq!(
        inputs,
        [
            "Node objects (Kubernetes API)",
            "ENIConfigs (Kubernetes API)"
        ],
        "{:#?}",
        read.blind_spots
    );
    assert!(read.blind_spots[0].remedy.contains("infra/rbac.yaml"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_endpoint_that_never_answers_is_a_blind_spot_within_the_time_bound() {
    let account = Moto::shared().account().await;
    let mut registration = readable_cluster(&account, "shop", shop_objects(), None);
    registration["endpoint_mode"] = json!("hang");
    let (spot, elapsed) = blind_spot(&account, registration, false, Runner::Functions).await;
    assert!(
        spot.cause.contains("did not answer in time"),
        "{}",
        spot.cause
    );
    assert!(
        spot.remedy.contains("SubnetIds") && spot.remedy.contains("SecurityGroupIds"),
        "{}",
        spot.remedy
    );
    // Four reads run together; each waits at most the connect and read timeouts (2 + 3 s).
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_and_a_foreign_certificate_are_named_as_such() {
    let account = Moto::shared().account().await;
    let mut registration = readable_cluster(&account, "refused", shop_objects(), None);
    registration["endpoint_mode"] = json!("refuse");
    let (spot, _) = blind_spot(&account, registration, true, Runner::Cli).await;
    assert!(
        spot.cause.contains("could not be reached"),
        "{}",
        spot.cause
    );

    // The CA of another cluster: the server's certificate must not verify.
    let kube = FakeKube::shared();
    let one = kube.register(&readable_cluster(&account, "one", shop_objects(), None));
    let two = kube.register(&readable_cluster(&account, "two", shop_objects(), None));
    let mut cluster = described(&one, true);
    cluster.certificate_authority = Some(raw::CertificateAuthority {
        data: Some(two.ca_data.clone()),
    });
    let read = access(&account, Runner::Cli, 500)
        .read(&cluster, &Reach::Cluster, &CallStats::new())
        .await;
    assert!(read.pods.is_none());
    assert!(
        read.blind_spots[0].cause.contains("certificate"),
        "{:#?}",
        read.blind_spots
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_continue_token_restarts_the_list_once_and_a_second_is_a_blind_spot() {
    let kube = FakeKube::shared();
    let account = Moto::shared().account().await;
    let registered = kube.register(&readable_cluster(&account, "shop", shop_objects(), None));
    let cluster = described(&registered, true);
    kube.faults(&registered.arn, &json!({"expire_next_continue": 1}));
    let read = access(&account, Runner::Cli, 2)
        .read(&cluster, &Reach::Cluster, &CallStats::new())
        .await;
    assert!(read.blind_spots.is_empty(), "{:#?}", read.blind_spots);
    assert_eq!(
        read.pods.expect("pods").items.len(),
        5,
        "read whole after the restart"
    );

    kube.faults(&registered.arn, &json!({"expire_next_continue": 2}));
    let read = access(&account, Runner::Cli, 2)
        .read(&cluster, &Reach::Cluster, &CallStats::new())
        .await;
    assert!(read.pods.is_none(), "half a list is no list");
    assert!(
        read.blind_spots
            .iter()
            .any(|b| b.cause.contains("410 Expired")),
        "{:#?}",
        read.blind_spots
    );
}

#[test]
fn the_projects_rbac_grants_exactly_what_podreach_reads() {
    let rbac = project_rbac();
    let rules: Vec<Value> = rbac
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
        .flat_map(|o| o["rules"].as_array().cloned().unwrap_or_default())
        .collect();
    for rule in &rules {
        let verbs: Vec<&str> = rule["verbs"]
            .as_array()
            .expect("verbs")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            verbs.iter().all(|v| matches!(*v, "get" | "list")),
            "read-only: {rule}"
        );
    }
    let daemonset = rbac
        .iter()
        .find(|o| o["kind"] == "Role")
        .expect("a Role for the DaemonSet");
    assert_eq!(daemonset["metadata"]["namespace"], "kube-system");
    assert_eq!(daemonset["rules"][0]["resourceNames"], json!(["aws-node"]));
    let bound: Vec<&Value> = rbac
        .iter()
        .filter(|o| o["kind"].as_str().is_some_and(|k| k.ends_with("Binding")))
        .flat_map(|o| o["subjects"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(bound.len(), 2);
    assert!(
        bound
            .iter()
            .all(|s| s["kind"] == "Group" && s["name"] == READERS)
    );
}
