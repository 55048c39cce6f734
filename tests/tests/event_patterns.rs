//! Every sample in `events/` is matched by exactly the EventBridge rule meant for it, and a failed
//! API call by none; the samples are shaped as EventBridge delivers them to Lambda, and the rules
//! and the samples cover each other (no event name in a rule without a sample, no sample without
//! a rule).
//!
//! Matching runs through moto's EventBridge, but not through its `TestEventPattern` API: moto
//! 5.2.5 does not implement it (the handler returns an empty 200, which the SDK reads as "does not
//! match"). Instead every pattern rule of `infra/template.yaml` is created on one event bus with an
//! SQS queue as its target, each sample is sent with `PutEvents`, and the queues tell which rules
//! matched which event. moto then applies its own pattern matcher, which supports everything the
//! patterns use (plain values, `prefix`, `exists`). `PutEvents` rebuilds the envelope from
//! `Source`, `DetailType`, `Detail` and `Resources`, so the test first checks that the patterns
//! look at nothing else. All rules share the default bus here (in the stack `PodScaling` listens on
//! the `EventBusName` bus), so each sample is also tried against the rules of other buses: a
//! stricter check than the deployment needs. The `Schedule` rule has no pattern (moto would match
//! every event against an empty one); `events/scheduled.json` must match no pattern rule.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, RuleState, Target};
use podreach_tests::fail;
use podreach_tests::infra::{load_template, resources};
use podreach_tests::lambda::{create_queue, sample_names, sample_text};
use podreach_tests::moto::Moto;
use serde_json::{Value, json};

/// Which rule a sample is for, by file-name prefix (first match wins).
const RULE_BY_PREFIX: [(&str, &str); 6] = [
    ("ec2-instance-state-", "InstanceStateChanges"),
    ("ec2-", "Ec2NetworkChanges"),
    ("eks-", "EksChanges"),
    ("autoscaling-", "AutoScalingLaunches"),
    ("k8s-", "PodScaling"),
    ("scheduled", "Schedule"),
];

/// A denied CloudTrail call: matches no rule.
const FAILED_CALL: &str = "invalid/ec2-attach-network-interface-failed.json";

/// The imaginary account and region of every sample.
const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

const ENVELOPE: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

const CLOUDTRAIL: &str = "AWS API Call via CloudTrail";

