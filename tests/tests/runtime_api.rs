//! The real bootstrap binaries (`target/debug/on-change`, `target/debug/scheduled-audit`) run as
//! Lambda runs them: as a child process polling the Lambda Runtime API, which this test serves
//! itself, against a moto account for EC2, EKS and SNS. It shows what unit tests of the handler
//! cannot: that the binaries read their configuration from the environment Lambda sets, answer
//! each invocation with a response or a typed error on the right endpoint, keep serving after an
//! error, fail their initialisation visibly when `TOPIC_ARN` is missing, and link against a glibc
//! no newer than Amazon Linux 2023's.
//!
//! The Runtime API server and the child process are `podreach_tests::runtime`'s.
//!
//! The child gets a clean environment: the Lambda variables (`AWS_LAMBDA_RUNTIME_API`,
//! `AWS_LAMBDA_FUNCTION_NAME`, `…_MEMORY_SIZE=512`, `…_VERSION=$LATEST`,
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, `_HANDLER=bootstrap`), the moto account's endpoint, region and
//! credentials, `AWS_EC2_METADATA_DISABLED=true`, a `HOME` and AWS config files that do not
//! exist, and the function's own settings; a guard kills it when the test ends, also on failure.
//! The binary's EKS client talks to moto without a mock, so `DescribeAddon` (no moto route)
//! fails for every cluster and becomes a gap: the binaries audit without add-on settings.
//!
//! Needs moto in `<repo>/.venv` and the binaries built (`cargo build --workspace`); the glibc
//! check needs `objdump` (binutils) and reads the `Version References` (`.gnu.version_r`) that
//! `objdump -p` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use podreach_tests::runtime::{
    EXIT_TIMEOUT, Function, INVOCATION_TIMEOUT, Report, RuntimeApi, binary, error_of, function_arn,
    read_request, response_of, sample_for,
};
use podreach_tests::{lambda, moto, seed};

use moto::{Account, Moto};
use seed::SeededDemo;

/// The newest glibc symbol version Amazon Linux 2023 (the `provided.al2023` runtime) has.
const AL2023_GLIBC: (u32, u32) = (2, 34);

