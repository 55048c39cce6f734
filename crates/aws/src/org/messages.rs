//! The organization's own messages, on the same topic and in the same two formats as the
//! findings' ([`crate::publish`]): an `ACCOUNT_UNREACHABLE` announcement when a target cannot be
//! audited (NEW once, CHANGED when its reason changes, RESOLVED when it is audited again), and
//! one digest per run for the whole organization.
//!
//! Both carry the account id and its alias (the body, and attributes for the subscription
//! filters), so a Slack channel of hundreds of accounts can be read, and filtered, by account.
//! The digest's text is the core's ([`podreach_core::org::digest_lines`]): what must not be
//! missed first, cut to SNS's and Chatbot's limits from the end, the cut counted.

use std::collections::BTreeMap;

use podreach_core::lifecycle::{Marker, utc};
use podreach_core::org::{ACCOUNT_UNREACHABLE, RunTarget, TargetChange, run_coverage};
use podreach_core::report::clip;
use serde_json::json;

use crate::publish::{Message, MessageFormat, Origin, emoji, subject, thread_id};
use crate::runs::RunMeta;

/// What a blind target is announced as: paths nobody verifies are a risk of their own.
const SEVERITY: &str = "HIGH";
/// Room for a digest body (SNS's 256 KiB, less the attributes and framing).
const DIGEST_BUDGET: usize = crate::publish::SNS_MAX_BYTES - 8 * 1024;
/// Chatbot shows this much of a description.
const CHATBOT_DESCRIPTION_MAX: usize = 8_000;

/// An `ACCOUNT_UNREACHABLE` change of `change.target`, whose account is named `alias`.
pub fn unreachable_message(
    change: &TargetChange,
    alias: Option<&str>,
    format: MessageFormat,
) -> Message {
    let target = &change.target;
    let origin = Origin {
        account: target.account.clone(),
        region: target.region.clone(),
        alias: None,
    };
    let finding_id = change.finding_id();
    let marker = change.marker.as_str();
    let title = change.title();
    let mut attributes = BTreeMap::from([
        ("severity", SEVERITY.to_owned()),
        ("kind", "account-unreachable".to_owned()),
        ("cluster", "none".to_owned()),
        ("account", target.account.clone()),
        ("region", target.region.clone()),
        ("finding_id", finding_id.clone()),
        ("lifecycle", marker.to_owned()),
        ("cause", ACCOUNT_UNREACHABLE.to_owned()),
    ]);
    if let Some(alias) = alias {
        attributes.insert("alias", alias.to_owned());
    }
    let body = match format {
        MessageFormat::Json => json!({
            "schema": "podreach/account-unreachable/v1",
            "id": finding_id,
            "code": ACCOUNT_UNREACHABLE,
            "lifecycle": marker,
            "severity": SEVERITY,
            "account": target.account,
            "alias": alias,
            "region": target.region,
            "title": title,
            "reason": change.blocker.kind(),
            "blocker": change.blocker,
            "error": change.error,
            "remedy": change.remedy,
            "since": change.since,
            "why": change.why,
        }),
        MessageFormat::Chatbot => {
            let mut description = format!(
                "*{marker}* · account `{}`{} · {} · since {}\n",
                target.account,
                alias.map(|a| format!(" ({a})")).unwrap_or_default(),
                target.region,
                utc(change.since)
            );
            if let Some(error) = &change.error {
                description.push_str(&format!("*Error:* {error}\n"));
            }
            if let Some(why) = change.why {
                description.push_str(&format!("*Why resolved:* {why}\n"));
            }
            json!({
                "version": "1.0",
                "source": "custom",
                "id": finding_id,
                "content": {
                    "textType": "client-markdown",
                    "title": clip(&format!("{} {marker} — {title}", emoji(change.marker)), 250),
                    "description": clip(&description, CHATBOT_DESCRIPTION_MAX),
                    "nextSteps": change.remedy.iter().map(|r| clip(r, 500)).collect::<Vec<_>>(),
                    "keywords": [SEVERITY, ACCOUNT_UNREACHABLE, target.account.as_str(), target.region.as_str()],
                },
                "metadata": {
                    "threadId": thread_id(&origin, &finding_id),
                    "summary": clip(&title, 250),
                    "eventType": if change.marker == Marker::Resolved { "podreach-account-reachable" } else { "podreach-account-unreachable" },
                    "additionalContext": {
                        "account": target.account,
                        "alias": alias.unwrap_or_default(),
                        "region": target.region,
                        "reason": change.blocker.kind(),
                    },
                },
            })
        }
    };
    Message {
        subject: subject(&format!("podreach {marker}: {title}")),
        body: body.to_string(),
        attributes,
    }
}

