//! The live collector against moto through the real AWS SDK: the bundled demo recreated in a
//! moto account and collected live gives the demo's findings; the collected snapshot, written to
//! disk and read back, audits exactly like the live collection (in the library and through the
//! `podreach` binary); the number of API calls follows the number of pages, not the number of
//! ENIs; and a VPC scope collects only the clusters of that VPC. moto has no EKS add-on API, so
//! `DescribeAddon` alone is answered by an `aws-smithy-mocks` rule (the demo's `legacy` add-on, or
//! EKS's 404 for a cluster without one); every other EC2 and EKS call reaches moto.
//!
//! Needs moto in `<repo>/.venv` (`scripts/install-test-deps.sh`, which `./scripts/test` runs);
//! the CLI test also needs `target/debug/podreach` (`cargo test --workspace` builds it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_config::SdkConfig;
use aws_smithy_mocks::create_mock_http_client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
    http_client_fn,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use podreach_aws::{Collect, Collection, Collector, Scope};
use podreach_core::{AnalyzeOptions, Overrides, Report, SourceFile, demo, raw};
use podreach_tests::lambda::{MissingAddon, demo_addons, fast_retry_settings, mock_describe_addon};
use podreach_tests::moto::{Account, Moto};
use podreach_tests::seed::{
    BULK_CLUSTER, ManyEnis, SeededDemo, demo_file_text, fresh_account_with_demo, parse_demo_file,
    seed_many_enis,
};
use serde_json::{Value, json};

use podreach_tests::lambda::KUBECTL_DUMPS;

/// The body of the `aws-smithy-mocks` HTTP client's answer (status 418) when no rule supplied
/// an HTTP response.
const BODY_418: &[u8] = b"Mock HTTP client dummy response";

/// With every per-ENI verdict, so the comparisons cover each path hop by hop.
fn options() -> AnalyzeOptions {
    AnalyzeOptions {
        include_paths: true,
        ..AnalyzeOptions::default()
    }
}

/// Sends a request to the mock HTTP client of `aws-smithy-mocks` first, and to the real one
/// when no rule supplied an HTTP response (the mock client then answers 418 with
/// [`BODY_418`]). `MockResponseInterceptor` hands a rule's HTTP response to the HTTP client in a
/// request extension that only `create_mock_http_client()` reads: with the real client alone,
/// `allow_passthrough()` would send the 404 rule's request to moto, whose answer (an HTML 404
/// page, as moto has no `/clusters/<name>/addons/<addon>` route) the SDK reads as an unhandled
/// error, not as `ResourceNotFoundException`. Modeled outputs (the `legacy` add-on) replace
/// whatever the HTTP exchange returned, so those requests still reach moto, harmlessly.
#[derive(Debug)]
struct MockFirst {
    mock: SharedHttpConnector,
    real: SharedHttpConnector,
}

impl HttpConnector for MockFirst {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fallback = request.try_clone();
        let mock = self.mock.call(request);
        let real = self.real.clone();
        HttpConnectorFuture::new(async move {
            let response = mock.await?;
            let unanswered =
                response.status().as_u16() == 418 && response.body().bytes() == Some(BODY_418);
            if !unanswered {
                return Ok(response);
            }
            let request = fallback.ok_or_else(|| {
                ConnectorError::other("an EKS request body that cannot be cloned".into(), None)
            })?;
            real.call(request).await
        })
    }
}

fn mock_first(real: SharedHttpClient) -> SharedHttpClient {
    let mock = create_mock_http_client();
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(MockFirst {
            mock: mock.http_connector(settings, components),
            real: real.http_connector(settings, components),
        })
    })
}

/// Hands the SDK's default HTTP client of a throwaway client to [`default_http_client`] and stops
/// the request before it is sent.
#[derive(Debug, Clone, Default)]
struct CaptureHttpClient(Arc<Mutex<Option<SharedHttpClient>>>);

impl Intercept for CaptureHttpClient {
    fn name(&self) -> &'static str {
        "podreach-tests::CaptureHttpClient"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.0.lock().expect("capture lock") = runtime_components.http_client();
        Err("the HTTP client is captured; nothing is sent".into())
    }
}

/// The HTTP client an SDK client built from `config` uses. `SdkConfig` leaves it unset (each
/// client picks the default when it runs), and the crate that constructs it
/// (`aws-smithy-http-client`) is no dependency of this one, so a throwaway EKS client is asked
/// for it by [`CaptureHttpClient`], which stops its one request before anything is sent.
async fn default_http_client(config: &SdkConfig) -> SharedHttpClient {
    let capture = CaptureHttpClient::default();
    let client = aws_sdk_eks::Client::from_conf(
        aws_sdk_eks::config::Builder::from(config)
            .interceptor(capture.clone())
            .build(),
    );
    let stopped = client.list_clusters().send().await;
    assert!(
        stopped.is_err(),
        "the capturing interceptor stops the request"
    );
    capture
        .0
        .lock()
        .expect("capture lock")
        .take()
        .expect("the SDK's runtime components have an HTTP client")
}

/// A collector of `account`: EC2 entirely on moto, EKS on moto except `DescribeAddon`, which
/// [`mock_describe_addon`] answers from `addons`, and with EKS's HTTP 404 (through [`MockFirst`])
/// for any other cluster.
async fn collector_with_http_404s(
    account: &Account,
    addons: BTreeMap<String, raw::Addon>,
) -> Collector {
    let real = default_http_client(&account.config).await;
    let eks = aws_sdk_eks::config::Builder::from(&account.config)
        .interceptor(mock_describe_addon(addons, MissingAddon::Http404))
        .http_client(mock_first(real));
    Collector::from_builders(
        aws_sdk_ec2::config::Builder::from(&account.config),
        eks,
        &fast_retry_settings(),
    )
}

