//! SNS messages: attributes for filter policies, SNS's size and Subject limits, Chatbot's schema,
//! and the functions' configuration errors. Pure: built from the bundled demo's report.

use std::collections::BTreeMap;

use podreach_aws::function::FunctionConfig;
use podreach_aws::lifecycle::DigestLifecycle;
use podreach_aws::publish::{
    DigestContext, Lifecycle, MessageFormat, Origin, SNS_MAX_BYTES, SUBJECT_MAX, digest_message,
    finding_message, resolved_message,
};
use podreach_core::lifecycle::{FindingState, Marker, Published, Status};
use podreach_core::report::{Report, Severity};
use podreach_core::{AnalyzeOptions, Overrides, demo};
use serde_json::Value;

const NEW: Lifecycle<'static> = Lifecycle {
    marker: Marker::New,
    why: &[],
    message_id: None,
    redelivery: false,
};

fn demo_report() -> Report {
    podreach_core::audit(
        &demo::files(),
        &Overrides::default(),
        &AnalyzeOptions::default(),
    )
    .expect("the demo audits")
}

fn origin() -> Origin {
    Origin {
        account: "111122223333".to_owned(),
        region: "eu-west-1".to_owned(),
        alias: None,
    }
}

#[test]
fn each_finding_message_carries_the_filter_attributes_and_fits_sns() {
    let report = demo_report();
    assert!(!report.findings.is_empty());
    for finding in &report.findings {
        for format in [MessageFormat::Json, MessageFormat::Chatbot] {
            let message = finding_message(finding, NEW, &origin(), format);
            let keys: Vec<&str> = message.attributes.keys().copied().collect();
            assert_eq!(
                keys,
                [
                    "account",
                    "cause",
                    "cluster",
                    "finding_id",
                    "kind",
                    "lifecycle",
                    "region",
                    "severity"
                ]
            );
            assert_eq!(message.attributes["severity"], finding.severity.as_str());
            assert_eq!(message.attributes["finding_id"], finding.id);
            assert_eq!(message.attributes["cause"], finding.cause.code());
            assert!(message.subject.len() <= SUBJECT_MAX, "{}", message.subject);
            assert!(message.subject.is_ascii() && !message.subject.contains('\n'));
            assert!(message.body.len() < SNS_MAX_BYTES);
        }
        let json: Value = serde_json::from_str(
            &finding_message(finding, NEW, &origin(), MessageFormat::Json).body,
        )
        .expect("the JSON body parses");
        assert_eq!(json["schema"], "podreach/finding/v1");
        assert_eq!(json["finding"]["id"], finding.id.as_str());
    }
}

#[test]
fn chatbot_messages_follow_the_custom_notification_schema() {
    let report = demo_report();
    let finding = report
        .findings
        .iter()
        .find(|f| f.remediation.iter().any(|r| r.command.is_some()) && !f.affected.pods.is_empty())
        .expect("the demo has a finding with pods and a fix command");
    let body: Value = serde_json::from_str(
        &finding_message(finding, NEW, &origin(), MessageFormat::Chatbot).body,
    )
    .expect("the Chatbot body parses");
    assert_eq!(body["version"], "1.0");
    assert_eq!(body["source"], "custom");
    let o = origin();
    assert_eq!(
        body["metadata"]["threadId"],
        format!("{}-{}-{}", o.account, o.region, finding.id),
        "a finding id is unique only within a Region"
    );
    // Chatbot's schema: every additionalContext value a string.
    let context = body["metadata"]["additionalContext"]
        .as_object()
        .expect("additionalContext");
    assert!(context.values().all(Value::is_string), "{context:?}");
    assert_eq!(
        context["destinations"],
        finding.destinations.len().to_string()
    );
    let description = body["content"]["description"]
        .as_str()
        .expect("a description");
    assert!(
        description.contains(&finding.affected.pods[0]),
        "{description}"
    );
    let command = finding
        .remediation
        .iter()
        .find_map(|r| r.command.as_deref())
        .expect("a command");
    assert!(
        description.contains(&format!("```\n{command}")),
        "{description}"
    );
    assert!(
        body["content"]["title"]
            .as_str()
            .is_some_and(|t| t.chars().count() <= 250)
    );
}