/// The organization's digest of `run`: its coverage headline first, then the lines of
/// [`podreach_core::org::digest_lines`] as far as they fit. `hub` is where the hub runs.
pub fn organization_digest(
    run: &RunMeta,
    targets: &[RunTarget],
    hub: &Origin,
    format: MessageFormat,
) -> Message {
    let coverage = run_coverage(targets);
    let lines = podreach_core::org::digest_lines(targets);
    let hint = "the rest: the state table's run records, or `podreach org audit`";
    let accounts: std::collections::BTreeSet<&str> =
        targets.iter().map(|t| t.target.account.as_str()).collect();
    let title = format!(
        "podreach organization digest: {} ({} account(s))",
        coverage.headline(),
        accounts.len()
    );
    let attributes = BTreeMap::from([
        (
            "severity",
            if coverage.complete() {
                "INFO"
            } else {
                SEVERITY
            }
            .to_owned(),
        ),
        ("kind", "organization-digest".to_owned()),
        ("cluster", "none".to_owned()),
        ("account", hub.account.clone()),
        ("region", hub.region.clone()),
        ("finding_id", format!("digest/{}", run.run)),
    ]);
    let body = match format {
        MessageFormat::Json => {
            let mut body = json!({
                "schema": "podreach/organization-digest/v1",
                "run": run.run,
                "started": run.started,
                "planned": coverage.planned,
                "audited": coverage.audited,
                "complete": coverage.complete(),
                "headline": coverage.headline(),
                "targets": targets,
            });
            if body.to_string().len() > DIGEST_BUDGET {
                body = crate::fit::fit_json(body, DIGEST_BUDGET, hint);
            }
            body.to_string()
        }
        MessageFormat::Chatbot => json!({
            "version": "1.0",
            "source": "custom",
            "id": format!("digest/{}", run.run),
            "content": {
                "textType": "client-markdown",
                "title": clip(&title, 250),
                "description": crate::fit::fit_lines(&lines, CHATBOT_DESCRIPTION_MAX - 8, hint),
                "keywords": ["digest", if coverage.complete() { "COMPLETE" } else { "INCOMPLETE" }],
            },
            "metadata": {
                "threadId": format!("podreach-organization-digest-{}", run.run),
                "summary": clip(&coverage.headline(), 250),
                "eventType": "podreach-organization-digest",
                "additionalContext": {
                    "run": run.run,
                    "started": utc(run.started),
                    "planned": coverage.planned.to_string(),
                    "audited": coverage.audited.to_string(),
                },
            },
        })
        .to_string(),
    };
    Message {
        subject: subject(&title),
        body,
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podreach_core::org::{Blocker, Target, TargetResult};
    use serde_json::Value;

    fn change(marker: Marker) -> TargetChange {
        let target = Target {
            account: "222222222222".to_owned(),
            region: "eu-west-1".to_owned(),
        };
        let blocker = Blocker::RoleNotAssumable {
            role_arn: "arn:aws:iam::222222222222:role/podreach-member".to_owned(),
        };
        TargetChange {
            marker,
            remedy: (marker != Marker::Resolved).then(|| blocker.remedy(&target)),
            error: (marker != Marker::Resolved).then(|| "AccessDenied: not authorized".to_owned()),
            target,
            blocker,
            since: 1_796_000_000,
            why: (marker == Marker::Resolved).then_some("audited again"),
        }
    }

    #[test]
    fn an_unreachable_account_is_announced_with_its_id_alias_reason_and_remedy() {
        let message =
            unreachable_message(&change(Marker::New), Some("payments"), MessageFormat::Json);
        let body: Value = serde_json::from_str(&message.body).expect("JSON");
        assert_eq!(body["code"], "ACCOUNT_UNREACHABLE");
        assert_eq!(body["account"], "222222222222");
        assert_eq!(body["alias"], "payments");
        assert_eq!(body["reason"], "role-not-assumable");
        assert!(
            body["remedy"]
                .as_str()
                .expect("as set up")
                .contains("infra/member.yaml")
        );
        assert_eq!(message.attributes["alias"], "payments");
        assert_eq!(message.attributes["lifecycle"], "NEW");
        assert_eq!(message.attributes["cause"], "ACCOUNT_UNREACHABLE");
        assert!(message.attributes.len() <= 10, "SNS allows ten attributes");
        assert!(message.subject.len() <= 100);
    }

    #[test]
    fn its_resolution_goes_to_the_same_slack_thread() {
        let new = unreachable_message(&change(Marker::New), None, MessageFormat::Chatbot);
        let resolved = unreachable_message(&change(Marker::Resolved), None, MessageFormat::Chatbot);
        let thread = |m: &Message| {
            serde_json::from_str::<Value>(&m.body).expect("JSON")["metadata"]["threadId"].clone()
        };
        assert_eq!(thread(&new), thread(&resolved));
        let body: Value = serde_json::from_str(&resolved.body).expect("JSON");
        assert_eq!(body["metadata"]["eventType"], "podreach-account-reachable");
        assert!(
            body["content"]["description"]
                .as_str()
                .expect("as set up")
                .contains("audited again")
        );
    }

    #[test]
    fn a_thousand_accounts_digest_fits_and_says_first_what_was_not_audited() {
        let targets: Vec<RunTarget> = (0..4000)
            .map(|i| RunTarget {
                target: Target {
                    account: format!("{:012}", 100_000_000_000u64 + i / 4),
                    region: ["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"][(i % 4) as usize]
                        .to_owned(),
                },
                alias: Some(format!("team-{}", i / 4)),
                result: Some(if i == 17 {
                    TargetResult::Blind {
                        blocker: Blocker::RegionNotEnabled,
                        error: "OptInRequired".to_owned(),
                    }
                } else {
                    TargetResult::Audited {
                        clusters: 3,
                        findings: usize::try_from(i % 7).expect("as set up"),
                        worst: None,
                        incomplete: false,
                    }
                }),
            })
            .collect();
        let run = RunMeta {
            run: "run-1".to_owned(),
            planned: 4000,
            done: 4000,
            started: 1_796_000_000,
            digest_at: None,
        };
        let hub = Origin {
            account: "999999999999".to_owned(),
            region: "eu-west-1".to_owned(),
            alias: None,
        };
        for format in [MessageFormat::Json, MessageFormat::Chatbot] {
            let message = organization_digest(&run, &targets, &hub, format);
            assert!(
                message.bytes() <= crate::publish::SNS_MAX_BYTES,
                "{format:?}"
            );
            assert!(
                message.subject.contains("3999 of 4000"),
                "{}",
                message.subject
            );
            assert_eq!(message.attributes["severity"], "HIGH");
        }
        let chatbot = organization_digest(&run, &targets, &hub, MessageFormat::Chatbot);
        let body: Value = serde_json::from_str(&chatbot.body).expect("JSON");
        let description = body["content"]["description"].as_str().expect("a string");
        assert!(description.len() <= CHATBOT_DESCRIPTION_MAX);
        let lines: Vec<&str> = description.lines().collect();
        assert!(
            lines[1].starts_with("NOT AUDITED 100000000004 (team-4) us-east-1"),
            "{}",
            lines[1]
        );
    }
}