async fn collect(collector: &Collector, scope: &Scope) -> Collection {
    collector
        .collect(scope)
        .await
        .expect("the collection runs (ListClusters and the scope's lookups answer)")
}

/// The demo's kubectl dumps, where a live audit expects them (`clusters/<name>/…`), with the
/// demo's ENI and instance ids replaced by moto's (the pods name the ENIs of their nodes).
fn kubectl_dumps(seeded: &SeededDemo) -> Vec<SourceFile> {
    KUBECTL_DUMPS
        .iter()
        .map(|path| SourceFile {
            path: format!("clusters/{path}"),
            text: seeded.to_moto_ids(demo_file_text(path)),
        })
        .collect()
}

fn to_value(report: &Report) -> Value {
    serde_json::to_value(report).expect("a report serialises")
}

/// `report` as JSON with moto's ids replaced by the demo's.
fn with_demo_ids(seeded: &SeededDemo, report: &Report) -> Value {
    let text = serde_json::to_string(report).expect("a report serialises");
    serde_json::from_str(&seeded.to_demo_ids(&text)).expect("id mapping keeps JSON valid")
}

/// What must be the same for a cluster of the live and of the bundled report.
fn cluster_view(cluster: &Value) -> Value {
    json!({
        "name": cluster["name"],
        "vpc_id": cluster["vpc_id"],
        "vpc_cidrs": cluster["vpc_cidrs"],
        "nodes": cluster["nodes"],
        "enis": cluster["enis"],
        "pod_addresses": cluster["pod_addresses"],
        "destinations": cluster["destinations"],
        "verdicts": cluster["verdicts"],
        "cni_version": cluster["cni"]["version"],
        "cni_version_source": cluster["cni"]["version_source"],
    })
}

/// What must be the same for a finding of the live and of the bundled report.
fn finding_view(finding: &Value) -> Value {
    let affected = &finding["affected"];
    json!({
        "cluster": finding["cluster"],
        "kind": finding["kind"],
        "severity": finding["severity"],
        "direction": finding["direction"],
        "cause": finding["cause"],
        "destination": finding["destination"],
        "via": finding["via"],
        "pods": affected["pods"],
        "pod_addresses": affected["pod_addresses"],
        "enis": affected["enis"],
        "nodes": affected["nodes"],
    })
}