#[test]
fn a_finding_with_too_many_pods_is_cut_to_fit_and_says_how_many_were_left_out() {
    let report = demo_report();
    let mut finding = report.findings[0].clone();
    finding.affected.pods = (0..40_000)
        .map(|i| format!("namespace-{i}/deployment-abcdef-{i}"))
        .collect();
    finding.affected.pod_addresses = (0..40_000)
        .map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256))
        .collect();
    let message = finding_message(&finding, NEW, &origin(), MessageFormat::Json);
    let total = message.body.len()
        + message
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    assert!(total < SNS_MAX_BYTES, "{total} bytes");
    let body: Value = serde_json::from_str(&message.body).expect("the body parses");
    let omitted = &body["finding"]["affected"]["omitted"];
    let kept = body["finding"]["affected"]["pods"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        omitted["pods"].as_u64().map(|n| n as usize + kept),
        Some(40_000),
        "{omitted}"
    );
    let chatbot = finding_message(&finding, NEW, &origin(), MessageFormat::Chatbot);
    assert!(chatbot.body.len() < SNS_MAX_BYTES);
    assert!(chatbot.body.contains("and 39990 more"));
}

#[test]
fn the_digest_has_kind_digest_and_the_worst_severity() {
    let report = demo_report();
    let lifecycle = DigestLifecycle::default();
    let context = DigestContext {
        lifecycle: &lifecycle,
        suppressions_problem: None,
    };
    let digest = digest_message(&report, context, &origin(), MessageFormat::Json);
    assert_eq!(digest.attributes["kind"], "digest");
    assert_eq!(
        digest.attributes["severity"],
        report.max_severity().map_or("NONE", |s| s.as_str())
    );
    let body: Value = serde_json::from_str(&digest.body).expect("the digest parses");
    assert_eq!(
        body["findings"].as_array().map(Vec::len),
        Some(report.findings.len())
    );
}

fn record(status: Status) -> FindingState {
    FindingState {
        cluster: "shop".to_owned(),
        finding_id: "pr-0123456789abcdef".to_owned(),
        status,
        title: "Secondary-ENI pods cannot reach 10.1.0.0/16".to_owned(),
        first_seen: 1_800_000_000,
        last_seen: 1_800_086_400,
        last_published: Some(1_800_000_000),
        published: Some(Published {
            severity: Severity::High,
            kind: "unreachable".to_owned(),
            nodes: 2,
            pod_addresses: 10,
            destinations: vec!["10.1.0.0/16".to_owned()],
        }),
        suppressed_because: None,
        resolved_at: (status == Status::Resolved).then_some(1_800_090_000),
        outbox: None,
    }
}

#[test]
fn a_resolution_goes_into_the_findings_thread_with_its_last_severity() {
    let record = record(Status::Resolved);
    let why = ["cluster shop was fully re-audited and the finding is gone".to_owned()];
    let resolved = Lifecycle {
        marker: Marker::Resolved,
        why: &why,
        message_id: None,
        redelivery: false,
    };
    let chatbot = resolved_message(&record, resolved, &origin(), MessageFormat::Chatbot);
    let body: Value = serde_json::from_str(&chatbot.body).expect("the Chatbot body parses");
    let o = origin();
    assert_eq!(
        body["metadata"]["threadId"],
        format!("{}-{}-{}", o.account, o.region, record.finding_id),
        "the finding's own thread"
    );
    assert!(
        body["content"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("RESOLVED")),
        "{body}"
    );
    assert!(
        body["content"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("fully re-audited") && d.contains("2027-01-15")),
        "{body}"
    );
    let json = resolved_message(&record, resolved, &origin(), MessageFormat::Json);
    assert_eq!(json.attributes["lifecycle"], "RESOLVED");
    assert_eq!(json.attributes["severity"], "HIGH");
    assert_eq!(json.attributes["kind"], "unreachable");
    assert_eq!(json.attributes["finding_id"], record.finding_id);
    let body: Value = serde_json::from_str(&json.body).expect("the JSON body parses");
    assert_eq!(body["lifecycle"], "RESOLVED");
    assert_eq!(body["resolved"]["id"], record.finding_id.as_str());
}