#[tokio::test(flavor = "multi_thread")]
async fn a_good_event_yields_a_response_then_a_malformed_one_an_error_and_the_process_keeps_serving()
 {
    let started = Instant::now();
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "on-change")).await;
    let mut function = Function::spawn(
        "on-change",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("MESSAGE_FORMAT", "json"),
        ],
    );

    // 1. shop's add-on was updated: shop is audited.
    let first = api.invoke(sample_for("eks-update-addon.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &first, &function);
    assert_eq!(body["action"], "audited", "{body:#}");
    assert_eq!(body["clusters"], json!(["shop"]), "{body:#}");
    assert!(
        body["api_calls"].as_u64().is_some_and(|n| n > 0),
        "{body:#}"
    );
    assert!(
        body["why"]
            .as_str()
            .is_some_and(|w| w.contains("UpdateAddon on shop")),
        "{body:#}"
    );

    // 2. Not an event: a typed error, reported on the invocation's error endpoint.
    let second = api.invoke(br#"{"not":"an event"}"#.to_vec());
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let (body, header) = error_of(report, &second, &function);
    assert_eq!(
        body["errorType"], "podreach.MalformedEvent",
        "errorType of a non-event: {body:#}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("not an EventBridge event")),
        "{body:#}"
    );
    assert_eq!(
        header.as_deref(),
        Some("unhandled"),
        "lambda_runtime marks handler errors `Lambda-Runtime-Function-Error-Type: unhandled`"
    );

    // 3. Still serving: a route change in shop's route table.
    let third = api.invoke(sample_for("ec2-create-route.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &third, &function);
    assert_eq!(body["action"], "audited", "{body:#}");
    assert_eq!(body["clusters"], json!(["shop"]), "{body:#}");

    // The process lives on and is polling for the next event.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.polls() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        api.polls(),
        4,
        "three invocations, then waiting for the fourth"
    );
    assert!(
        function.exited().is_none(),
        "the function is still running\n{}",
        function.logs()
    );
    assert_eq!(api.pending_reports(), [], "one report per invocation");
    // Its logs are JSON lines (AWS_LAMBDA_LOG_FORMAT=JSON).
    let stdout = std::fs::read_to_string(&function.stdout).unwrap_or_default();
    assert!(
        stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
            && !stdout.trim().is_empty(),
        "JSON log lines expected\n{}",
        function.logs()
    );
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_json_is_the_runtimes_error_and_the_process_keeps_serving() {
    let account = Moto::shared().account().await;
    let mut api = RuntimeApi::start(function_arn(&account, "on-change")).await;
    let mut function = Function::spawn("on-change", &api, &account, &[("DRY_RUN", "true")]);

    // truncated.json cannot become the handler's `serde_json::Value`: lambda_runtime reports
    // its own deserialisation error and never calls the handler.
    let truncated = api.invoke(lambda::sample_text("invalid/truncated.json").into_bytes());
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let (body, _) = error_of(report, &truncated, &function);
    assert!(
        body["errorType"]
            .as_str()
            .is_some_and(|t| t.contains("DeserializeError")),
        "{body:#}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("failed to deserialize")),
        "{body:#}"
    );

    // invalid/not-an-event.json is JSON: the handler's typed error.
    let bare = api.invoke(lambda::sample_text("invalid/not-an-event.json").into_bytes());
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let (body, _) = error_of(report, &bare, &function);
    assert_eq!(body["errorType"], "podreach.MalformedEvent", "{body:#}");

    // A failed call: ignored, a response (the rules never deliver it, a direct invoke might).
    let failed = api.invoke(
        lambda::sample_text("invalid/ec2-attach-network-interface-failed.json").into_bytes(),
    );
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &failed, &function);
    assert_eq!(body["action"], "ignored", "{body:#}");
    assert_eq!(body["api_calls"], 0, "{body:#}");
    assert!(
        function.exited().is_none(),
        "still running\n{}",
        function.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqs_batch_from_the_debounce_queue_answers_with_its_failed_records() {
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "on-change")).await;
    let mut function = Function::spawn(
        "on-change",
        &api,
        &account,
        &[("TOPIC_ARN", subscribers.topic_arn.as_str())],
    );
    let event = |name: &str| lambda::sample_event(name, &seeded, &account).to_string();
    let bodies = vec![
        event("eks-update-addon.json"),
        r#"{"not":"an event"}"#.to_owned(),
        event("ec2-create-route.json"),
        lambda::sample_text("invalid/ec2-attach-network-interface-failed.json"),
    ];
    let (batch, ids) = lambda::sqs_batch(&account, "podreach-changes", &bodies).await;
    let id = api.invoke(serde_json::to_vec(&batch).expect("serialises"));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &id, &function);
    assert_eq!(
        body,
        json!({"batchItemFailures": [{"itemIdentifier": ids[1]}]}),
        "Lambda's partial batch response names the non-event only"
    );
    assert!(
        function.exited().is_none(),
        "still running\n{}",
        function.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bootstrap_keeps_the_lifecycle_in_its_table_and_reads_its_suppression_parameter() {
    // Without its add-on (moto has no add-on API) shop's CNI settings are unknown; the peer VPC
    // without its return route gives findings whatever they are.
    let (account, seeded, subscribers, dynamo) = world_with_findings().await;
    let ssm = aws_sdk_ssm::Client::new(&account.config);
    let put = |value: &'static str| {
        ssm.put_parameter()
            .name("/podreach/suppressions")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .value(value)
            .overwrite(true)
            .send()
    };
    put(r#"{"suppressions": []}"#).await.expect("PutParameter");
    let mut api = RuntimeApi::start(function_arn(&account, "on-change")).await;
    let mut function = Function::spawn(
        "on-change",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("STATE_TABLE", "podreach-state"),
            ("SUPPRESSIONS_PARAMETER", "/podreach/suppressions"),
        ],
    );
    let mut invoke = async || {
        let id = api.invoke(sample_for("eks-update-addon.json", &seeded, &account));
        let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
        response_of(report, &id, &function)
    };

    // 1. Every finding is new: each is published, and recorded in the table.
    let first = invoke().await;
    let new = first["lifecycle"]["NEW"].as_u64().unwrap_or_default();
    assert!(new > 0, "{first:#}");
    assert_eq!(first["published"], new, "{first:#}");
    let items = dynamo
        .scan()
        .table_name("podreach-state")
        .send()
        .await
        .expect("Scan (the test's own look at the table)")
        .items
        .unwrap_or_default();
    let kind =
        |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
            item.get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| sk.split('#').next())
                .unwrap_or_default()
                .to_owned()
        };
    let findings = items.iter().filter(|i| kind(i) == "finding").count();
    assert_eq!(findings as u64, new, "one item per finding");
    assert_eq!(
        items.iter().filter(|i| kind(i) == "context").count(),
        1,
        "shop's context is cached"
    );
    assert_eq!(
        items.iter().filter(|i| kind(i) == "owners").count(),
        1,
        "shop's owned ids are stored"
    );

    // 2. The same audit again: nothing is published, every finding is a quiet repeat.
    let second = invoke().await;
    assert_eq!(second["published"], 0, "{second:#}");
    assert_eq!(second["lifecycle"]["ONGOING"], new, "{second:#}");

    // 3. A malformed suppression document: refused, named, and nothing suppressed.
    put(r#"{"suppressions": [{"cluster": "shop"}]}"#)
        .await
        .expect("PutParameter");
    let third = invoke().await;
    assert!(
        third["suppressions_problem"]
            .as_str()
            .is_some_and(|p| p.contains("suppressions[0]") && p.contains("nothing is suppressed")),
        "{third:#}"
    );
    assert_eq!(third["lifecycle"]["ONGOING"], new, "{third:#}");

    // 4. An ENI event: only the node, against the context the first audit cached in the table.
    let text = lambda::sample_text("ec2-assign-private-ip-addresses.json")
        .replace("eni-0a1b2c3d4e5f6a002", "eni-0a02f1e2d3c4b5a62");
    let event = lambda::event_for(&text, &seeded, &account);
    let id = api.invoke(serde_json::to_vec(&event).expect("serialises"));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let fourth = response_of(report, &id, &function);
    assert!(fourth["context_age_seconds"].is_u64(), "{fourth:#}");
    assert_eq!(fourth["api_calls"], 3, "{fourth:#}");
    assert_eq!(
        fourth["published"], 0,
        "nothing new on that node: {fourth:#}"
    );

    // 5. Detaches, told apart by the owned ids the table keeps: shop's ENI's attachment audits
    // shop; someone else's costs nothing.
    let mut detach = async |attachment: &str| {
        let text = lambda::sample_text("ec2-detach-network-interface.json")
            .replace("eni-attach-0a1b2c3d4e5f6a002", attachment);
        let event = lambda::event_for(&text, &seeded, &account);
        let id = api.invoke(serde_json::to_vec(&event).expect("serialises"));
        let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
        response_of(report, &id, &function)
    };
    let shops = detach("eni-attach-0a02f1e2d3c4b5a62").await;
    assert_eq!(shops["action"], "audited", "{shops:#}");
    assert_eq!(shops["clusters"], json!(["shop"]), "{shops:#}");
    let others = detach("eni-attach-0fffffffffffffff1").await;
    assert_eq!(others["action"], "ignored", "{others:#}");
    assert_eq!(others["api_calls"], 0, "{others:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_topic_is_an_init_error() {
    let account = Moto::shared().account().await;
    let mut api = RuntimeApi::start(function_arn(&account, "on-change")).await;
    let mut function = Function::spawn("on-change", &api, &account, &[]);
    let status = function.wait_for_exit(EXIT_TIMEOUT).await;
    // lambda_runtime posts to /runtime/init/error only for SnapStart hooks; an `Err` returned by
    // `main` before `lambda_runtime::run` is printed to stderr by Rust (`Error: ConfigError {…}`)
    // and the process exits with 1, which Lambda reports as `Runtime.ExitError` with that log.
    let init_errors: Vec<Report> = api
        .pending_reports()
        .into_iter()
        .filter(|r| matches!(r, Report::InitError { .. }))
        .collect();
    let stderr = function.stderr();
    assert!(
        !status.success(),
        "the binary must not start without TOPIC_ARN ({status})\n{}",
        function.logs()
    );
    assert!(
        stderr.contains("TOPIC_ARN")
            || init_errors
                .iter()
                .any(|r| format!("{r:?}").contains("TOPIC_ARN")),
        "the failure names TOPIC_ARN\n{}",
        function.logs()
    );
    assert_eq!(api.polls(), 0, "it never asked for an event");
    assert_eq!(status.code(), Some(1), "{}", function.logs());
    assert!(
        init_errors.is_empty(),
        "the binary now reports to /runtime/init/error ({init_errors:?}): update this test"
    );
    eprintln!("exit {status}; stderr: {}", stderr.trim());
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_audit_binary_serves_the_scheduled_event() {
    let started = Instant::now();
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    let mut function = Function::spawn(
        "scheduled-audit",
        &api,
        &account,
        &[("TOPIC_ARN", subscribers.topic_arn.as_str())],
    );

    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &id, &function);
    assert_eq!(body["action"], "audited", "{body:#}");
    assert_eq!(body["why"], "scheduled audit", "{body:#}");
    assert_eq!(body["clusters"], json!(["legacy", "shop"]), "{body:#}");
    // moto has no add-on API and the binary's EKS client is not mocked: DescribeAddon fails for
    // both clusters, and each is a gap rather than a failed invocation.
    assert!(body["gaps"].as_u64().is_some_and(|g| g >= 2), "{body:#}");
    let published = usize::try_from(body["published"].as_u64().expect("published")).expect("small");
    assert!(published >= 1, "at least the digest: {body:#}");

    let messages = lambda::drain(&subscribers.sqs, &subscribers.all, published).await;
    assert_eq!(
        messages.len(),
        published,
        "the binary published to the topic"
    );
    let kinds: Vec<&str> = messages.iter().map(|n| n.attribute("kind")).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "digest").count(),
        1,
        "{kinds:?}"
    );
    let digest = messages
        .iter()
        .find(|n| n.attribute("kind") == "digest")
        .expect("a digest");
    assert_eq!(digest.attribute("account"), account.id);
    assert_eq!(digest.attribute("cluster"), "legacy,shop");
    let digest_body = digest.body();
    assert_eq!(
        digest_body["schema"], "podreach/digest/v1",
        "{digest_body:#}"
    );
    assert_eq!(
        digest_body["findings"].as_array().map(Vec::len),
        body["findings"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
    );
    assert!(
        function.exited().is_none(),
        "still running\n{}",
        function.logs()
    );
    eprintln!("{body}\ntest {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_audit_binary_imports_its_findings_into_security_hub_of_its_account() {
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    let mut function = Function::spawn(
        "scheduled-audit",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("SECURITY_HUB", "true"),
        ],
    );
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &id, &function);
    let findings = body["findings"].as_u64().expect("findings");
    assert!(findings >= 1, "{body:#}");
    assert_eq!(body["security_hub"]["imported"], findings, "{body:#}");
    assert_eq!(body["security_hub"]["accepted"], findings, "{body:#}");
    // What Security Hub (moto's) now holds, read back with the SDK.
    let hub = aws_sdk_securityhub::Client::new(&account.config);
    let stored = hub.get_findings().send().await.expect("GetFindings");
    let stored = stored.findings();
    assert_eq!(stored.len() as u64, findings);
    let region = account
        .config
        .region()
        .map(ToString::to_string)
        .expect("a Region");
    for f in stored {
        let id = f.id().expect("Id");
        assert!(id.starts_with(&format!("podreach/{region}/")), "{id}");
        assert_eq!(f.aws_account_id(), Some(account.id.as_str()));
        assert_eq!(f.schema_version(), Some("2018-10-08"));
        assert_eq!(
            f.product_arn(),
            Some(
                format!(
                    "arn:aws:securityhub:{region}:{0}:product/{0}/default",
                    account.id
                )
                .as_str()
            )
        );
        assert_eq!(f.generator_id(), Some("podreach"));
        assert!(f.title().is_some_and(|t| !t.is_empty()));
        assert!(f.description().is_some_and(|t| !t.is_empty()));
        assert!(f.created_at().is_some() && f.updated_at().is_some());
        assert!(!f.types().is_empty());
        assert!(f.severity().and_then(|s| s.label()).is_some());
        assert_eq!(
            f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
            Some("FAILED")
        );
        assert_eq!(f.resources()[0].r#type(), Some("AwsEksCluster"));
    }
    assert!(
        function.exited().is_none(),
        "still running\n{}",
        function.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_binary_publishes_nothing() {
    // An account without clusters: the scheduled audit still has a digest to publish.
    let account = Moto::shared().account().await;
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    let mut function = Function::spawn(
        "scheduled-audit",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("DRY_RUN", "true"),
        ],
    );
    let scheduled = lambda::sample_event("scheduled.json", &SeededDemo::default(), &account);
    let id = api.invoke(serde_json::to_vec(&scheduled).expect("serialises"));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &id, &function);
    assert_eq!(body["clusters"], json!([]), "{body:#}");
    assert_eq!(
        body["published"], 1,
        "the digest it would have published: {body:#}"
    );
    lambda::assert_nothing_received(
        &subscribers.sqs,
        &subscribers.all,
        "DRY_RUN publishes nothing",
    )
    .await;
    assert!(
        function.stdout_contains("dry run: would publish"),
        "the dry run logs what it would publish\n{}",
        function.logs()
    );
}

/// `GLIBC_x.y[.z]` → (x, y).
fn glibc_version(name: &str) -> Option<(u32, u32)> {
    let mut parts = name.strip_prefix("GLIBC_")?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[test]
fn bootstrap_binaries_need_at_most_glibc_2_34() {
    for name in ["on-change", "scheduled-audit", "audit-worker"] {
        let path = binary(name);
        let output = Command::new("objdump")
            .arg("-p")
            .arg(&path)
            .output()
            .unwrap_or_else(|e| objdump_missing(&e));
        assert!(
            output.status.success(),
            "objdump -p {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        // `Version References:` lists `.gnu.version_r`: per library, the versions required.
        let references = text
            .split_once("Version References:")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let required: BTreeSet<(u32, u32)> = references
            .split_whitespace()
            .filter_map(glibc_version)
            .collect();
        let newest = required.last().copied();
        assert!(
            newest.is_some(),
            "{name}: no GLIBC_ version references found in `objdump -p` output:\n{text}"
        );
        let too_new: Vec<String> = required
            .iter()
            .filter(|v| **v > AL2023_GLIBC)
            .map(|(major, minor)| format!("GLIBC_{major}.{minor}"))
            .collect();
        assert!(
            too_new.is_empty(),
            "{name} requires {too_new:?}, newer than Amazon Linux 2023's glibc {}.{}: build on \
             an older glibc (e.g. with cargo-lambda/zig, or in an AL2023 container)",
            AL2023_GLIBC.0,
            AL2023_GLIBC.1
        );
        eprintln!("{name}: newest glibc version required {newest:?}");
    }
}

#[allow(
    clippy::panic,
    reason = "test support: a missing tool fails the test with what to install"
)]
fn objdump_missing(error: &std::io::Error) -> ! {
    panic!("cannot run objdump ({error}): install binutils (Debian: apt-get install binutils)")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bootstrap_reads_aws_node_from_the_api_and_resolves_after_kubectl_set_env() {
    use podreach_tests::kube::{FakeKube, demo_objects, readable_cluster};
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let admin = Moto::shared().account().await;
    let kube = FakeKube::shared();
    // A self-managed CNI (no add-on) at v1.10 with node port support off: the #2025 failure.
    let objects = demo_objects(&seeded, "shop", "v1.10.4", &[]);
    let mut registration = readable_cluster(&account, "shop", objects, None);
    registration["credentials"]
        .as_array_mut()
        .expect("credentials")
        .push(json!({
            "access_key_id": admin.credentials.access_key_id(),
            "secret_access_key": admin.credentials.secret_access_key(),
            "session_token": admin.credentials.session_token(),
            "arn": format!("arn:aws:sts::{}:assumed-role/podreach-test/podreach-test", admin.id),
        }));
    registration["access_entries"]
        .as_array_mut()
        .expect("entries")
        .push(
            json!({"principal_arn": format!("arn:aws:iam::{}:role/podreach-test", admin.id),
                     "kubernetes_groups": [], "policies": ["AmazonEKSClusterAdminPolicy"]}),
        );
    let registered = kube.register(&registration);
    let subscribers = lambda::subscribers(&account).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&account.config);
    podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, "podreach-state").await;
    let mut api = RuntimeApi::start(function_arn(&account, "on-change")).await;
    let mut function = Function::spawn(
        "on-change",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("STATE_TABLE", "podreach-state"),
            ("CLUSTERS", "shop"),
            ("KUBERNETES_API", "eks"),
            ("AWS_ENDPOINT_URL_EKS", kube.eks_endpoint.as_str()),
        ],
    );
    let mut invoke = async |event: Vec<u8>| {
        let id = api.invoke(event);
        let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
        response_of(report, &id, &function)
    };

    // 1. A full audit: the DaemonSet says v1.10.4 with node port support off; the finding is
    //    NEW and its message names the workload.
    let first = invoke(sample_for("eks-update-addon.json", &seeded, &account)).await;
    assert_eq!(first["blind_spots"], json!([]), "{first:#}");
    let published =
        usize::try_from(first["published"].as_u64().unwrap_or_default()).expect("small");
    assert!(first["lifecycle"]["NEW"].as_u64() >= Some(1), "{first:#}");
    let messages = lambda::drain(&subscribers.sqs, &subscribers.all, published).await;
    let finding = messages
        .iter()
        .map(lambda::Notification::body)
        .find(|b| b["finding"]["cause"] == "SRCDST_EGRESS")
        .unwrap_or_else(|| unreachable!("the SRCDST_EGRESS finding is published: {messages:#?}"));
    assert_eq!(
        finding["finding"]["affected"]["workloads"][0]["name"], "checkout",
        "{finding:#}"
    );

    // 2. An ENI event: only the node, its pods by field selector and the DaemonSet (2 calls).
    kube.clear_requests(&registered.arn);
    let text = lambda::sample_text("ec2-assign-private-ip-addresses.json")
        .replace("eni-0a1b2c3d4e5f6a002", "eni-0a02f1e2d3c4b5a62");
    let eni_event = serde_json::to_vec(&lambda::event_for(&text, &seeded, &account)).expect("JSON");
    let second = invoke(eni_event.clone()).await;
    assert!(second["context_age_seconds"].is_u64(), "{second:#}");
    let requests = kube.requests(&registered.arn);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(
        requests.iter().any(|r| r["query"]["fieldSelector"]
            .as_str()
            .is_some_and(|s| s.contains("spec.nodeName="))),
        "{requests:#?}"
    );

    // 3. The fix podreach recommends, done as an operator does it.
    let scratch = tempfile::tempdir().expect("a scratch directory");
    podreach_tests::kube::kubectl(
        &podreach_tests::kube::kubeconfig_for(scratch.path(), &registered, &admin),
        &[
            "set",
            "env",
            "daemonset",
            "aws-node",
            "-n",
            "kube-system",
            "AWS_VPC_CNI_NODE_PORT_SUPPORT=true",
        ],
    );

    // 4. The next ENI event sees the DaemonSet changed: the whole cluster is audited again, and
    //    the finding is RESOLVED.
    let third = invoke(eni_event).await;
    assert!(
        third["why"]
            .as_str()
            .is_some_and(|w| !w.contains("only the event's node")),
        "{third:#}"
    );
    assert!(third["context_age_seconds"].is_null(), "{third:#}");
    assert!(
        third["lifecycle"]["RESOLVED"].as_u64() >= Some(1),
        "{third:#}"
    );
    let resolved = lambda::drain(&subscribers.sqs, &subscribers.all, 1).await;
    assert!(
        resolved
            .iter()
            .any(|n| n.attribute("lifecycle") == "RESOLVED"),
        "{resolved:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_digest_says_unknown_with_the_remedy_when_the_api_refuses() {
    use podreach_tests::kube::{FakeKube, demo_objects, readable_cluster};
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let kube = FakeKube::shared();
    let mut registration = readable_cluster(
        &account,
        "shop",
        demo_objects(&seeded, "shop", "v1.10.4", &[]),
        None,
    );
    registration["access_entries"] = json!([]);
    kube.register(&registration);
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    let mut function = Function::spawn(
        "scheduled-audit",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("CLUSTERS", "shop"),
            ("MESSAGE_FORMAT", "chatbot"),
            ("KUBERNETES_API", "eks"),
            ("AWS_ENDPOINT_URL_EKS", kube.eks_endpoint.as_str()),
        ],
    );
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let body = response_of(report, &id, &function);
    assert!(
        body["blind_spots"][0]
            .as_str()
            .is_some_and(|b| b.contains("shop: Kubernetes API")),
        "{body:#}"
    );
    let published = usize::try_from(body["published"].as_u64().unwrap_or_default()).expect("small");
    let messages = lambda::drain(&subscribers.sqs, &subscribers.all, published).await;
    let digest = messages
        .iter()
        .find(|n| n.attribute("kind") == "digest")
        .expect("a digest");
    let subject = digest.subject.clone().unwrap_or_default();
    assert!(subject.contains("UNKNOWN: shop"), "{subject}");
    let text = digest.body()["content"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("*UNKNOWN* `shop`") && text.contains("aws eks create-access-entry"),
        "{text}"
    );
    assert!(!text.contains("No findings"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_audit_binary_audits_each_of_its_regions_and_names_the_one_it_could_not() {
    let started = Instant::now();
    // The demo in us-east-1 and again in eu-west-1 of the same account; a third Region moto does
    // not serve (it answers 500 there), standing in for an opt-in Region that is not enabled.
    let (account, _) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let dublin = Account {
        config: account
            .config
            .to_builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build(),
        ..account.clone()
    };
    podreach_tests::seed::seed_demo(&dublin.config)
        .await
        .expect("the demo is recreated in eu-west-1");
    lambda::give_clusters_their_vpc_ids(&dublin)
        .await
        .expect("moto's clusters name their VPC");
    let subscribers = lambda::subscribers(&account).await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    let mut function = Function::spawn(
        "scheduled-audit",
        &api,
        &account,
        &[
            ("TOPIC_ARN", subscribers.topic_arn.as_str()),
            ("REGIONS", "us-east-1, xx-fake-9, eu-west-1"),
        ],
    );

    let scheduled = lambda::sample_event("scheduled.json", &SeededDemo::default(), &account);
    let id = api.invoke(serde_json::to_vec(&scheduled).expect("serialises"));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let (body, _) = error_of(report, &id, &function);
    assert_eq!(body["errorType"], "podreach.ListClustersFailed", "{body:#}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Region xx-fake-9: cannot list the EKS clusters"),
        "{message}"
    );

    // The Regions before and after the failing one were audited and announced, each in its
    // own name, each with its digest.
    let messages = lambda::drain(&subscribers.sqs, &subscribers.all, 2).await;
    let mut digests: Vec<&str> = messages
        .iter()
        .filter(|m| m.attribute("kind") == "digest")
        .map(|m| m.attribute("region"))
        .collect();
    digests.sort();
    assert_eq!(digests, ["eu-west-1", "us-east-1"], "{}", function.logs());
    let logs = std::fs::read_to_string(&function.stdout).unwrap_or_default() + &function.stderr();
    assert!(
        logs.contains("scheduled audit failed in a Region"),
        "the error names each Region's outcome in the log:\n{}",
        function.logs()
    );
    assert!(
        function.exited().is_none(),
        "still running\n{}",
        function.logs()
    );
    eprintln!("test {:.1} s", started.elapsed().as_secs_f64());
}

/// libfaketime, installed by `scripts/install-faketime.sh`: the function's clock shifted by
/// `ahead` (the monotonic clock left alone, so its timers and timeouts are real).
fn faketime(ahead: &str) -> [(&'static str, String); 3] {
    let library = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/faketime/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    assert!(
        library.exists(),
        "{} is missing: run scripts/install-faketime.sh (scripts/test does)",
        library.display()
    );
    [
        ("LD_PRELOAD", library.display().to_string()),
        ("FAKETIME", ahead.to_owned()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_owned()),
    ]
}

/// The message ids waiting in the table's outboxes.
async fn outboxes(dynamo: &aws_sdk_dynamodb::Client) -> BTreeSet<String> {
    let items = dynamo
        .scan()
        .table_name("podreach-state")
        .send()
        .await
        .expect("Scan (the test's own look at the table)")
        .items
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            item.get("outbox")?
                .as_m()
                .ok()?
                .get("message_id")?
                .as_s()
                .ok()
                .cloned()
        })
        .collect()
}

/// An account with the demo, findings (the peer VPC's return route removed), the table, the
/// topic and its subscribers.
async fn world_with_findings() -> (
    Account,
    SeededDemo,
    lambda::Subscribers,
    aws_sdk_dynamodb::Client,
) {
    let (account, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    aws_sdk_ec2::Client::new(&account.config)
        .delete_route()
        .route_table_id(
            seeded
                .moto_id("rtb-0b2e2d3c4b5a69702")
                .expect("the peer's route table was seeded"),
        )
        .destination_cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("DeleteRoute");
    let subscribers = lambda::subscribers(&account).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&account.config);
    podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, "podreach-state").await;
    (account, seeded, subscribers, dynamo)
}