fn views(report: &Value, key: &str, view: fn(&Value) -> Value) -> Vec<Value> {
    report[key]
        .as_array()
        .expect("the report has this list")
        .iter()
        .map(view)
        .collect()
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("serialises")
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_seeded_into_moto_gives_the_demo_findings() {
    let started = Instant::now();
    let (account, seeded) = fresh_account_with_demo().await;
    let seeding = started.elapsed();
    // moto's DescribeCluster has no `resourcesVpcConfig.vpcId`; the collector finds the VPC from
    // the cluster's subnets (one DescribeSubnets per cluster), as for any endpoint that omits it.
    let collection = collect(
        &collector_with_http_404s(&account, demo_addons()).await,
        &Scope::AllClusters,
    )
    .await;

    assert_eq!(
        collection.clusters(),
        ["legacy", "shop"],
        "{:#?}",
        collection.notes
    );
    // The add-on rule did answer: legacy's add-on is in the snapshot, and shop's 404 was read
    // as "not installed" (ResourceNotFoundException), not as a failed call.
    let paths: Vec<&str> = collection
        .documents
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert!(
        paths.contains(&"clusters/legacy/addon.json")
            && !paths.contains(&"clusters/shop/addon.json"),
        "files: {paths:?}"
    );
    let gaps: Vec<(Option<&str>, Option<&str>, &str)> = collection
        .notes
        .gaps
        .iter()
        .map(|g| {
            (
                g.cluster.as_deref(),
                g.action.as_deref(),
                g.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        gaps.len(),
        1,
        "exactly one gap, shop's self-managed CNI: {gaps:#?}"
    );
    assert_eq!(gaps[0].0, Some("shop"));
    assert_eq!(gaps[0].1, Some("eks:DescribeAddon"));
    assert!(
        gaps[0].2.contains("self-managed"),
        "shop's 404 is read as a self-managed CNI: {}",
        gaps[0].2
    );
    assert!(collection.notes.incomplete_clusters.is_empty());

    let live = collection.audit(
        podreach_core::snapshot::load(&kubectl_dumps(&seeded))
            .into_result()
            .expect("the dumps parse"),
        &Overrides::default(),
        &options(),
    );
    let bundled = podreach_core::audit(&demo::files(), &Overrides::default(), &options())
        .expect("the bundled demo parses");
    let live = with_demo_ids(&seeded, &live);
    let bundled = to_value(&bundled);

    assert_eq!(
        views(&live, "clusters", cluster_view),
        views(&bundled, "clusters", cluster_view),
        "the clusters of the live audit (ids mapped back to the demo's) and of the bundled demo"
    );
    assert_eq!(
        views(&live, "findings", finding_view),
        views(&bundled, "findings", finding_view),
        "the findings of the live audit (ids mapped back to the demo's) and of the bundled demo"
    );
    // Finding ids hash cluster, cause, destination, direction and kind, never a resource id, so
    // the ids are the same although every AWS id differs.
    let ids = |report: &Value| -> Vec<Value> { views(report, "findings", |f| f["id"].clone()) };
    assert_eq!(ids(&live), ids(&bundled));
    // Beyond the fields above, everything else matches too once the ids are mapped back: CNI
    // settings and assumptions, finding texts and remediations, and every per-ENI path hop by
    // hop. What moto does differently (see `podreach_tests::seed`: owner ids, MAC addresses,
    // descriptions of primary ENIs, moto's extra main route table of shop's VPC, the
    // DescribeCluster fields moto leaves out) does not reach the report.
    // The live report names the Region it was collected in (the demo names none): on every
    // cluster, finding and row, and nothing else differs.
    let mut live = live;
    for key in ["clusters", "findings", "paths"] {
        for entry in live[key].as_array_mut().into_iter().flatten() {
            let region = entry.as_object_mut().and_then(|o| o.remove("region"));
            assert_eq!(region, Some(json!("us-east-1")), "{key}: {entry}");
        }
        assert_eq!(
            live[key], bundled[key],
            "`{key}` of the live and the bundled report"
        );
    }
    // The live report's only gap is shop's DescribeAddon note; the bundled demo has none.
    assert_eq!(
        live["gaps"].as_array().map(Vec::len),
        Some(1),
        "{}",
        pretty(&live["gaps"])
    );
    assert_eq!(bundled["gaps"], json!([]));
    assert!(live["stats"]["calls"].as_u64().is_some_and(|c| c > 0));
    eprintln!(
        "seeding {:.1} s, collection {} calls in {} ms, test {:.1} s",
        seeding.as_secs_f64(),
        collection.notes.stats.calls,
        collection.notes.stats.wall_time_ms,
        started.elapsed().as_secs_f64()
    );
}

/// Every `*.json` file under `root`, paths relative with `/`, sorted by path.
fn read_tree(root: &Path) -> Vec<SourceFile> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("list a snapshot directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(root, &mut paths);
    let mut files: Vec<SourceFile> = paths
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            SourceFile {
                path: relative,
                text: std::fs::read_to_string(&path).expect("read a snapshot file"),
            }
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn collected_snapshot_round_trips_through_the_offline_reader() {
    let started = Instant::now();
    let (account, _seeded) = fresh_account_with_demo().await;
    let collection = collect(
        &collector_with_http_404s(&account, demo_addons()).await,
        &Scope::AllClusters,
    )
    .await;
    assert_eq!(
        collection.clusters(),
        ["legacy", "shop"],
        "{:#?}",
        collection.notes
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let written = collection.source_files();
    for file in &written {
        let path = dir.path().join(&file.path);
        std::fs::create_dir_all(path.parent().expect("a file path has a parent"))
            .expect("create the snapshot's directories");
        std::fs::write(&path, &file.text).expect("write a snapshot file");
    }
    let read = read_tree(dir.path());
    let mut expected: Vec<(&str, &str)> = written
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    expected.sort_unstable();
    let got: Vec<(&str, &str)> = read
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    assert_eq!(got, expected, "the files read back are the files written");

    let offline = podreach_core::audit(&read, &Overrides::default(), &options())
        .expect("the written snapshot parses");
    let live = collection.audit(Default::default(), &Overrides::default(), &options());
    let (offline, live) = (to_value(&offline), to_value(&live));
    assert!(
        offline["stats"]["calls"].as_u64().is_some_and(|c| c > 0),
        "the note's stats reach the offline report"
    );
    assert_eq!(offline, live);
    eprintln!(
        "{} files, test {:.1} s",
        read.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Runs `podreach args…` in `account` on moto and returns its stdout; fails on a non-zero exit.
/// Every `AWS_*` variable of this process is dropped and the shared config files point nowhere,
/// so nothing but the moto account can be reached ([`Account::podreach_command`]).
fn run_podreach(account: &Account, scratch: &Path, args: &[&str]) -> String {
    // moto's DescribeCluster names no reachable API server: these tests give the kubectl dumps.
    let kube_off: &[&str] = if args.contains(&"--live") {
        &["--kube", "off"]
    } else {
        &[]
    };
    let output = account
        .podreach_command(scratch)
        .args(args)
        .args(kube_off)
        .output()
        .expect("run the podreach binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 3: a report that is not a clean result (here: legacy's add-on is not served by moto, so
    // its CNI version is unknown), still a report.
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "podreach {args:?} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    eprintln!("podreach {}: {}", args.join(" "), stderr.trim());
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_audit_live_equals_cli_audit_of_its_snapshot() {
    let started = Instant::now();
    let (account, seeded) = fresh_account_with_demo().await;
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let out = scratch.path().join("snapshot");
    let out_arg = out.to_str().expect("a UTF-8 temporary path");
    // The kubectl dumps go in with `--with DIR` (one directory per cluster), so shop's CNI is
    // known and its finding is part of the comparison.
    let with = scratch.path().join("kubectl");
    for dump in kubectl_dumps(&seeded) {
        let path = with.join(dump.path.trim_start_matches("clusters/"));
        std::fs::create_dir_all(path.parent().expect("a dump has a cluster directory"))
            .expect("create the kubectl dump directory");
        std::fs::write(&path, &dump.text).expect("write a kubectl dump");
    }
    let with_arg = with.to_str().expect("a UTF-8 temporary path");

    run_podreach(
        &account,
        scratch.path(),
        &["snapshot", "--live", "--with", with_arg, "--out", out_arg],
    );
    let offline = run_podreach(
        &account,
        scratch.path(),
        &["audit", "--snapshot", out_arg, "--format", "json"],
    );
    let live = run_podreach(
        &account,
        scratch.path(),
        &["audit", "--live", "--with", with_arg, "--format", "json"],
    );
    let mut offline: Value = serde_json::from_str(&offline).expect("audit --snapshot prints JSON");
    let mut live: Value = serde_json::from_str(&live).expect("audit --live prints JSON");
    let stats = |report: &mut Value| -> Value {
        report
            .as_object_mut()
            .and_then(|o| o.remove("stats"))
            .unwrap_or(Value::Null)
    };
    let (offline_stats, live_stats) = (stats(&mut offline), stats(&mut live));
    assert!(
        offline_stats["calls"].as_u64().is_some_and(|c| c > 0),
        "the snapshot's note carries the stats: {offline_stats}"
    );
    assert!(
        live_stats["calls"].as_u64().is_some_and(|c| c > 0),
        "the live audit reports its stats: {live_stats}"
    );
    // The README's contract names the report's fields in snake_case; `wallTimeMs` once leaked
    // from the collection notes file.
    assert!(
        live_stats["wall_time_ms"].is_u64() && live_stats.get("wallTimeMs").is_none(),
        "stats.wall_time_ms as the README documents it: {live_stats}"
    );
    let names = |report: &Value| views(report, "clusters", |c| c["name"].clone());
    assert_eq!(names(&live), [json!("legacy"), json!("shop")]);
    // shop's finding; legacy's CNI version is unknown here (moto serves no add-on), so its
    // findings are the verdicts that differ between releases, unverified, and a blind spot.
    let findings = live["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["cluster"] == "shop" && f["kind"] == "unreachable")
    );
    assert!(
        findings
            .iter()
            .filter(|f| f["cluster"] == "legacy")
            .all(|f| f["kind"] == "unverified" && f["cause"] == "MISSING_INPUT"),
        "{findings:#?}"
    );
    assert_eq!(
        live["clusters"][0]["blind_spots"][0]["input"],
        "CNI version"
    );

    // Two separate collections: the collector records gaps in the order its concurrent tasks
    // finish (`describe_clusters` and the per-VPC tasks push them as they are joined), so the
    // two reports can list the same gaps in a different order (seen: legacy's DescribeAddon gap
    // first in one, shop's first in the other). The gaps are compared as sorted lists,
    // everything else in order.
    let gaps = |report: &mut Value| -> Vec<String> {
        let taken = report
            .as_object_mut()
            .and_then(|o| o.remove("gaps"))
            .unwrap_or(Value::Null);
        let mut gaps: Vec<String> = taken
            .as_array()
            .expect("the report has gaps")
            .iter()
            .map(Value::to_string)
            .collect();
        gaps.sort_unstable();
        gaps
    };
    let (offline_gaps, live_gaps) = (gaps(&mut offline), gaps(&mut live));
    assert_eq!(offline_gaps, live_gaps);
    // Without the add-on rule, moto's HTML 404 for DescribeAddon is a gap of both clusters.
    for cluster in ["legacy", "shop"] {
        assert!(
            live_gaps
                .iter()
                .any(|g| g.contains(&format!("\"cluster\":\"{cluster}\""))
                    && g.contains("eks:DescribeAddon")),
            "{cluster} has a DescribeAddon gap: {live_gaps:#?}"
        );
    }
    assert_eq!(offline, live);
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

/// One row of the expected cost: an operation the collector makes, the items it returns, the
/// page size the collector asks for, and so the pages it takes.
struct Cost {
    action: &'static str,
    what: &'static str,
    items: usize,
    page_size: usize,
}

impl Cost {
    fn pages(&self) -> u64 {
        // An empty answer is still one call.
        u64::try_from(self.items.div_ceil(self.page_size).max(1)).expect("small")
    }
}

/// Every call a collection of the bulk cluster makes, from what [`seed_many_enis`] created.
/// moto ignores `MaxResults` for most Describe calls (it answers everything in one page), which
/// with these counts is also what EC2 would do.
fn bulk_costs(bulk: &ManyEnis) -> Vec<Cost> {
    vec![
        Cost {
            action: "eks:DescribeCluster",
            what: "the named cluster",
            items: 1,
            page_size: 1,
        },
        Cost {
            action: "eks:DescribeAddon",
            what: "vpc-cni (the mock's 404)",
            items: 1,
            page_size: 1,
        },
        Cost {
            action: "ec2:DescribeSubnets",
            what: "the cluster's subnets: moto's DescribeCluster has no vpcId",
            items: bulk.subnet_ids.len(),
            page_size: 1000,
        },
        Cost {
            action: "ec2:DescribeVpcs",
            what: "the cluster VPC",
            items: 1,
            page_size: 1000,
        },
        Cost {
            action: "ec2:DescribeSubnets",
            what: "the VPC's subnets",
            items: bulk.subnet_ids.len(),
            page_size: 1000,
        },
        Cost {
            action: "ec2:DescribeRouteTables",
            what: "the VPC's main table",
            items: 1,
            page_size: 100,
        },
        Cost {
            action: "ec2:DescribeNetworkInterfaces",
            what: "every ENI of the VPC",
            items: bulk.eni_ids.len(),
            page_size: 1000,
        },
        Cost {
            action: "ec2:DescribeInstances",
            what: "the nodes",
            items: bulk.instance_ids.len(),
            page_size: 1000,
        },
        // No route uses a peering connection: DescribeVpcPeeringConnections is not called.
    ]
}

/// Collects the bulk cluster; returns the collection and the expected pages, after printing the
/// per-operation table.
async fn collect_bulk(account: &Account, bulk: &ManyEnis) -> (Collection, u64) {
    let collection = collect(
        &collector_with_http_404s(account, BTreeMap::new()).await,
        &Scope::Clusters(vec![BULK_CLUSTER.to_owned()]),
    )
    .await;
    let costs = bulk_costs(bulk);
    let pages: u64 = costs.iter().map(Cost::pages).sum();
    let stats = &collection.notes.stats;
    eprintln!("{} ENIs:", bulk.eni_ids.len());
    eprintln!(
        "  {:<36} {:<58} {:>6} {:>5} {:>5} {:>5}",
        "operation", "what", "items", "page", "pages", "calls"
    );
    let mut actions: Vec<&str> = Vec::new();
    for cost in &costs {
        if !actions.contains(&cost.action) {
            actions.push(cost.action);
        }
    }
    for action in &actions {
        let calls = stats.operations.get(*action).map_or(0, |o| o.calls);
        for (i, cost) in costs.iter().filter(|c| c.action == *action).enumerate() {
            let calls = if i == 0 {
                calls.to_string()
            } else {
                String::new()
            };
            eprintln!(
                "  {:<36} {:<58} {:>6} {:>5} {:>5} {:>5}",
                cost.action,
                cost.what,
                cost.items,
                cost.page_size,
                cost.pages(),
                calls
            );
        }
    }
    for (action, op) in &stats.operations {
        if !actions.contains(&action.as_str()) {
            eprintln!(
                "  {action:<36} {:<58} {:>6} {:>5} {:>5} {:>5}",
                "(unexpected)", "", "", "", op.calls
            );
        }
    }
    eprintln!(
        "  total: {} calls ({} retries) for {pages} pages, {} ms",
        stats.calls, stats.retries, stats.wall_time_ms
    );
    (collection, pages)
}

#[tokio::test(flavor = "multi_thread")]
async fn api_calls_for_300_enis_stay_within_pages_plus_a_constant() {
    let started = Instant::now();
    let moto = Moto::shared();
    let (large, small) = tokio::join!(moto.account(), moto.account());
    let (many, few) = tokio::join!(
        seed_many_enis(&large.config, 300),
        seed_many_enis(&small.config, 30)
    );
    let many = many.expect("300 ENIs are created in moto");
    let few = few.expect("30 ENIs are created in moto");
    assert_eq!((many.eni_ids.len(), few.eni_ids.len()), (300, 30));
    let seeding = started.elapsed();

    let (collection, pages) = collect_bulk(&large, &many).await;
    assert_eq!(
        collection.clusters(),
        [BULK_CLUSTER],
        "{:#?}",
        collection.notes
    );
    assert!(
        collection
            .notes
            .gaps
            .iter()
            .all(|g| g.action.as_deref() == Some("eks:DescribeAddon")),
        "no gap but the add-on's: {:#?}",
        collection.notes.gaps
    );
    let file = collection
        .source_files()
        .into_iter()
        .find(|f| f.path == "ec2/network-interfaces.json")
        .expect("the snapshot has the ENIs");
    let enis: raw::DescribeNetworkInterfaces =
        serde_json::from_str(&file.text).expect("the ENI file parses");
    let collected: std::collections::BTreeSet<&str> = enis
        .network_interfaces
        .iter()
        .map(|e| e.network_interface_id.as_str())
        .collect();
    let missing: Vec<&String> = many
        .eni_ids
        .iter()
        .filter(|id| !collected.contains(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "ENIs not collected: {missing:?}");
    // `pages` counts the fixed calls too (DescribeCluster, DescribeAddon and the subnet lookup
    // moto makes necessary), so today's collector makes exactly `pages` calls; the constant is
    // room for a few more fixed calls, never for calls that grow with the ENIs.
    let calls = collection.notes.stats.calls;
    assert!(
        calls <= pages + 5,
        "{calls} calls for {pages} pages: {:#?}",
        collection.notes.stats.operations
    );

    let (small_collection, small_pages) = collect_bulk(&small, &few).await;
    assert_eq!(small_pages, pages, "300 and 30 ENIs are one page each");
    assert_eq!(
        small_collection.notes.stats.calls, calls,
        "the call count does not grow with the ENIs: 30 ENIs {:#?}, 300 ENIs {:#?}",
        small_collection.notes.stats.operations, collection.notes.stats.operations
    );
    eprintln!(
        "seeding {:.1} s, test {:.1} s",
        seeding.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_scope_collects_only_the_clusters_of_that_vpc() {
    let started = Instant::now();
    let (account, seeded) = fresh_account_with_demo().await;
    let shop: raw::DescribeCluster = parse_demo_file("shop/cluster.json");
    let legacy: raw::DescribeCluster = parse_demo_file("legacy/cluster.json");
    let shop_vpc = seeded
        .moto_id(&shop.cluster.resources_vpc_config.vpc_id)
        .expect("shop's VPC was recreated")
        .to_owned();
    let legacy_vpc = seeded
        .moto_id(&legacy.cluster.resources_vpc_config.vpc_id)
        .expect("legacy's VPC was recreated")
        .to_owned();

    // No add-on for any cluster (legacy's 404 too): every cluster the collector describes then
    // has a DescribeAddon gap, so a gap about a cluster outside the scope would show below.
    let collection = collect(
        &collector_with_http_404s(&account, BTreeMap::new()).await,
        &Scope::Vpcs(vec![shop_vpc.clone()]),
    )
    .await;
    assert_eq!(collection.clusters(), ["shop"], "{:#?}", collection.notes);
    let paths: Vec<&str> = collection
        .documents
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert!(
        paths.iter().all(|p| !p.starts_with("clusters/legacy/")),
        "files: {paths:?}"
    );
    let vpcs = collection
        .source_files()
        .into_iter()
        .find(|f| f.path == "ec2/vpcs.json")
        .expect("the snapshot has the VPCs");
    assert!(vpcs.text.contains(&shop_vpc));
    assert!(
        !vpcs.text.contains(&legacy_vpc),
        "legacy's VPC is not collected: {}",
        vpcs.text
    );
    let foreign: Vec<_> = collection
        .notes
        .gaps
        .iter()
        .filter(|g| g.cluster.as_deref() != Some("shop"))
        .collect();
    assert!(
        foreign.is_empty(),
        "a collection scoped to shop's VPC has gaps about other clusters: {foreign:#?}"
    );
    assert!(
        collection
            .notes
            .gaps
            .iter()
            .any(|g| g.cluster.as_deref() == Some("shop")
                && g.action.as_deref() == Some("eks:DescribeAddon")),
        "shop's own add-on gap is kept: {:#?}",
        collection.notes.gaps
    );
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_to_a_managed_prefix_list_are_collected_and_become_destinations() {
    let (account, seeded) = fresh_account_with_demo().await;
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    let entry = aws_sdk_ec2::types::AddPrefixListEntry::builder()
        .cidr("10.1.0.0/24")
        .description("peer VPC subnet")
        .build();
    let created = ec2
        .create_managed_prefix_list()
        .prefix_list_name("peer-networks")
        .address_family("IPv4")
        .max_entries(5)
        .entries(entry)
        .send()
        .await
        .expect("moto creates the prefix list");
    let pl = created
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .expect("a prefix list id")
        .to_owned();
    // shop's node subnet reaches the peer by the prefix list instead of the CIDR route.
    let table = seeded
        .moto_id("rtb-0a1e2d3c4b5a69701")
        .expect("shop's node route table");
    let pcx = seeded
        .moto_id("pcx-0ab15c2d3e4f50801")
        .expect("shop's peering");
    ec2.delete_route()
        .route_table_id(table)
        .destination_cidr_block("10.1.0.0/16")
        .send()
        .await
        .expect("moto deletes the CIDR route");
    ec2.create_route()
        .route_table_id(table)
        .destination_prefix_list_id(&pl)
        .vpc_peering_connection_id(pcx)
        .send()
        .await
        .expect("moto creates the prefix-list route");

    let collection = collect(
        &collector_with_http_404s(&account, demo_addons()).await,
        &Scope::Clusters(vec!["shop".to_owned()]),
    )
    .await;
    assert!(
        collection
            .documents
            .iter()
            .any(|d| d.path == format!("ec2/prefix-lists/{pl}.json")),
        "the entries are collected"
    );
    assert_eq!(
        collection
            .notes
            .stats
            .operations
            .get("ec2:GetManagedPrefixListEntries")
            .map(|o| o.calls),
        Some(1)
    );
    let report = collection.audit(
        podreach_core::snapshot::load(&kubectl_dumps(&seeded))
            .into_result()
            .expect("the dumps parse"),
        &Overrides::default(),
        &options(),
    );
    let shop = report
        .clusters
        .iter()
        .find(|c| c.name == "shop")
        .expect("shop is analysed");
    assert_eq!(shop.destinations, ["10.1.0.0/24"]);
    assert!(
        report.gaps.iter().all(|g| !g.message.contains(&pl)),
        "{:#?}",
        report.gaps
    );
    // The same finding as through the CIDR route: NODE_PORT_SUPPORT=false on v1.11.4.
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.cluster == "shop" && f.destinations == ["10.1.0.0/24"]),
        "{:#?}",
        report.findings
    );
}

/// Issue 21's case, tried as a new user would: shop reaches its peer through a transit gateway
/// whose route table (the one associated with shop's attachment) holds a static blackhole for
/// the peer VPC. The live collection reads the gateway's tables and the verdict is
/// `TGW_BLACKHOLE` with the fix, where it used to be reachable; with the blackhole replaced by a
/// route to the peer's attachment the transit gateway carries the traffic.
#[tokio::test(flavor = "multi_thread")]
async fn a_blackhole_in_the_transit_gateway_route_table_is_collected_and_decides_the_verdict() {
    let (account, seeded) = fresh_account_with_demo().await;
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    let id = |demo: &str| seeded.moto_id(demo).expect("a seeded object").to_owned();
    let (cluster_vpc, peer_vpc) = (id("vpc-0a5e1d2c3b4a59601"), id("vpc-0b6f3e2d1c0b59602"));
    let tgw = ec2
        .create_transit_gateway()
        .send()
        .await
        .expect("moto creates the gateway")
        .transit_gateway()
        .and_then(|g| g.transit_gateway_id())
        .expect("a gateway id")
        .to_owned();
    let attach = |vpc: String, subnet: String| {
        let ec2 = ec2.clone();
        let tgw = tgw.clone();
        async move {
            ec2.create_transit_gateway_vpc_attachment()
                .transit_gateway_id(tgw)
                .vpc_id(vpc)
                .subnet_ids(subnet)
                .send()
                .await
                .expect("moto attaches the VPC")
                .transit_gateway_vpc_attachment()
                .and_then(|a| a.transit_gateway_attachment_id())
                .expect("an attachment id")
                .to_owned()
        }
    };
    let ours = attach(cluster_vpc, id("subnet-0a10e5f1c2d3b4a01")).await;
    let theirs = attach(peer_vpc, id("subnet-0b20e5f1c2d3b4a02")).await;
    // moto associates both attachments with the gateway's default route table.
    let table = ec2
        .describe_transit_gateway_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("transit-gateway-id")
                .values(&tgw)
                .build(),
        )
        .send()
        .await
        .expect("moto lists the tables")
        .transit_gateway_route_tables()
        .first()
        .and_then(|t| t.transit_gateway_route_table_id())
        .expect("the default table")
        .to_owned();
    let route = |cidr: &'static str, attachment: Option<String>| {
        let ec2 = ec2.clone();
        let table = table.clone();
        async move {
            ec2.create_transit_gateway_route()
                .transit_gateway_route_table_id(table)
                .destination_cidr_block(cidr)
                .set_transit_gateway_attachment_id(attachment.clone())
                .blackhole(attachment.is_none())
                .send()
                .await
                .expect("moto creates the route");
        }
    };
    route("10.0.0.0/16", Some(ours.clone())).await;
    route("10.1.0.0/16", None).await;
    // Both VPCs route each other through the gateway instead of the peering connection.
    for (demo_table, cidr) in [
        ("rtb-0a1e2d3c4b5a69701", "10.1.0.0/16"),
        ("rtb-0b2e2d3c4b5a69702", "10.0.0.0/16"),
    ] {
        ec2.delete_route()
            .route_table_id(id(demo_table))
            .destination_cidr_block(cidr)
            .send()
            .await
            .expect("moto deletes the peering route");
        ec2.create_route()
            .route_table_id(id(demo_table))
            .destination_cidr_block(cidr)
            .transit_gateway_id(&tgw)
            .send()
            .await
            .expect("moto creates the gateway route");
    }
    let audit = || async {
        let collection = collect(
            &collector_with_http_404s(&account, demo_addons()).await,
            &Scope::Clusters(vec!["shop".to_owned()]),
        )
        .await;
        let report = collection.audit(
            podreach_core::snapshot::load(&kubectl_dumps(&seeded))
                .into_result()
                .expect("the dumps parse"),
            &Overrides::default(),
            &options(),
        );
        (collection, report)
    };

    let (collection, report) = audit().await;
    let calls = |action: &str| {
        collection
            .notes
            .stats
            .operations
            .get(action)
            .map_or(0, |o| o.calls)
    };
    assert_eq!(calls("ec2:DescribeTransitGatewayRouteTables"), 1);
    assert_eq!(calls("ec2:GetTransitGatewayRouteTableAssociations"), 1);
    assert_eq!(calls("ec2:GetTransitGatewayRouteTablePropagations"), 1);
    // One table, associated with both attachments: the destination 10.1.0.0/16 and shop's
    // VPC CIDR 10.0.0.0/16, each searched twice. The destination's route is a blackhole, so
    // every VPC attached to the gateway is read (the fix names the peer's attachment).
    assert_eq!(calls("ec2:SearchTransitGatewayRoutes"), 4);
    let blackhole = report
        .findings
        .iter()
        .find(|f| {
            f.cluster == "shop"
                && f.cause == podreach_core::report::Cause::TgwBlackhole
                && f.direction == podreach_core::report::Direction::PodToPeer
        })
        .unwrap_or_else(|| {
            podreach_tests::fail(&format!(
                "no TGW_BLACKHOLE finding of pod-to-peer: {:#?}\npaths: {:#?}",
                report
                    .findings
                    .iter()
                    .map(|f| (&f.cluster, f.cause, f.direction))
                    .collect::<Vec<_>>(),
                report
                    .paths
                    .iter()
                    .flatten()
                    .filter(|p| p.cluster == "shop")
                    .map(|p| (&p.eni_role, p.direction, p.verdict, &p.causes))
                    .collect::<Vec<_>>()
            ))
        });
    assert_eq!(blackhole.via.as_deref(), Some(tgw.as_str()));
    let fix = format!(
        "aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {table} \
         --destination-cidr-block 10.1.0.0/16 --transit-gateway-attachment-id {theirs}"
    );
    assert!(
        blackhole
            .remediation
            .iter()
            .any(|r| r.command.as_deref() == Some(fix.as_str())),
        "{:#?}",
        blackhole.remediation
    );

    // The network team applies the fix (moto has no ReplaceTransitGatewayRoute).
    ec2.delete_transit_gateway_route()
        .transit_gateway_route_table_id(&table)
        .destination_cidr_block("10.1.0.0/16")
        .send()
        .await
        .expect("moto deletes the blackhole");
    route("10.1.0.0/16", Some(theirs.clone())).await;
    let (_, report) = audit().await;
    let tgw_causes: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.cluster == "shop")
        .filter(|f| {
            matches!(
                f.cause,
                podreach_core::report::Cause::TgwBlackhole
                    | podreach_core::report::Cause::TgwNoRoute
                    | podreach_core::report::Cause::TgwNoReturn
            )
        })
        .map(|f| (f.cause, f.direction))
        .collect();
    assert!(tgw_causes.is_empty(), "{tgw_causes:?}");
    // moto 5.2.5 renders a route's attachment outside EC2's list shape, so the SDK (and the AWS
    // CLI: botocore reads `TransitGatewayAttachments: []` too) sees a route that names none. The
    // hop passes the table and the far side stays unknown, the safe reading of a route whose
    // attachment is not shown; the fake EC2 endpoint of `tests/scale` covers the attachment.
    let primary = report
        .paths
        .iter()
        .flatten()
        .find(|p| {
            p.cluster == "shop"
                && p.eni_role == "primary"
                && p.direction == podreach_core::report::Direction::PodToPeer
        })
        .expect("a primary ENI path");
    assert!(
        primary.hops.iter().any(|h| h.detail.contains(&table)
            && h.detail.contains("10.1.0.0/16 →")
            && h.outcome == podreach_core::report::HopOutcome::Pass),
        "{:#?}",
        primary.hops
    );
    assert_ne!(primary.verdict, podreach_core::report::Verdict::Reachable);
}

/// A named cluster EKS does not know is a gap naming it and a missing cluster (the scheduled
/// audit resolves its findings), never a failure of the collection.
#[tokio::test(flavor = "multi_thread")]
async fn a_named_cluster_that_does_not_exist_is_reported_missing() {
    let account = Moto::shared().account().await;
    let collection = collect(
        &collector_with_http_404s(&account, BTreeMap::new()).await,
        &Scope::Clusters(vec!["decommissioned".to_owned()]),
    )
    .await;
    assert_eq!(collection.missing_clusters, ["decommissioned"]);
    assert!(collection.cluster_names.is_empty());
    assert!(
        collection.notes.gaps.iter().any(|g| {
            g.cluster.as_deref() == Some("decommissioned")
                && g.action.as_deref() == Some("eks:DescribeCluster")
        }),
        "{:?}",
        collection.notes.gaps
    );
}

/// Writes the demo's kubectl dumps for `seeded` under `dir` (one directory per cluster), as
/// `--with DIR` reads them.
fn write_kubectl_dumps(seeded: &SeededDemo, dir: &Path) {
    for dump in kubectl_dumps(seeded) {
        let path = dir.join(dump.path.trim_start_matches("clusters/"));
        std::fs::create_dir_all(path.parent().expect("a dump has a cluster directory"))
            .expect("create the kubectl dump directory");
        std::fs::write(&path, &dump.text).expect("write a kubectl dump");
    }
}

/// `(region, cluster)` of every entry of `key` (clusters, findings), sorted.
fn by_region(report: &Value, key: &str, name: &str) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = report[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["region"].as_str().unwrap_or("-").to_owned(),
                o[name].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn several_regions_are_collected_in_one_run_and_a_region_that_fails_hides_none() {
    // The demo in two Regions of one account: same cluster names, other VPCs and ENIs.
    let (account, virginia) = fresh_account_with_demo().await;
    let dublin_config = account
        .config
        .to_builder()
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    let dublin = podreach_tests::seed::seed_demo(&dublin_config)
        .await
        .expect("the demo is recreated in eu-west-1");
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let with = scratch.path().join("kubectl");
    write_kubectl_dumps(&virginia, &with.join("us-east-1"));
    write_kubectl_dumps(&dublin, &with.join("eu-west-1"));
    let with_arg = with.to_str().expect("a UTF-8 temporary path");

    // A third Region moto does not serve (its EC2 answers 500), standing in for an opt-in
    // Region that is not enabled: the run goes on, names it, and is not a clean result.
    let regions = [
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--region",
        "xx-fake-9",
    ];
    let mut args = vec!["audit", "--live", "--with", with_arg, "--format", "json"];
    args.extend(regions);
    let output = account
        .podreach_command(scratch.path())
        .args(&args)
        .args(["--kube", "off"])
        .output()
        .expect("run the podreach binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let pair = |r: &str, c: &str| (r.to_owned(), c.to_owned());
    assert_eq!(
        by_region(&report, "clusters", "name"),
        [
            pair("eu-west-1", "legacy"),
            pair("eu-west-1", "shop"),
            pair("us-east-1", "legacy"),
            pair("us-east-1", "shop")
        ]
    );
    // shop's finding in each Region, found with that Region's own dumps.
    let unreachable: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["cluster"] == "shop" && f["kind"] == "unreachable")
        .map(|f| pair(f["region"].as_str().unwrap_or("-"), "shop"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        unreachable,
        [pair("eu-west-1", "shop"), pair("us-east-1", "shop")]
    );
    let failed: Vec<&Value> = report["not_analysed"]
        .as_array()
        .expect("not_analysed")
        .iter()
        .filter(|n| n["region"] == "xx-fake-9")
        .collect();
    assert_eq!(failed.len(), 1, "{:#}", report["not_analysed"]);
    assert!(failed[0]["cluster"].is_null());
    assert!(
        report["not_analysed"]
            .as_array()
            .expect("not_analysed")
            .iter()
            .all(|n| n["region"] == "xx-fake-9"),
        "only the failing Region is unanalysed: {:#}",
        report["not_analysed"]
    );

    // The snapshot of the two Regions: one directory each, audited offline as the live run.
    let out = scratch.path().join("snapshot");
    let mut args = vec![
        "snapshot",
        "--live",
        "--with",
        with_arg,
        "--out",
        out.to_str().expect("a UTF-8 temporary path"),
    ];
    args.extend(&regions[..4]);
    run_podreach(&account, scratch.path(), &args);
    let east = out.join("us-east-1");
    let west = out.join("eu-west-1");
    assert!(east.join("podreach-collection.json").is_file());
    assert!(west.join("podreach-collection.json").is_file());
    let offline = run_podreach(
        &account,
        scratch.path(),
        &[
            "audit",
            "--snapshot",
            east.to_str().expect("UTF-8"),
            "--snapshot",
            west.to_str().expect("UTF-8"),
            "--format",
            "json",
        ],
    );
    let offline: Value = serde_json::from_str(&offline).expect("a JSON report");
    assert_eq!(offline["clusters"], report["clusters"]);
    assert_eq!(offline["findings"], report["findings"]);
}