#[test]
fn chatbot_titles_say_new_changed_or_still_open() {
    let report = demo_report();
    let finding = &report.findings[0];
    for (marker, word) in [
        (Marker::New, "NEW"),
        (Marker::Changed, "CHANGED"),
        (Marker::Ongoing, "ONGOING"),
    ] {
        let why = ["affected nodes 1 → 4".to_owned()];
        let lifecycle = Lifecycle {
            marker,
            why: &why,
            message_id: None,
            redelivery: false,
        };
        let message = finding_message(finding, lifecycle, &origin(), MessageFormat::Chatbot);
        assert_eq!(message.attributes["lifecycle"], word);
        let body: Value = serde_json::from_str(&message.body).expect("parses");
        let title = body["content"]["title"].as_str().unwrap_or_default();
        assert!(title.contains(word), "{title}");
        let description = body["content"]["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("affected nodes 1 → 4"),
            "{description}"
        );
        assert!(message.subject.contains(word), "{}", message.subject);
    }
}

#[test]
fn the_digest_lists_what_is_new_resolved_and_oldest_and_a_refused_suppression_document() {
    let report = demo_report();
    let mut old = record(Status::Open);
    old.first_seen = 1_700_000_000;
    old.finding_id = "pr-old".to_owned();
    let state = vec![old, record(Status::Open), record(Status::Resolved)];
    let lifecycle = DigestLifecycle::of(&state, Some(1_750_000_000));
    assert_eq!(
        lifecycle.new.len(),
        1,
        "only the one first seen after the last digest"
    );
    assert_eq!(lifecycle.resolved.len(), 1);
    assert_eq!(lifecycle.oldest_open[0].finding_id, "pr-old");
    let problem =
        "suppressions parameter /podreach/suppressions: suppressions[1]: reason is required";
    let context = DigestContext {
        lifecycle: &lifecycle,
        suppressions_problem: Some(problem),
    };
    let json = digest_message(&report, context, &origin(), MessageFormat::Json);
    let body: Value = serde_json::from_str(&json.body).expect("parses");
    assert_eq!(body["lifecycle"]["oldest_open"][0]["id"], "pr-old");
    assert_eq!(body["lifecycle"]["open"], 2);
    assert_eq!(body["suppressions_problem"], problem);
    assert!(
        json.subject.contains("SUPPRESSIONS REFUSED"),
        "{}",
        json.subject
    );
    let chatbot = digest_message(&report, context, &origin(), MessageFormat::Chatbot);
    let body: Value = serde_json::from_str(&chatbot.body).expect("parses");
    let description = body["content"]["description"].as_str().unwrap_or_default();
    assert!(description.contains("*Oldest open:*"), "{description}");
    assert!(description.contains("reason is required"), "{description}");
}

fn config(pairs: &[(&str, &str)]) -> Result<FunctionConfig, String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    FunctionConfig::from_lookup(|name| map.get(name).cloned()).map_err(|e| e.to_string())
}

