//! The organization run's edges against real components: `podreach org plan` reading a moto
//! organization (accounts, nested organizational units, a closed account) through the real
//! SDK; a session in another account through the member role (moto maps assumed-role credentials
//! to the role's account); the refusal of that role typed as the core's blocker (moto assumes any
//! role, so the refusal is STS's own error document, replayed to the real SDK client); and
//! targets run side by side within their caps, a failing one never stopping the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_organizations::Client as Organizations;
use podreach_aws::MemberRole;
use podreach_aws::org::{Caps, run_targets, session};
use podreach_core::org::{Blocker, Target};
use podreach_tests::moto::Moto;
use serde_json::Value;

struct Org {
    management: podreach_tests::moto::Account,
    /// Account name → id.
    ids: BTreeMap<&'static str, String>,
    sandbox: String,
}

/// An organization: `prod-a` and `prod-b` under `ou-prod`, `play` under `sandbox/deep`,
/// `retired` closed, `misc` at the root.
async fn organization() -> Org {
    let management = Moto::shared().account().await;
    let org = Organizations::new(&management.config);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("CreateOrganization");
    let root = org.list_roots().send().await.expect("ListRoots").roots()[0]
        .id()
        .expect("a root id")
        .to_owned();
    let unit = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            org.create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .expect("CreateOrganizationalUnit")
                .organizational_unit()
                .and_then(|u| u.id())
                .expect("a unit id")
                .to_owned()
        }
    };
    let prod = unit(root.clone(), "prod").await;
    let sandbox = unit(root.clone(), "sandbox").await;
    let deep = unit(sandbox.clone(), "deep").await;
    let mut ids = BTreeMap::new();
    for (name, parent) in [
        ("prod-a", Some(&prod)),
        ("prod-b", Some(&prod)),
        ("play", Some(&deep)),
        ("retired", None),
        ("misc", None),
    ] {
        let id = org
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("CreateAccount")
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("an account id")
            .to_owned();
        if let Some(parent) = parent {
            org.move_account()
                .account_id(&id)
                .source_parent_id(&root)
                .destination_parent_id(parent)
                .send()
                .await
                .expect("MoveAccount");
        }
        ids.insert(name, id);
    }
    org.close_account()
        .account_id(&ids["retired"])
        .send()
        .await
        .expect("CloseAccount");
    Org {
        management,
        ids,
        sandbox,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn org_plan_lists_active_accounts_times_regions_and_says_why_the_others_are_left_out() {
    let org = organization().await;
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let output = org
        .management
        .podreach_command(scratch.path())
        .args([
            "org",
            "plan",
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
        ])
        .args(["--exclude-ou", &org.sandbox])
        .args(["--exclude-account", &org.ids["misc"]])
        .args(["--format", "json"])
        .output()
        .expect("podreach runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let targets: Vec<(String, String)> = plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["account"].as_str().expect("an account").to_owned(),
                t["region"].as_str().expect("a Region").to_owned(),
            )
        })
        .collect();
    // prod-a, prod-b and the management account itself (a member of its organization), each in
    // both Regions, in account order.
    let mut audited: Vec<&String> =
        vec![&org.ids["prod-a"], &org.ids["prod-b"], &org.management.id];
    audited.sort();
    let expected: Vec<(String, String)> = audited
        .iter()
        .flat_map(|a| {
            ["us-east-1", "eu-west-1"]
                .into_iter()
                .map(|r| ((*a).clone(), r.to_owned()))
        })
        .collect();
    assert_eq!(targets, expected, "{plan:#}");
    let skipped: BTreeMap<String, (String, Value)> = plan["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| {
            (
                s["account"].as_str().expect("an account").to_owned(),
                (
                    s["reason"].as_str().expect("a reason").to_owned(),
                    s["name"].clone(),
                ),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 3, "{plan:#}");
    assert_eq!(skipped[&org.ids["play"]].0, "excluded-ou");
    assert_eq!(skipped[&org.ids["misc"]].0, "excluded-account");
    assert_eq!(skipped[&org.ids["retired"]].0, "not-active");
    assert_eq!(
        skipped[&org.ids["play"]].1, "play",
        "named as in Organizations"
    );

    // The same plan as text: the accounts by name, the reasons said.
    let output = org
        .management
        .podreach_command(scratch.path())
        .args(["org", "plan", "--region", "us-east-1"])
        .args(["--exclude-ou", &org.sandbox])
        .output()
        .expect("podreach runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.starts_with("Organization run: 4 targets (4 accounts × 1 Regions)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} (prod-a)  us-east-1", org.ids["prod-a"])),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{} (play)  excluded: under {}",
            org.ids["play"], org.sandbox
        )),
        "{text}"
    );
    assert!(text.contains("not ACTIVE in Organizations"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn org_plan_outside_an_organization_is_an_error_naming_what_to_grant() {
    let alone = Moto::shared().account().await;
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let output = alone
        .podreach_command(scratch.path())
        .args(["org", "plan", "--region", "us-east-1"])
        .output()
        .expect("podreach runs");
    // moto gap: outside an organization ListAccounts answers an empty list (AWS answers
    // AWSOrganizationsNotInUseException: see the next test); either way nothing is planned, and
    // a run of nothing is an error, never a clean result.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nothing to audit"), "{stderr}");
    // A typo in an exclusion is refused before anything is audited.
    let output = alone
        .podreach_command(scratch.path())
        .args(["org", "plan", "--region", "us-east-1"])
        .args([
            "--account",
            "111122223333",
            "--exclude-account",
            "111122223334",
        ])
        .output()
        .expect("podreach runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("111122223334"), "{stderr}");
}

/// A configuration whose one request gets `status` and `body` from a replay client.
fn answering(
    status: u16,
    content_type: &str,
    body: &'static str,
) -> (
    aws_config::SdkConfig,
    aws_smithy_http_client::test_util::StaticReplayClient,
) {
    let replay = aws_smithy_http_client::test_util::StaticReplayClient::new(vec![
        aws_smithy_http_client::test_util::ReplayEvent::new(
            http::Request::builder()
                .uri("https://replay.invalid/")
                .body(aws_smithy_types::body::SdkBody::empty())
                .expect("a request"),
            http::Response::builder()
                .status(status)
                .header("content-type", content_type)
                .body(aws_smithy_types::body::SdkBody::from(body))
                .expect("a response"),
        ),
    ]);
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIA", "secret", None, None, "test"),
            ),
        )
        .http_client(replay.clone())
        .build();
    (config, replay)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_outside_an_organization_gets_an_error_naming_what_to_grant() {
    // moto gap (above): Organizations' own answer, replayed to the real SDK client.
    let (config, _) = answering(
        400,
        "application/x-amz-json-1.1",
        r#"{"__type":"AWSOrganizationsNotInUseException","Message":"Your account is not a member of an organization."}"#,
    );
    let error = podreach_aws::org::list_accounts(&config, false)
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("AWSOrganizationsNotInUseException"), "{text}");
    assert!(text.contains("organizations:ListAccounts"), "{text}");
    assert!(
        text.contains("Accounts"),
        "the other way: list the accounts: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_in_a_target_account_reads_that_account() {
    let hub = Moto::shared().account().await;
    let member = Moto::shared().account_in("eu-west-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&member.config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("a VPC id")
        .to_owned();
    let target = Target {
        account: member.id.clone(),
        region: "eu-west-1".to_owned(),
    };
    let role = MemberRole {
        name: "podreach-member".to_owned(),
        external_id: Some("shared-secret".to_owned()),
    };
    let made = session(&hub.config, &target, &role)
        .await
        .expect("the role is assumed");
    assert_eq!(
        made.role_arn,
        format!("arn:aws:iam::{}:role/podreach-member", member.id)
    );
    let seen = aws_sdk_ec2::Client::new(&made.config)
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .expect("DescribeVpcs in the member account");
    assert_eq!(seen.vpcs()[0].owner_id(), Some(member.id.as_str()));
    assert_eq!(
        made.config.region().map(ToString::to_string).as_deref(),
        Some("eu-west-1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_member_role_is_a_blind_target_naming_the_role_to_create() {
    // moto gap: it assumes any role. The refusal is STS's own error document, answered to the
    // real SDK client.
    let refusal = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
        <Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::111122223333:assumed-role/podreach-audit-worker/x \
        is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/podreach-member</Message>\
        </Error><RequestId>4f0e</RequestId></ErrorResponse>";
    let (base, replay) = answering(403, "text/xml", refusal);
    let target = Target {
        account: "222233334444".to_owned(),
        region: "ap-east-1".to_owned(),
    };
    let role = MemberRole {
        name: "podreach-member".to_owned(),
        external_id: None,
    };
    let (blocker, error) = session(&base, &target, &role)
        .await
        .expect_err("the role is refused");
    assert_eq!(
        blocker,
        Blocker::RoleNotAssumable {
            role_arn: "arn:aws:iam::222233334444:role/podreach-member".to_owned()
        }
    );
    assert!(error.contains("AccessDenied"), "{error}");
    assert!(blocker.remedy(&target).contains("infra/member.yaml"));
    let sent = replay.actual_requests().next().expect("one request");
    assert_eq!(
        sent.uri(),
        "https://sts.ap-east-1.amazonaws.com/",
        "STS of the target's Region"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_run_side_by_side_within_their_caps_and_a_failing_one_stops_no_other() {
    let targets: Vec<Target> = (0..6)
        .flat_map(|a| {
            ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"]
                .into_iter()
                .map(move |r| Target {
                    account: format!("{a:012}"),
                    region: r.to_owned(),
                })
        })
        .collect();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let per_account: Arc<std::sync::Mutex<BTreeMap<String, (usize, usize)>>> = Arc::default();
    let caps = Caps {
        total: 5,
        per_account: 2,
    };
    let results = {
        let (in_flight, most, per_account) = (in_flight.clone(), most.clone(), per_account.clone());
        run_targets(&targets, caps, move |target: Target| {
            let (in_flight, most, per_account) =
                (in_flight.clone(), most.clone(), per_account.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                {
                    let mut map = per_account.lock().expect("the map");
                    let entry = map.entry(target.account.clone()).or_default();
                    entry.0 += 1;
                    entry.1 = entry.1.max(entry.0);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                per_account
                    .lock()
                    .expect("the map")
                    .entry(target.account.clone())
                    .or_default()
                    .0 -= 1;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                assert!(
                    !(target.account.ends_with('3') && target.region == "eu-west-1"),
                    "this target's audit fails hard"
                );
                target.key()
            }
        })
        .await
    };
    assert_eq!(results.len(), targets.len(), "every target has a result");
    for ((target, result), planned) in results.iter().zip(&targets) {
        assert_eq!(target, planned, "in plan order");
        if target.account.ends_with('3') && target.region == "eu-west-1" {
            assert!(result.is_err(), "the failure is this target's own");
        } else {
            assert_eq!(result.as_deref(), Ok(target.key().as_str()));
        }
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        5,
        "the total cap is used and kept"
    );
    let per_account = per_account.lock().expect("the map");
    assert!(
        per_account.values().all(|(_, most)| *most <= 2),
        "never more than 2 audits in one account: {per_account:?}"
    );
    assert!(per_account.values().any(|(_, most)| *most == 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn org_audit_imports_each_targets_findings_into_security_hub_of_that_account() {
    let (member, _) = podreach_tests::seed::fresh_account_with_demo().await;
    let hub = Moto::shared().account().await;
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let state = scratch.path().join("org-state.json");
    let output = hub
        .podreach_command(scratch.path())
        .args([
            "org",
            "audit",
            "--region",
            "us-east-1",
            "--account",
            &member.id,
        ])
        .args([
            "--member-role",
            "podreach-member",
            "--kube",
            "off",
            "--security-hub",
        ])
        .arg("--state")
        .arg(&state)
        .args(["--format", "json"])
        .output()
        .expect("podreach runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| podreach_tests::fail(&format!("JSON ({e}): {stderr}")));
    let target = &report["targets"][0];
    assert_eq!(target["status"], "audited", "{report:#}");
    let findings = target["report"]["findings"].as_array().expect("findings");
    assert!(!findings.is_empty(), "the demo has findings");
    assert_eq!(
        target["security_hub"]["accepted"],
        findings.len(),
        "{:#}",
        target["security_hub"]
    );
    // In the member's Security Hub, under the member's account; none in the hub's own.
    let member_hub = aws_sdk_securityhub::Client::new(&member.config);
    let stored = member_hub
        .get_findings()
        .send()
        .await
        .expect("GetFindings in the member account");
    let stored = stored.findings();
    assert_eq!(stored.len(), findings.len());
    for f in stored {
        assert_eq!(f.aws_account_id(), Some(member.id.as_str()));
        assert!(
            f.id()
                .is_some_and(|id| id.starts_with("podreach/us-east-1/")),
            "{:?}",
            f.id()
        );
        assert_eq!(
            f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
            Some("FAILED")
        );
    }
    let hub_own = aws_sdk_securityhub::Client::new(&hub.config)
        .get_findings()
        .send()
        .await
        .expect("GetFindings in the hub account");
    assert!(
        hub_own.findings().is_empty(),
        "nothing in the hub's own account"
    );
}