/// The finding messages among `received`: (dedupe id, redelivery).
fn announcements(received: &[lambda::Notification]) -> Vec<(String, bool)> {
    received
        .iter()
        .filter(|n| n.attributes.get("kind").is_none_or(|k| k != "digest"))
        .map(|n| {
            let body: Value = serde_json::from_str(&n.message).expect("JSON messages");
            (
                n.attributes.get("dedupe").cloned().unwrap_or_default(),
                body["redelivery"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn announcements_sns_refused_or_a_kill_lost_are_sent_once_marked_by_the_next_audit() {
    let started = Instant::now();
    let (account, seeded, subscribers, dynamo) = world_with_findings().await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    let topic = subscribers.topic_arn.clone();
    let settings = |sns: &str| {
        vec![
            ("TOPIC_ARN", topic.clone()),
            ("STATE_TABLE", "podreach-state".to_owned()),
            ("MIN_SEVERITY", "LOW".to_owned()),
            ("MESSAGE_FORMAT", "json".to_owned()),
            ("AWS_ENDPOINT_URL_SNS", sns.to_owned()),
        ]
    };
    let spawn = |api: &RuntimeApi, extra: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Function::spawn("scheduled-audit", api, &account, &pairs)
    };
    let moto_sns = account
        .config
        .endpoint_url()
        .expect("moto's endpoint")
        .to_owned();

    // 1. SNS unreachable (a port nobody listens on): the run fails as PublishFailed, nothing is
    // received, every change waits in its record's outbox.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let dead = format!("http://{}", closed.local_addr().expect("its address"));
    drop(closed);
    let mut function = spawn(&api, settings(&dead));
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let (body, _) = error_of(report, &id, &function);
    assert_eq!(body["errorType"], "podreach.PublishFailed", "{body:#}");
    drop(function);
    let waiting = outboxes(&dynamo).await;
    assert!(
        !waiting.is_empty(),
        "every announcement waits in the outbox"
    );
    lambda::assert_nothing_received(&subscribers.sqs, &subscribers.all, "SNS was unreachable")
        .await;

    // 2. Within the lease (5 minutes on), SNS back: the entries may still be their writer's, so
    // nothing is sent again.
    api.clock_ahead(300);
    let mut extra = settings(&moto_sns);
    extra.extend(faketime("+5m"));
    let mut function = spawn(&api, extra);
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    response_of(report, &id, &function);
    drop(function);
    let received = lambda::drain(&subscribers.sqs, &subscribers.all, 1).await;
    assert_eq!(
        announcements(&received),
        [],
        "only the digest within the lease"
    );
    assert_eq!(outboxes(&dynamo).await, waiting);

    // 3. Twenty minutes on, its writer certainly ended: each is sent once, marked, under the id
    // the table kept; the outbox is empty after.
    api.clock_ahead(1200);
    let mut extra = settings(&moto_sns);
    extra.extend(faketime("+20m"));
    let mut function = spawn(&api, extra);
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    response_of(report, &id, &function);
    drop(function);
    let received = lambda::drain(&subscribers.sqs, &subscribers.all, waiting.len() + 1).await;
    let sent = announcements(&received);
    let ids: BTreeSet<&String> = sent.iter().map(|(id, _)| id).collect();
    assert_eq!(sent.len(), waiting.len(), "each once: {sent:?}");
    assert!(
        sent.iter().all(|(_, again)| *again),
        "each marked a redelivery: {sent:?}"
    );
    for stored in &waiting {
        assert!(
            ids.iter().any(|id| id.ends_with(stored.as_str())),
            "{stored} went out under its id: {ids:?}"
        );
    }
    assert!(outboxes(&dynamo).await.is_empty(), "every entry confirmed");

    // 4. A kill between the state write and the publish: a finding NEW again (its record
    // removed by the test, as a fresh table would be), SNS accepting connections and never
    // answering, the process killed once the table holds the announcement.
    let stuck = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let stuck_url = format!("http://{}", stuck.local_addr().expect("its address"));
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = stuck.accept().await {
            held.push(stream);
        }
    });
    podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, "podreach-state-2").await;
    let mut settings2 = settings(&stuck_url);
    settings2[1].1 = "podreach-state-2".to_owned();
    let mut extra = settings2.clone();
    extra.extend(faketime("+20m"));
    let function = spawn(&api, extra);
    let _id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    // A wait, not a timing: generous, since the other tests of this file run their bootstraps
    // against the same moto at the same time (a CI run on 2 cores took over 60 s here).
    let deadline = Instant::now() + Duration::from_secs(180);
    let table2 = |dynamo: aws_sdk_dynamodb::Client| async move {
        dynamo
            .scan()
            .table_name("podreach-state-2")
            .send()
            .await
            .expect("Scan")
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                item.get("outbox")?
                    .as_m()
                    .ok()?
                    .get("message_id")?
                    .as_s()
                    .ok()
                    .cloned()
            })
            .collect::<BTreeSet<String>>()
    };
    let mut written = BTreeSet::new();
    while Instant::now() < deadline {
        written = table2(dynamo.clone()).await;
        if written.len() >= waiting.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        written.len(),
        waiting.len(),
        "the changes were written before the kill"
    );
    drop(function); // SIGKILL, stuck in its first publish
    holder.abort();
    lambda::assert_nothing_received(
        &subscribers.sqs,
        &subscribers.all,
        "killed before publishing",
    )
    .await;
    // Redelivered 20 minutes after the write: once each, marked; then nothing more.
    api.clock_ahead(2400);
    let mut extra = settings(&moto_sns);
    extra[1].1 = "podreach-state-2".to_owned();
    extra.extend(faketime("+40m"));
    let mut function = spawn(&api, extra);
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    response_of(report, &id, &function);
    let received = lambda::drain(&subscribers.sqs, &subscribers.all, written.len() + 1).await;
    let sent = announcements(&received);
    assert_eq!(
        sent.len(),
        written.len(),
        "each once after the kill: {sent:?}"
    );
    assert!(sent.iter().all(|(_, again)| *again), "{sent:?}");
    assert!(table2(dynamo.clone()).await.is_empty());
    eprintln!(
        "{} announcements: refused, held, sent once marked; killed, sent once marked; test {:.1} s",
        waiting.len(),
        started.elapsed().as_secs_f64()
    );
}