#[test]
fn configuration_errors_name_the_variable() {
    assert!(config(&[]).expect_err("no topic").contains("TOPIC_ARN"));
    assert!(
        config(&[("DRY_RUN", "true")]).is_ok(),
        "a dry run needs no topic"
    );
    let topic = ("TOPIC_ARN", "arn:aws:sns:eu-west-1:111122223333:podreach");
    assert!(
        config(&[topic, ("MESSAGE_FORMAT", "xml")])
            .expect_err("bad format")
            .contains("MESSAGE_FORMAT")
    );
    assert!(
        config(&[topic, ("MIN_SEVERITY", "urgent")])
            .expect_err("bad severity")
            .contains("MIN_SEVERITY")
    );
    assert!(
        config(&[topic, ("DRY_RUN", "maybe")])
            .expect_err("bad flag")
            .contains("DRY_RUN")
    );
    assert!(
        config(&[topic, ("MAX_CONCURRENCY", "0")])
            .expect_err("zero")
            .contains("MAX_CONCURRENCY")
    );
    assert!(
        config(&[topic, ("RENOTIFY_HOURS", "daily")])
            .expect_err("not hours")
            .contains("RENOTIFY_HOURS")
    );
    let udp = config(&[topic, ("TCP_PORTS", "tcp/5432,udp/53")]).expect_err("not TCP");
    assert!(udp.contains("TCP_PORTS") && udp.contains("udp"), "{udp}");
    let ports = config(&[topic, ("TCP_PORTS", "tcp/5432, 443")]).expect("two TCP ports");
    assert_eq!(ports.tcp_ports, [5432, 443]);
    assert!(
        config(&[topic]).expect("defaults").tcp_ports.is_empty(),
        "any port by default"
    );
    let never = config(&[topic, ("RENOTIFY_HOURS", "0")]).expect("0 is never");
    assert_eq!(never.renotify_after, None);
    assert_eq!(
        config(&[topic]).expect("defaults").renotify_after,
        Some(24 * 3600),
        "daily by default"
    );
    let ok = FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some(topic.1.to_owned()),
        "MESSAGE_FORMAT" => Some("chatbot".to_owned()),
        "MIN_SEVERITY" => Some("high".to_owned()),
        "CLUSTERS" => Some("shop, legacy".to_owned()),
        _ => None,
    })
    .expect("a valid configuration");
    assert_eq!(ok.format, MessageFormat::Chatbot);
    assert_eq!(ok.min_severity, Severity::High);
    assert_eq!(ok.clusters, ["shop", "legacy"]);
}

#[test]
fn the_member_role_is_a_role_name_and_its_external_id_needs_it() {
    let topic = ("TOPIC_ARN", "arn:aws:sns:eu-west-1:111122223333:podreach");
    let none = config(&[topic]).expect("no role is fine");
    assert_eq!(none.member_role, None);
    let role = config(&[
        topic,
        ("MEMBER_ROLE_NAME", "podreach-read-only"),
        ("MEMBER_EXTERNAL_ID", "c0ffee"),
    ])
    .expect("a role name and its external id");
    assert_eq!(
        role.member_role,
        Some(podreach_aws::MemberRole {
            name: "podreach-read-only".to_owned(),
            external_id: Some("c0ffee".to_owned()),
        })
    );
    let arn = config(&[
        topic,
        (
            "MEMBER_ROLE_NAME",
            "arn:aws:iam::222233334444:role/podreach-read-only",
        ),
    ])
    .expect_err("an ARN is not a name");
    assert!(arn.contains("MEMBER_ROLE_NAME"), "{arn}");
    let orphan = config(&[topic, ("MEMBER_EXTERNAL_ID", "c0ffee")])
        .expect_err("an external id without a role");
    assert!(orphan.contains("MEMBER_EXTERNAL_ID"), "{orphan}");
}

