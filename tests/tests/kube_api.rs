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

use std::time::{Duration, Instant};

use podreach_aws::kube::{KubeAccess, KubeMode, KubeSettings, Reach, Runner};
use podreach_aws::stats::CallStats;
use podreach_core::snapshot::{Document, SourceFile};
use podreach_core::{raw, snapshot};
use podreach_tests::kube::{
    FakeKube, READERS, identity, kubeconfig_for, kubectl, project_rbac, readable_cluster,
};
use podreach_tests::lambda::{fast_retry_settings, fresh_account_with_demo_and_vpc_ids};
use podreach_tests::moto::{Account, Moto};
use podreach_tests::seed::{demo_file_text, parse_demo_file};
use serde_json::{Value, json};

/// The demo's `shop` as a cluster's API objects: its aws-node DaemonSet, pods and Node.
fn shop_objects() -> Value {
    let daemonset: Value = parse_demo_file("shop/aws-node.json");
    let pods: Value = parse_demo_file("shop/pods.json");
    let nodes: Value = parse_demo_file("shop/nodes.json");
    json!({
        "daemonsets": [daemonset],
        "pods": pods["items"],
        "nodes": nodes["items"],
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
    let config = kubeconfig_for(dir.path(), &registered, &account);

    kube.clear_requests(&registered.arn);
    let pods_text = kubectl(
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
    let daemonset_text = kubectl(
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

// ---- End to end: the CLI and the collector on moto, reading the fake API -------------------------

/// `podreach args…` in `account`, its EKS calls through fake_kube's proxy, nothing else of this
/// process's AWS environment; the exit code and stdout.
fn podreach(
    account: &Account,
    scratch: &std::path::Path,
    args: &[&str],
) -> (i32, String, Duration) {
    let mut command = account.podreach_command(scratch);
    command.env_remove("KUBECONFIG");
    let started = Instant::now();
    let output = command
        .args(args)
        .env("AWS_ENDPOINT_URL_EKS", &FakeKube::shared().eks_endpoint)
        .env("HOME", scratch)
        .output()
        .expect("run the podreach binary");
    let elapsed = started.elapsed();
    eprintln!(
        "podreach {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        elapsed,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_live_reads_a_self_managed_cni_from_the_api_and_names_the_workload() {
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let objects = podreach_tests::kube::demo_objects(&seeded, "shop", "v1.10.4", &[]);
    let registered = kube.register(&readable_cluster(&account, "shop", objects, None));
    let scratch = tempfile::tempdir().expect("a scratch directory");

    let (code, out, _) = podreach(
        &account,
        scratch.path(),
        &[
            "audit",
            "--live",
            "--cluster",
            "shop",
            "--format",
            "json",
            "--fail-on",
            "HIGH",
        ],
    );
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    let cluster = &report["clusters"][0];
    assert_eq!(cluster["cni"]["version"], "v1.10.4", "{cluster:#}");
    assert_eq!(cluster["cni"]["version_source"], "daemonset");
    assert_eq!(cluster["blind_spots"], json!([]), "{cluster:#}");
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["cause"] == "SRCDST_EGRESS" && f["direction"] == "pod-to-peer")
        .unwrap_or_else(|| {
            unreachable!("the #2025 finding of v1.10 with node port support off: {report:#}")
        });
    assert_eq!(
        finding["affected"]["workloads"],
        json!([{"namespace": "storefront", "kind": "Deployment", "name": "checkout", "pods": 2}]),
        "{finding:#}"
    );
    assert_eq!(finding["affected"]["unused_addresses"], 1);
    assert_eq!(code, 1, "--fail-on HIGH with a HIGH finding");
    assert!(
        report["stats"]["operations"]["k8s:list pods"]["calls"].as_u64() >= Some(1),
        "{:#}",
        report["stats"]
    );

    // `snapshot --live` writes the kubectl-shaped files; the offline audit of them agrees.
    let out_dir = scratch.path().join("snapshot");
    let out_arg = out_dir.to_str().expect("UTF-8");
    let (code, _, _) = podreach(
        &account,
        scratch.path(),
        &["snapshot", "--live", "--cluster", "shop", "--out", out_arg],
    );
    assert_eq!(code, 0);
    for file in ["aws-node.json", "pods.json", "nodes.json"] {
        assert!(
            out_dir.join("clusters/shop").join(file).is_file(),
            "{file} written"
        );
    }
    let (_, offline, _) = podreach(
        &account,
        scratch.path(),
        &["audit", "--snapshot", out_arg, "--format", "json"],
    );
    let offline: Value = serde_json::from_str(&offline).expect("a JSON report");
    assert_eq!(offline["findings"], report["findings"]);

    // Without the API the version is unknown: never a clean result.
    let (code, text, _) = podreach(
        &account,
        scratch.path(),
        &["audit", "--live", "--cluster", "shop", "--kube", "off"],
    );
    assert_eq!(code, 3, "{text}");
    assert!(
        text.starts_with("INCOMPLETE") || text.contains("\nINCOMPLETE"),
        "{text}"
    );
    assert!(!text.contains("No findings"), "{text}");
    drop(registered);
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_without_access_is_unknown_with_the_remedy_and_never_exits_zero() {
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let objects = podreach_tests::kube::demo_objects(&seeded, "shop", "v1.10.4", &[]);
    let mut registration = readable_cluster(&account, "shop", objects, None);
    registration["access_entries"] = json!([]);
    kube.register(&registration);
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let (code, text, _) = podreach(
        &account,
        scratch.path(),
        &["audit", "--live", "--cluster", "shop"],
    );
    assert_eq!(code, 3, "{text}");
    let (_, role) = identity(&account);
    assert!(text.contains("INCOMPLETE"), "{text}");
    assert!(text.contains(&format!("--principal-arn {role}")), "{text}");
    assert!(text.contains("UNKNOWN"), "{text}");
    assert!(!text.contains("No findings"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_facing_a_private_endpoint_out_of_reach_is_unknown_within_the_time_bound() {
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let objects = podreach_tests::kube::demo_objects(&seeded, "shop", "v1.10.4", &[]);
    let mut registration = readable_cluster(&account, "shop", objects, None);
    registration["endpoint_mode"] = json!("hang");
    registration["endpoint_public_access"] = json!(false);
    registration["endpoint_private_access"] = json!(true);
    kube.register(&registration);
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let (code, text, elapsed) = podreach(
        &account,
        scratch.path(),
        &["audit", "--live", "--cluster", "shop", "--format", "json"],
    );
    assert_eq!(code, 3, "{text}");
    let report: Value = serde_json::from_str(&text).expect("a JSON report");
    let spot = &report["clusters"][0]["blind_spots"][0];
    assert!(
        spot["cause"]
            .as_str()
            .is_some_and(|c| c.contains("did not answer in time")),
        "{spot:#}"
    );
    assert!(
        spot["remedy"]
            .as_str()
            .is_some_and(|r| r.contains("inside the VPC")),
        "{spot:#}"
    );
    // The default bounds: 5 s to connect, 20 s per answer; the EC2 collection runs meanwhile.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

/// A collector of `account` reading the fake APIs the way the functions do.
fn kube_collector(account: &Account) -> podreach_aws::Collector {
    podreach_aws::Collector::from_builders(
        aws_sdk_ec2::config::Builder::from(&account.config),
        aws_sdk_eks::config::Builder::from(&account.config)
            .endpoint_url(&FakeKube::shared().eks_endpoint),
        &fast_retry_settings(),
    )
    .with_kubernetes(access(account, Runner::Functions, 500))
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_networking_comes_from_the_apis_eniconfigs_and_auto_mode_nodes_from_their_labels() {
    use podreach_aws::Collect as _;
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let subnet = seeded
        .moto_id("subnet-0a10e5f1c2d3b4a01")
        .expect("the node subnet")
        .to_owned();
    let mut objects = podreach_tests::kube::demo_objects(
        &seeded,
        "shop",
        "v1.19.0",
        &[("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "true")],
    );
    objects["eniconfigs"] = json!([{
        "apiVersion": "crd.k8s.amazonaws.com/v1alpha1", "kind": "ENIConfig",
        "metadata": {"name": "us-east-1a"},
        "spec": {"subnet": subnet, "securityGroups": []}
    }]);
    kube.register(&readable_cluster(&account, "shop", objects.clone(), None));
    let collection = kube_collector(&account)
        .collect(&podreach_aws::Scope::Clusters(vec!["shop".to_owned()]))
        .await
        .expect("collected");
    let model = collection.model(Default::default(), &Default::default());
    let shop = &model.clusters[0];
    assert!(shop.cni.custom_networking, "from the API's DaemonSet");
    assert_eq!(shop.eniconfigs.len(), 1);
    assert_eq!(shop.eniconfigs[0].subnet_id, subnet);
    assert!(shop.blind_spots.is_empty(), "{:#?}", shop.blind_spots);

    // The same node labelled as EKS Auto Mode's: named, not judged.
    objects["nodes"][0]["metadata"]["labels"]["eks.amazonaws.com/compute-type"] = json!("auto");
    kube.register(&readable_cluster(&account, "shop", objects, None));
    let collection = kube_collector(&account)
        .collect(&podreach_aws::Scope::Clusters(vec!["shop".to_owned()]))
        .await
        .expect("collected");
    let report = collection.audit(Default::default(), &Default::default(), &Default::default());
    let named = &report.clusters[0].nodes_not_modelled;
    assert_eq!(named.len(), 1, "{:#?}", report.clusters[0]);
    assert_eq!(named[0].kind, "auto-mode");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.cluster != "shop" || f.affected.nodes.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kubectl_dump_given_with_the_collection_replaces_only_its_own_kind() {
    use podreach_aws::Collect as _;
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let objects = podreach_tests::kube::demo_objects(&seeded, "shop", "v1.10.4", &[]);
    FakeKube::shared().register(&readable_cluster(&account, "shop", objects, None));
    let collection = kube_collector(&account)
        .collect(&podreach_aws::Scope::Clusters(vec!["shop".to_owned()]))
        .await
        .expect("collected");
    // `--with DIR` holding the DaemonSet of another release: it wins over the API's.
    let dump = seeded.to_moto_ids(demo_file_text("shop/aws-node.json"));
    let extra = snapshot::load(&[SourceFile {
        path: "clusters/shop/aws-node.json".to_owned(),
        text: dump,
    }]);
    let model = collection.model(extra, &Default::default());
    let shop = &model.clusters[0];
    assert_eq!(
        shop.cni.version.to_string(),
        "v1.11.4",
        "the dump's, not the API's v1.10.4"
    );
    assert_eq!(shop.pods.len(), 4, "the API's pods stay, once");
    let without = collection.model(Default::default(), &Default::default());
    assert_eq!(without.clusters[0].cni.version.to_string(), "v1.10.4");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_uses_the_kubeconfig_context_named_by_the_cluster_arn_with_its_client_certificate() {
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let objects = podreach_tests::kube::demo_objects(&seeded, "shop", "v1.10.4", &[]);
    let mut registration = readable_cluster(&account, "shop", objects, None);
    // podreach's AWS identity is not admitted: only the kubeconfig's certificate user is.
    registration["access_entries"] = json!([]);
    registration["client_cert_users"] = json!(true);
    let registered = kube.register(&registration);
    let (cert, key) = registered
        .client_cert
        .clone()
        .expect("fake_kube made a client certificate");
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let config = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "somewhere-else",
        "clusters": [
            {"name": "c", "cluster": {"server": registered.endpoint, "certificate-authority": registered.ca_pem_path}},
            {"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:9"}}
        ],
        "users": [{"name": "cert", "user": {"client-certificate": cert, "client-key": key}}],
        "contexts": [
            {"name": registered.arn, "context": {"cluster": "c", "user": "cert"}},
            {"name": "somewhere-else", "context": {"cluster": "elsewhere", "user": "cert"}}
        ]
    });
    let path = scratch.path().join("kubeconfig");
    std::fs::write(&path, config.to_string()).expect("write the kubeconfig");
    let (code, out, _) = podreach(
        &account,
        scratch.path(),
        &[
            "audit",
            "--live",
            "--cluster",
            "shop",
            "--format",
            "json",
            "--kubeconfig",
            path.to_str().expect("UTF-8"),
        ],
    );
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(
        report["clusters"][0]["blind_spots"],
        json!([]),
        "{:#}",
        report["clusters"][0]
    );
    assert_eq!(report["clusters"][0]["cni"]["version"], "v1.10.4");
    assert_eq!(code, 0);
    let users: Vec<String> = kube
        .requests(&registered.arn)
        .iter()
        .filter_map(|r| r["user"].as_str().map(str::to_owned))
        .collect();
    assert!(users.iter().any(|u| u == "podreach-cert-user"), "{users:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_runs_the_exec_plugin_of_the_default_kubeconfig_context_for_the_endpoint() {
    let (account, seeded) = fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let objects = podreach_tests::kube::demo_objects(&seeded, "shop", "v1.10.4", &[]);
    let registered = kube.register(&readable_cluster(&account, "shop", objects, None));
    let scratch = tempfile::tempdir().expect("a scratch directory");
    // An exec plugin as `aws eks get-token` is one: it prints an ExecCredential (here with a token
    // podreach's signer made) and leaves a mark that it ran.
    let token = podreach_aws::kube::token::eks_token(
        &registered.name,
        &podreach_tests::lambda::region(&account),
        &account.credentials,
        std::time::SystemTime::now(),
    )
    .expect("a token");
    let mark = scratch.path().join("plugin-ran");
    let plugin = scratch.path().join("get-token");
    let credential = json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
        "status": {"token": token}
    });
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\ntouch '{}'\ncat <<'EOF'\n{credential}\nEOF\n",
            mark.display()
        ),
    )
    .expect("write the plugin");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let config = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod-cluster", "cluster": {"server": registered.endpoint, "certificate-authority-data": registered.ca_data}}],
        "users": [{"name": "eks", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": plugin, "interactiveMode": "Never"}}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod-cluster", "user": "eks"}}]
    });
    std::fs::create_dir_all(scratch.path().join(".kube")).expect("mkdir ~/.kube");
    std::fs::write(scratch.path().join(".kube/config"), config.to_string())
        .expect("write ~/.kube/config");
    let (code, out, _) = podreach(
        &account,
        scratch.path(),
        &["audit", "--live", "--cluster", "shop", "--format", "json"],
    );
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(
        report["clusters"][0]["blind_spots"],
        json!([]),
        "{:#}",
        report["clusters"][0]
    );
    assert_eq!(code, 0);
    assert!(mark.exists(), "the context's exec plugin ran");
}