/// What the DynamoDB proxy does to a `PutItem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DynamoFault {
    /// Every other conditional write refused as a racing invocation's would be
    /// (`ConditionalCheckFailedException`).
    Conflicts,
    /// Every write fails (`InternalServerError`, 500), as in an outage.
    Outage,
    /// Nothing.
    None,
}

/// A proxy in front of moto's DynamoDB that injects `fault` into `PutItem`s; counts them.
struct DynamoProxy {
    url: String,
    fault: Arc<std::sync::Mutex<DynamoFault>>,
    refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DynamoProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DynamoProxy {
    async fn start(moto: &str) -> DynamoProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let upstream = moto.trim_start_matches("http://").to_owned();
        let fault = Arc::new(std::sync::Mutex::new(DynamoFault::None));
        let refused = Arc::new(AtomicUsize::new(0));
        let puts = Arc::new(AtomicUsize::new(0));
        let (f, r) = (fault.clone(), refused.clone());
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (upstream, fault, refused, puts) =
                    (upstream.clone(), f.clone(), r.clone(), puts.clone());
                connections.spawn(async move {
                    let _ = proxy(stream, &upstream, &fault, &refused, &puts).await;
                });
            }
        });
        DynamoProxy {
            url,
            fault,
            refused,
            task,
        }
    }

    fn set(&self, fault: DynamoFault) {
        *self.fault.lock().expect("not poisoned") = fault;
    }
}