#[test]
fn regions_are_region_names_each_once_in_the_functions_partition() {
    let topic = ("TOPIC_ARN", "arn:aws:sns:eu-west-1:111122223333:podreach");
    assert!(
        config(&[topic])
            .expect("none: the function's own")
            .regions
            .is_empty()
    );
    let some = config(&[
        topic,
        ("AWS_REGION", "eu-west-1"),
        ("REGIONS", " eu-west-1, us-gov-west-1x ,"),
    ]);
    assert!(
        some.as_ref()
            .is_err_and(|e| e.contains("`us-gov-west-1x` is not a Region name")),
        "{some:?}"
    );
    let ok = config(&[
        topic,
        ("AWS_REGION", "eu-west-1"),
        (
            "REGIONS",
            "eu-west-1, ap-southeast-2,eu-west-1, il-central-1",
        ),
    ])
    .expect("Region names");
    assert_eq!(ok.regions, ["eu-west-1", "ap-southeast-2", "il-central-1"]);
    let china = config(&[
        topic,
        ("AWS_REGION", "eu-west-1"),
        ("REGIONS", "eu-west-1,cn-north-1"),
    ])
    .expect_err("another partition");
    assert!(
        china.contains("partition aws-cn, the function in aws"),
        "{china}"
    );
    for bad in ["EU-WEST-1", "euwest1", "eu-west", "arn:aws:ec2:eu-west-1"] {
        let error = config(&[topic, ("REGIONS", bad)]).expect_err(bad);
        assert!(
            error.starts_with("environment variable REGIONS: "),
            "{error}"
        );
    }
}

#[test]
fn a_message_sent_again_carries_the_same_dedupe_id_in_attributes_and_body() {
    let report = demo_report();
    let finding = &report.findings[0];
    let id = format!("shop/{}/NEW/1800000000", finding.id);
    for redelivery in [false, true] {
        let lifecycle = Lifecycle {
            marker: Marker::New,
            why: &[],
            message_id: Some(&id),
            redelivery,
        };
        let json = finding_message(finding, lifecycle, &origin(), MessageFormat::Json);
        assert_eq!(
            json.attributes["dedupe"], id,
            "a subscription can filter on it"
        );
        assert!(json.attributes.len() <= 10, "SNS allows ten attributes");
        let body: Value = serde_json::from_str(&json.body).expect("parses");
        assert_eq!(body["message_id"], id.as_str());
        assert_eq!(body["redelivery"], redelivery);
        let chatbot = finding_message(finding, lifecycle, &origin(), MessageFormat::Chatbot);
        let body: Value = serde_json::from_str(&chatbot.body).expect("parses");
        assert_eq!(
            body["id"],
            id.as_str(),
            "the notification's id is the message id"
        );
        let context = &body["metadata"]["additionalContext"];
        assert_eq!(context["message_id"], id.as_str());
        assert_eq!(
            context["redelivery"],
            redelivery.to_string(),
            "strings only"
        );
        let resolved = resolved_message(
            &record(Status::Resolved),
            Lifecycle {
                marker: Marker::Resolved,
                ..lifecycle
            },
            &origin(),
            MessageFormat::Json,
        );
        assert_eq!(resolved.attributes["dedupe"], id);
    }
}

/// The demo's report grown to 2,000 findings in 400 clusters of long names, each finding with 60
/// destinations, 40,000 pod names between them, and as many new and resolved states.
fn huge_report() -> (Report, DigestLifecycle) {
    let demo = demo_report();
    let mut report = demo.clone();
    report.findings.clear();
    let long =
        "a-cluster-name-as-long-as-the-ones-platform-teams-generate-from-their-naming-conventions";
    report.clusters = (0..400)
        .map(|c| {
            let mut cluster = demo.clusters[c % demo.clusters.len()].clone();
            cluster.name = format!("{long}-{c:03}");
            cluster
        })
        .collect();
    for i in 0..2_000 {
        let mut f = demo.findings[i % demo.findings.len()].clone();
        f.cluster = format!("{long}-{:03}", i % 400);
        f.id = format!("PR-{i:016x}");
        f.title = format!("{} — {}", f.title, "x".repeat(120));
        f.destinations = (0..60)
            .map(|d| format!("10.{}.{d}.0/24", i % 250))
            .collect();
        f.affected.pods = (0..20)
            .map(|p| format!("payments/checkout-{i}-{p}-7d9f8c6b5d-x2x9z"))
            .collect();
        report.findings.push(f);
    }
    let state = |i: usize, status: Status| FindingState {
        cluster: format!("{long}-{:03}", i % 400),
        finding_id: format!("PR-{i:016x}"),
        status,
        title: format!("finding {i} {}", "y".repeat(150)),
        first_seen: 1_800_000_000 + i as i64,
        last_seen: 1_800_000_000 + i as i64,
        last_published: None,
        published: None,
        suppressed_because: None,
        resolved_at: (status == Status::Resolved).then_some(1_800_100_000),
        outbox: None,
    };
    let lifecycle = DigestLifecycle {
        since: Some(1_799_000_000),
        new: (0..2_000).map(|i| state(i, Status::Open)).collect(),
        resolved: (0..2_000).map(|i| state(i, Status::Resolved)).collect(),
        oldest_open: (0..5).map(|i| state(i, Status::Open)).collect(),
        open: 2_000,
        suppressed: 0,
    };
    (report, lifecycle)
}