#[tokio::test]
async fn each_sample_matches_exactly_its_rule_and_a_failed_call_none() {
    let rules = pattern_rules();
    for (rule, pattern) in &rules {
        let keys: BTreeSet<&str> = pattern
            .as_object()
            .unwrap_or_else(|| fail(&format!("{rule}'s EventPattern is not a mapping")))
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.is_subset(&BTreeSet::from([
                "source",
                "detail-type",
                "detail",
                "resources"
            ])),
            "{rule} matches on {keys:?}: PutEvents cannot reproduce envelope fields other than \
             source, detail-type, detail and resources, so this test would not check them"
        );
    }

    let account = Moto::shared().account_in(REGION).await;
    let events = aws_sdk_eventbridge::Client::new(&account.config);
    let sqs = aws_sdk_sqs::Client::new(&account.config);

    let mut queues = Vec::new();
    for (rule, pattern) in &rules {
        let (url, arn) = create_queue(&sqs, &format!("matched-by-{rule}")).await;
        events
            .put_rule()
            .name(rule)
            .event_pattern(pattern.to_string())
            .state(RuleState::Enabled)
            .send()
            .await
            .unwrap_or_else(|e| fail(&format!("moto rejects {rule}'s EventPattern: {e:?}")));
        let targets = events
            .put_targets()
            .rule(rule)
            .targets(
                Target::builder()
                    .id("matched")
                    .arn(arn)
                    .build()
                    .expect("a target with id and ARN"),
            )
            .send()
            .await
            .expect("moto EventBridge PutTargets");
        assert_eq!(targets.failed_entry_count(), 0, "{rule}'s target");
        queues.push((rule.clone(), url));
    }

    let mut samples = sample_names();
    samples.push(FAILED_CALL.to_owned());
    let mut sample_of_event = BTreeMap::new();
    for sample in &samples {
        let event = read_event(sample);
        let resources = event["resources"]
            .as_array()
            .expect("resources is a list")
            .iter()
            .map(|r| r.as_str().expect("a resource is a string").to_owned())
            .collect();
        let entry = PutEventsRequestEntry::builder()
            .source(text(&event, "source"))
            .detail_type(text(&event, "detail-type"))
            .detail(event["detail"].to_string())
            .set_resources(Some(resources))
            .build();
        let put = events
            .put_events()
            .entries(entry)
            .send()
            .await
            .expect("moto EventBridge PutEvents");
        assert_eq!(put.failed_entry_count(), 0, "PutEvents of {sample}");
        let id = put
            .entries()
            .first()
            .and_then(|entry| entry.event_id())
            .expect("PutEvents returns the event id")
            .to_owned();
        sample_of_event.insert(id, sample.clone());
    }

    let mut matched: BTreeMap<&str, BTreeSet<&str>> = samples
        .iter()
        .map(|sample| (sample.as_str(), BTreeSet::new()))
        .collect();
    for (rule, url) in &queues {
        loop {
            let received = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("moto SQS ReceiveMessage");
            if received.messages().is_empty() {
                break;
            }
            for message in received.messages() {
                let body: Value = serde_json::from_str(message.body().unwrap_or_default())
                    .expect("EventBridge delivers the event as JSON");
                let sample = body["id"]
                    .as_str()
                    .and_then(|id| sample_of_event.get(id))
                    .unwrap_or_else(|| fail(&format!("{rule} delivered an unknown event: {body}")));
                matched
                    .get_mut(sample.as_str())
                    .expect("every sample has an entry")
                    .insert(rule.as_str());
            }
        }
    }

    let pattern_rule_names: BTreeSet<&str> = rules.iter().map(|(rule, _)| rule.as_str()).collect();
    let mut wrong = Vec::new();
    for (sample, rules_matched) in &matched {
        let expected: BTreeSet<&str> = if *sample == FAILED_CALL {
            BTreeSet::new()
        } else {
            // The schedule rule has no pattern: its sample must match none.
            BTreeSet::from([expected_rule(sample)])
                .intersection(&pattern_rule_names)
                .copied()
                .collect()
        };
        if *rules_matched != expected {
            wrong.push(format!(
                "  {sample}: matched {rules_matched:?}, expected {expected:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "samples matched by the wrong rules:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_sample_is_an_eventbridge_event_as_lambda_receives_it() {
    let samples = sample_names();
    assert!(samples.len() >= 28, "found the samples in events/");
    for sample in &samples {
        let event = read_event(sample);
        check_envelope(sample, &event);
        if event["detail-type"] == CLOUDTRAIL {
            check_cloudtrail(sample, &event);
            assert!(
                event["detail"].get("errorCode").is_none(),
                "{sample} is a successful call: no errorCode"
            );
            assert!(
                event["detail"]["responseElements"].is_object(),
                "{sample}: a successful call has responseElements"
            );
            let service = text(&event, "source").trim_start_matches("aws.").to_owned();
            let name = kebab_case(text(&event["detail"], "eventName"));
            let stem = sample.trim_end_matches(".json");
            let prefix = format!("{service}-{name}");
            assert!(
                stem == prefix || stem.starts_with(&format!("{prefix}-")),
                "{sample} should be named {prefix}.json (or {prefix}-<variant>.json) after its \
                 eventName"
            );
        }
    }

    let failed = read_event(FAILED_CALL);
    check_envelope(FAILED_CALL, &failed);
    check_cloudtrail(FAILED_CALL, &failed);
    assert_eq!(
        failed["detail"]["errorCode"], "Client.UnauthorizedOperation",
        "{FAILED_CALL}"
    );
    assert!(failed["detail"]["errorMessage"].is_string());
    assert!(failed["detail"]["responseElements"].is_null());
    let attach = read_event("ec2-attach-network-interface.json");
    assert_eq!(
        failed["detail"]["requestParameters"], attach["detail"]["requestParameters"],
        "the failed call is the attach sample, denied"
    );

    let not_an_event = read_event("invalid/not-an-event.json");
    assert!(
        not_an_event.is_object(),
        "not-an-event.json is a JSON object"
    );
    for field in ["version", "detail-type", "source", "detail"] {
        assert!(
            not_an_event.get(field).is_none(),
            "not-an-event.json has no envelope field {field}"
        );
    }

    let truncated = sample_text("invalid/truncated.json");
    let error = serde_json::from_str::<Value>(&truncated)
        .expect_err("events/invalid/truncated.json must not parse");
    assert!(
        error.is_eof(),
        "truncated.json is cut mid-way (valid JSON up to its end): {error}"
    );
}

#[test]
fn every_event_name_in_the_rules_has_a_sample_and_every_sample_a_rule() {
    let template = load_template();
    // Every resource, those an Fn::ForEach loop generates included (a loop is not a resource).
    let all = resources(&template);
    let samples = sample_names();

    let mut samples_of_rule: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for sample in &samples {
        samples_of_rule
            .entry(expected_rule(sample))
            .or_default()
            .push(read_event(sample));
    }
    for (_, rule) in RULE_BY_PREFIX {
        let resource = all
            .iter()
            .find(|(name, _)| *name == rule)
            .map(|(_, resource)| *resource)
            .unwrap_or_else(|| fail(&format!("infra/template.yaml has no rule {rule}")));
        assert_eq!(resource["Type"], "AWS::Events::Rule");
        assert!(
            samples_of_rule.contains_key(rule),
            "rule {rule} has no sample in events/"
        );
    }
    let rules: BTreeSet<&str> = all
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Events::Rule")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        rules,
        RULE_BY_PREFIX
            .iter()
            .map(|(_, rule)| *rule)
            .collect::<BTreeSet<_>>(),
        "every rule of the template has a file-name prefix in this test"
    );

    // The values a rule lists must each occur in one of its samples, and each sample's value
    // must be listed: event names for the CloudTrail rules, states and reasons for the others.
    for (rule, field) in [
        ("Ec2NetworkChanges", "eventName"),
        ("EksChanges", "eventName"),
        ("InstanceStateChanges", "state"),
        ("PodScaling", "reason"),
    ] {
        let listed: BTreeSet<&str> =
            template["Resources"][rule]["Properties"]["EventPattern"]["detail"][field]
                .as_array()
                .unwrap_or_else(|| fail(&format!("{rule} lists detail.{field}")))
                .iter()
                .map(|v| v.as_str().expect("a listed value is a string"))
                .collect();
        let sampled: BTreeSet<&str> = samples_of_rule[rule]
            .iter()
            .map(|event| {
                event["detail"][field]
                    .as_str()
                    .unwrap_or_else(|| fail(&format!("a {rule} sample has no detail.{field}")))
            })
            .collect();
        assert_eq!(
            listed, sampled,
            "{rule}: detail.{field} values in the rule (left) and in the samples (right)"
        );
    }
}

// --- helpers ------------------------------------------------------------------------------------

fn check_envelope(sample: &str, event: &Value) {
    let keys: BTreeSet<&str> = event
        .as_object()
        .unwrap_or_else(|| fail(&format!("{sample} is not a JSON object")))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(ENVELOPE),
        "{sample}: the EventBridge envelope, nothing else"
    );
    assert_eq!(event["version"], "0", "{sample}");
    assert!(is_uuid(text(event, "id")), "{sample}: id is a UUID");
    assert!(!text(event, "detail-type").is_empty(), "{sample}");
    assert!(!text(event, "source").is_empty(), "{sample}");
    assert_eq!(event["account"], ACCOUNT, "{sample}");
    assert!(
        is_utc_second(text(event, "time")),
        "{sample}: time is YYYY-MM-DDThh:mm:ssZ"
    );
    assert_eq!(event["region"], REGION, "{sample}");
    assert!(
        event["resources"]
            .as_array()
            .is_some_and(|r| r.iter().all(Value::is_string)),
        "{sample}: resources is a list of ARNs"
    );
    assert!(event["detail"].is_object(), "{sample}: detail is an object");
}

/// The fields of a CloudTrail management event, as EventBridge delivers it.
fn check_cloudtrail(sample: &str, event: &Value) {
    let detail = &event["detail"];
    let source = text(event, "source");
    assert!(
        source == "aws.ec2" || source == "aws.eks",
        "{sample}: CloudTrail events of EC2 or EKS"
    );
    assert_eq!(
        detail["eventSource"],
        format!("{}.amazonaws.com", source.trim_start_matches("aws.")),
        "{sample}: eventSource matches source"
    );
    assert_eq!(
        event["resources"],
        json!([]),
        "{sample}: API-call events carry no resources"
    );
    for field in [
        "eventVersion",
        "eventName",
        "sourceIPAddress",
        "userAgent",
        "requestID",
        "eventID",
    ] {
        assert!(
            detail[field].as_str().is_some_and(|v| !v.is_empty()),
            "{sample}: detail.{field}"
        );
    }
    assert!(
        detail["userIdentity"]["type"].is_string(),
        "{sample}: detail.userIdentity"
    );
    assert!(
        detail["requestParameters"].is_object(),
        "{sample}: detail.requestParameters"
    );
    assert!(
        detail.get("responseElements").is_some(),
        "{sample}: detail.responseElements (null for a failed call)"
    );
    assert_eq!(
        detail["eventTime"], event["time"],
        "{sample}: eventTime is the event's time"
    );
    assert_eq!(detail["awsRegion"], event["region"], "{sample}");
    assert_eq!(detail["recipientAccountId"], event["account"], "{sample}");
    assert_eq!(detail["readOnly"], false, "{sample}");
    assert_eq!(detail["eventType"], "AwsApiCall", "{sample}");
    assert_eq!(detail["managementEvent"], true, "{sample}");
    assert_eq!(detail["eventCategory"], "Management", "{sample}");
    assert!(is_uuid(text(detail, "eventID")), "{sample}: eventID");
}

/// The rule a sample is meant for, from its file name.
fn expected_rule(sample: &str) -> &'static str {
    RULE_BY_PREFIX
        .iter()
        .find(|(prefix, _)| sample.starts_with(prefix))
        .map(|(_, rule)| *rule)
        .unwrap_or_else(|| {
            fail(&format!(
                "events/{sample}: no rule for this file-name prefix; name samples \
                 ec2-…, eks-…, autoscaling-…, k8s-… or scheduled…"
            ))
        })
}

/// The template's rules that have an EventPattern, with the pattern.
fn pattern_rules() -> Vec<(String, Value)> {
    let template = load_template();
    let rules: Vec<(String, Value)> = resources(&template)
        .into_iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Events::Rule")
        .filter_map(|(name, resource)| {
            resource["Properties"]
                .get("EventPattern")
                .map(|pattern| (name.clone(), pattern.clone()))
        })
        .collect();
    assert_eq!(
        rules.len(),
        RULE_BY_PREFIX.len() - 1,
        "every rule but Schedule has a pattern"
    );
    rules
}

/// The sample `events/<sample>` as JSON, as it is in the repository.
fn read_event(sample: &str) -> Value {
    serde_json::from_str(&sample_text(sample))
        .unwrap_or_else(|e| fail(&format!("events/{sample} is not JSON: {e}")))
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| fail(&format!("{field} is not a string in {value:.200}")))
}

/// `AttachNetworkInterface` → `attach-network-interface`.
fn kebab_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

/// `2026-11-25T09:14:03Z`: what EventBridge puts in `time`.
fn is_utc_second(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