async fn proxy(
    stream: TcpStream,
    upstream: &str,
    fault: &std::sync::Mutex<DynamoFault>,
    refused: &AtomicUsize,
    puts: &AtomicUsize,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Some(request) = read_request(&mut reader).await? {
        let put = request
            .header("x-amz-target")
            .is_some_and(|t| t.ends_with(".PutItem"));
        // Only a conditional write can be refused as a racing writer's.
        let conditional =
            put && String::from_utf8_lossy(&request.body).contains("ConditionExpression");
        let mode = *fault.lock().expect("not poisoned");
        let injected = match (put, mode) {
            (true, DynamoFault::Outage) => Some((
                "500 Internal Server Error",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected outage"}"#,
            )),
            (true, DynamoFault::Conflicts)
                if conditional && puts.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) =>
            {
                Some((
                    "400 Bad Request",
                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
                ))
            }
            _ => None,
        };
        if let Some((status, body)) = injected {
            refused.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: injected\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            write.write_all(head.as_bytes()).await?;
            write.write_all(body.as_bytes()).await?;
            write.flush().await?;
            continue;
        }
        let mut to_moto = TcpStream::connect(upstream).await?;
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        to_moto.write_all(head.as_bytes()).await?;
        to_moto.write_all(&request.body).await?;
        let mut answer = Vec::new();
        to_moto.read_to_end(&mut answer).await?;
        write.write_all(&answer).await?;
        write.flush().await?;
    }
    Ok(())
}