#[test]
fn at_two_thousand_findings_every_message_fits_sns_and_says_what_it_left_out() {
    let (report, lifecycle) = huge_report();
    let context = DigestContext {
        lifecycle: &lifecycle,
        suppressions_problem: None,
    };
    // The JSON digest: within SNS's limit, the counts whole, each cut list counted.
    let json = digest_message(&report, context, &origin(), MessageFormat::Json);
    assert!(json.bytes() <= SNS_MAX_BYTES, "{} bytes", json.bytes());
    assert!(json.attributes["cluster"].len() <= 1024);
    assert!(
        json.attributes["cluster"].ends_with("more"),
        "{}",
        json.attributes["cluster"]
    );
    let body: Value = serde_json::from_str(&json.body).expect("parses");
    let by_severity: u64 = body["by_severity"]
        .as_object()
        .expect("counts")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(by_severity, 2_000, "the counts are whole");
    assert_eq!(body["lifecycle"]["open"], 2_000);
    let listed = |path: &str| {
        body.pointer(path)
            .and_then(Value::as_array)
            .map_or(0, Vec::len) as u64
    };
    let omitted = |key: &str| body["omitted"][key].as_u64().unwrap_or(0);
    assert!(omitted("findings") > 0, "{}", body["omitted"]);
    assert_eq!(listed("/findings") + omitted("findings"), 2_000);
    assert_eq!(
        listed("/lifecycle/new") + omitted("lifecycle.new"),
        2_000,
        "{}",
        body["omitted"]
    );
    assert!(
        body["omitted_hint"]
            .as_str()
            .is_some_and(|h| h.contains("podreach audit --live --region eu-west-1")),
        "{body:.300}"
    );
    // The Chatbot digest: within its description limit, whole lines, the rest counted.
    let chatbot = digest_message(&report, context, &origin(), MessageFormat::Chatbot);
    assert!(chatbot.bytes() <= SNS_MAX_BYTES);
    let body: Value = serde_json::from_str(&chatbot.body).expect("parses");
    let description = body["content"]["description"]
        .as_str()
        .expect("a description");
    assert!(description.len() <= 8_000, "{}", description.len());
    assert!(
        description.contains("more line(s): the full report"),
        "{description:.400}"
    );
    // One finding with 20,000 destinations and 30,000 ENIs: both formats fit.
    let mut finding = report.findings[0].clone();
    finding.destinations = (0..20_000)
        .map(|d| format!("10.{}.{}.0/24", d / 256, d % 256))
        .collect();
    finding.affected.enis = (0..30_000).map(|e| format!("eni-{e:017x}")).collect();
    for format in [MessageFormat::Json, MessageFormat::Chatbot] {
        let message = finding_message(&finding, NEW, &origin(), format);
        assert!(
            message.bytes() <= SNS_MAX_BYTES,
            "{format:?}: {}",
            message.bytes()
        );
        let body: Value = serde_json::from_str(&message.body).expect("parses");
        if format == MessageFormat::Json {
            let kept = body["finding"]["destinations"]
                .as_array()
                .map_or(0, Vec::len) as u64;
            let cut = body["omitted"]["finding.destinations"]
                .as_u64()
                .unwrap_or(0);
            assert_eq!(kept + cut, 20_000, "{}", body["omitted"]);
        }
    }
}