/// One scheduled audit by the real bootstrap, its state in `table` reached through `dynamodb`.
struct Scheduled<'a> {
    account: &'a Account,
    seeded: &'a SeededDemo,
    topic: &'a str,
    table: &'static str,
    dynamodb: &'a str,
}

impl Scheduled<'_> {
    /// The response body, or the error body.
    async fn run(&self, api: &mut RuntimeApi) -> Result<Value, Value> {
        let settings = [
            ("TOPIC_ARN", self.topic),
            ("STATE_TABLE", self.table),
            ("MIN_SEVERITY", "LOW"),
            ("MESSAGE_FORMAT", "json"),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb),
        ];
        let mut function = Function::spawn("scheduled-audit", api, self.account, &settings);
        let id = api.invoke(sample_for("scheduled.json", self.seeded, self.account));
        match api.next_report(&mut function, INVOCATION_TIMEOUT).await {
            Report::Response { request_id, body } if request_id == id => Ok(body),
            Report::Error {
                request_id, body, ..
            } if request_id == id => Err(body),
            other => function.fail(&format!("no answer to {id}: {other:#?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_conflicts_and_an_outage_through_the_real_bootstrap_lose_nothing_and_send_nothing_twice_unmarked()
 {
    let (account, seeded, subscribers, dynamo) = world_with_findings().await;
    let moto = account
        .config
        .endpoint_url()
        .expect("moto's endpoint")
        .to_owned();
    let proxy = DynamoProxy::start(&moto).await;
    let mut api = RuntimeApi::start(function_arn(&account, "scheduled-audit")).await;
    // 1. Every other write refused as a racing writer's: each is re-read and rewritten, the run
    // succeeds, each NEW is sent once and none is marked.
    proxy.set(DynamoFault::Conflicts);
    let at = |table: &'static str| Scheduled {
        account: &account,
        seeded: &seeded,
        topic: &subscribers.topic_arn,
        table,
        dynamodb: &proxy.url,
    };
    let outcome = at("podreach-state")
        .run(&mut api)
        .await
        .expect("the run succeeds");
    let new = outcome["lifecycle"]["NEW"].as_u64().unwrap_or_default() as usize;
    assert!(new > 0, "{outcome:#}");
    assert!(
        outcome["state_conflicts"].as_u64().unwrap_or_default() > 0,
        "{outcome:#}"
    );
    assert!(proxy.refused.load(Ordering::SeqCst) > 0);
    let received = lambda::drain(&subscribers.sqs, &subscribers.all, new + 1).await;
    let sent = announcements(&received);
    assert_eq!(sent.len(), new, "each NEW once: {sent:?}");
    assert!(sent.iter().all(|(_, again)| !again), "{sent:?}");

    // 2. A finding NEW again in a fresh table, and DynamoDB failing every write: the run fails
    // as StateFailed and nothing goes out.
    podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, "podreach-state-b").await;
    proxy.set(DynamoFault::Outage);
    let failed = at("podreach-state-b")
        .run(&mut api)
        .await
        .expect_err("the outage fails the run");
    assert_eq!(failed["errorType"], "podreach.StateFailed", "{failed:#}");
    lambda::assert_nothing_received(
        &subscribers.sqs,
        &subscribers.all,
        "nothing written, nothing sent",
    )
    .await;
    // 3. Healthy again: each NEW once.
    proxy.set(DynamoFault::None);
    let outcome = at("podreach-state-b")
        .run(&mut api)
        .await
        .expect("healthy again");
    assert_eq!(
        outcome["lifecycle"]["NEW"].as_u64().unwrap_or_default() as usize,
        new
    );
    let received = lambda::drain(&subscribers.sqs, &subscribers.all, new + 1).await;
    let sent = announcements(&received);
    assert_eq!(sent.len(), new, "each NEW once after the outage: {sent:?}");
    let ids: BTreeSet<&String> = sent.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), new, "distinct ids");
}

/// The finding messages among `received`, by finding id: each copy's dedupe id and whether it
/// is marked a redelivery.
fn copies(received: &[lambda::Notification]) -> BTreeMap<String, Vec<(String, bool)>> {
    let mut by_finding: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for n in received
        .iter()
        .filter(|n| n.attributes.get("kind").is_none_or(|k| k != "digest"))
    {
        let body: Value = serde_json::from_str(&n.message).expect("JSON messages");
        by_finding
            .entry(n.attributes.get("finding_id").cloned().unwrap_or_default())
            .or_default()
            .push((
                n.attributes.get("dedupe").cloned().unwrap_or_default(),
                body["redelivery"].as_bool().unwrap_or(false),
            ));
    }
    by_finding
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_anywhere_in_a_run_each_new_reaches_the_topic_once_or_marked() {
    let started = Instant::now();
    let (account, seeded, subscribers, dynamo) = world_with_findings().await;
    let moto = account
        .config
        .endpoint_url()
        .expect("moto's endpoint")
        .to_owned();
    let arn = function_arn(&account, "scheduled-audit");
    let mut api = RuntimeApi::start(arn.clone()).await;
    let spawn = |api: &RuntimeApi, table: &str, ahead: Option<&str>| {
        let mut extra = vec![
            ("TOPIC_ARN", subscribers.topic_arn.clone()),
            ("STATE_TABLE", table.to_owned()),
            ("MIN_SEVERITY", "LOW".to_owned()),
            ("MESSAGE_FORMAT", "json".to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB", moto.clone()),
        ];
        if let Some(ahead) = ahead {
            extra.extend(faketime(ahead));
        }
        let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Function::spawn("scheduled-audit", api, &account, &pairs)
    };
    // A clean run names the findings every round must announce.
    podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, "podreach-kill-ref")
        .await;
    let mut function = spawn(&api, "podreach-kill-ref", None);
    let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    response_of(report, &id, &function);
    drop(function);
    let findings: BTreeSet<String> =
        copies(&lambda::drain(&subscribers.sqs, &subscribers.all, 2).await)
            .into_keys()
            .collect();
    assert!(!findings.is_empty());
    // Killed (SIGKILL) at points spread over the run: during the start, the collection, the
    // writes, the publishes; wherever it lands, the next audit 20 minutes later completes it.
    let mut killed_before_answering = 0;
    let points: Vec<u64> = (0..16).map(|i| i * 35).collect();
    for (round, &after) in points.iter().enumerate() {
        let table = format!("podreach-kill-{round}");
        podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, &table).await;
        // A Runtime API of its own for each process: a killed process's pending poll would
        // otherwise take the next invocation with it.
        let mut api = RuntimeApi::start(arn.clone()).await;
        let function = spawn(&api, &table, None);
        let _ = api.invoke(sample_for("scheduled.json", &seeded, &account));
        tokio::time::sleep(Duration::from_millis(after)).await;
        drop(function);
        // Whether the killed run got its answer out before the kill.
        let mut answered = false;
        while let Ok(Some(report)) =
            tokio::time::timeout(Duration::from_millis(200), api.reports.recv()).await
        {
            answered |= matches!(report, Report::Response { .. });
        }
        killed_before_answering += usize::from(!answered);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut received = lambda::drain(&subscribers.sqs, &subscribers.all, 0).await;
        let mut api = RuntimeApi::start(arn.clone()).await;
        api.clock_ahead(1200);
        let mut function = spawn(&api, &table, Some("+20m"));
        let id = api.invoke(sample_for("scheduled.json", &seeded, &account));
        let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
        response_of(report, &id, &function);
        drop(function);
        received.extend(lambda::drain(&subscribers.sqs, &subscribers.all, 1).await);
        let by_finding = copies(&received);
        let case = format!("killed {after} ms into the run");
        assert_eq!(
            by_finding.keys().cloned().collect::<BTreeSet<_>>(),
            findings,
            "{case}: every finding reached the topic"
        );
        for (finding, copies) in &by_finding {
            let ids: BTreeSet<&String> = copies.iter().map(|(id, _)| id).collect();
            assert_eq!(ids.len(), 1, "{case}: {finding} under one id: {copies:?}");
            let unmarked = copies.iter().filter(|(_, again)| !again).count();
            assert!(
                unmarked <= 1,
                "{case}: {finding} twice unmarked: {copies:?}"
            );
        }
    }
    // The run takes about half a second here: most kill points land inside it (the first one before
    // the process even asked for its event).
    assert!(
        killed_before_answering >= 2,
        "{killed_before_answering} kills inside a run"
    );
    eprintln!(
        "{} kills, {killed_before_answering} before the run answered: every finding once or marked; test {:.1} s",
        points.len(),
        started.elapsed().as_secs_f64()
    );
}
