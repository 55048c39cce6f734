//! An organization run on AWS's own fan-out: the scheduled audit plans the run and queues one
//! message per target (account × Region) on a FIFO queue, workers audit one target per message,
//! and the worker that reports the last target writes the organization's digest.
//!
//! What is decided here, pure, is what goes on the queue and what the digest says:
//! - [`queue`]: each target's message, its `MessageDeduplicationId` (`<run>/<account>/<region>`,
//!   so a retried send of the plan queues nothing twice) and its `MessageGroupId`
//!   (`<account>#<slot>`, slot < the per-account cap). SQS FIFO hands out at most one in-flight
//!   message per group, so at most `per_account` audits run at once in any one account, whatever
//!   the workers' total concurrency: EC2's request budget is per account and Region and shared
//!   with the VPC CNI on every node, and an audit must never be what throttles a cluster.
//! - [`digest_lines`]: the organization's digest, grouped by account, what must not be missed
//!   first (the coverage headline, then the targets not audited with their remedy, then the
//!   targets with findings); targets audited clean are counted, not listed, so the digest of a
//!   thousand accounts stays a message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Blocker, Coverage, Target};
use crate::report::Severity;

/// One target's message on the audit queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditMessage {
    /// The run it belongs to ([`run_id`]).
    pub run: String,
    pub account: String,
    pub region: String,
    /// The account's name in Organizations, for the messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl AuditMessage {
    pub fn target(&self) -> Target {
        Target {
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }
}

/// A message as it is sent: its FIFO group and deduplication id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub group: String,
    pub deduplication: String,
    pub message: AuditMessage,
}

/// The id of the run planned at `now` (Unix seconds): sortable, and a valid part of a FIFO
/// deduplication id (alphanumerics and punctuation, at most 128 characters with the target).
pub fn run_id(now: i64) -> String {
    format!("run-{now}")
}

/// The messages of a run over `targets` (in plan order), at most `per_account` audits at once in
/// any one account; `aliases` are the accounts' names where known.
pub fn queue(
    targets: &[Target],
    aliases: &BTreeMap<String, String>,
    run: &str,
    per_account: usize,
) -> Vec<Queued> {
    let per_account = per_account.max(1);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    targets
        .iter()
        .map(|target| {
            let index = seen.entry(target.account.as_str()).or_default();
            let slot = *index % per_account;
            *index += 1;
            Queued {
                group: format!("{}#{slot}", target.account),
                deduplication: format!("{run}/{}/{}", target.account, target.region),
                message: AuditMessage {
                    run: run.to_owned(),
                    account: target.account.clone(),
                    region: target.region.clone(),
                    alias: aliases.get(&target.account).cloned(),
                },
            }
        })
        .collect()
}

/// What became of one target of a run, as its worker recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum TargetResult {
    /// Audited: its clusters, its open findings and the worst of them, and whether something of
    /// it could not be analysed (a cluster not analysed, an input not read).
    Audited {
        clusters: usize,
        findings: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worst: Option<Severity>,
        incomplete: bool,
    },
    /// Not audited, and why.
    Blind { blocker: Blocker, error: String },
}

/// A target of a run, with its result once its worker reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTarget {
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TargetResult>,
}

/// The run's coverage: a target without a result is missing (its message is still queued, or
/// went to the dead-letter queue), never counted as audited.
pub fn run_coverage(targets: &[RunTarget]) -> Coverage {
    let mut coverage = Coverage {
        planned: targets.len(),
        audited: 0,
        blind: Vec::new(),
        missing: Vec::new(),
    };
    for t in targets {
        match &t.result {
            Some(TargetResult::Audited { .. }) => coverage.audited += 1,
            Some(TargetResult::Blind { blocker, .. }) => {
                coverage.blind.push((t.target.clone(), blocker.clone()));
            }
            None => coverage.missing.push(t.target.clone()),
        }
    }
    coverage
}

/// The organization digest's lines, what matters first: the headline, each target not audited
/// (with the remedy), each target with findings or not completely analysed (grouped by
/// account), then how many were audited clean.
pub fn digest_lines(targets: &[RunTarget]) -> Vec<String> {
    let coverage = run_coverage(targets);
    let mut lines = vec![coverage.headline()];
    let name = |t: &RunTarget| match &t.alias {
        Some(alias) => format!("{} ({alias})", t.target.account),
        None => t.target.account.clone(),
    };
    let mut blind = Vec::new();
    let mut attention: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut clean = 0usize;
    for t in targets {
        match &t.result {
            None => blind.push(format!(
                "NO RESULT {} {}: its audit did not report (see the audit queue's dead-letter queue)",
                name(t),
                t.target.region
            )),
            Some(TargetResult::Blind { blocker, error }) => blind.push(format!(
                "NOT AUDITED {} {} ({}): {error}. Remedy: {}",
                name(t),
                t.target.region,
                blocker.kind(),
                blocker.remedy(&t.target)
            )),
            Some(TargetResult::Audited {
                clusters,
                findings,
                worst,
                incomplete,
            }) => {
                if *findings == 0 && !incomplete {
                    clean += 1;
                    continue;
                }
                let mut line = format!(
                    "  {}: {clusters} cluster(s), {findings} open finding(s)",
                    t.target.region
                );
                if let Some(worst) = worst {
                    line.push_str(&format!(", worst {}", worst.as_str()));
                }
                if *incomplete {
                    line.push_str("; NOT COMPLETELY ANALYSED (see its findings)");
                }
                attention.entry(name(t)).or_default().push(line);
            }
        }
    }
    lines.extend(blind);
    for (account, regions) in attention {
        lines.push(account);
        lines.extend(regions);
    }
    lines.push(format!(
        "{clean} account(s) × Region(s) audited with no open finding"
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(account: &str, region: &str) -> Target {
        Target {
            account: account.to_owned(),
            region: region.to_owned(),
        }
    }

    #[test]
    fn an_accounts_targets_take_its_slots_in_turn_so_its_audits_never_exceed_the_cap() {
        let targets: Vec<Target> = ["eu-west-1", "us-east-1", "ap-south-1"]
            .iter()
            .flat_map(|r| [target("111111111111", r), target("222222222222", r)])
            .collect();
        let queued = queue(&targets, &BTreeMap::new(), "run-1", 2);
        let groups: Vec<(&str, &str)> = queued
            .iter()
            .map(|q| (q.message.account.as_str(), q.group.as_str()))
            .collect();
        assert_eq!(
            groups,
            [
                ("111111111111", "111111111111#0"),
                ("222222222222", "222222222222#0"),
                ("111111111111", "111111111111#1"),
                ("222222222222", "222222222222#1"),
                ("111111111111", "111111111111#0"),
                ("222222222222", "222222222222#0"),
            ]
        );
        // Groups of one account never exceed the cap: FIFO runs one message per group at once.
        for account in ["111111111111", "222222222222"] {
            let groups: std::collections::BTreeSet<&str> = queued
                .iter()
                .filter(|q| q.message.account == account)
                .map(|q| q.group.as_str())
                .collect();
            assert_eq!(groups.len(), 2);
        }
    }

    #[test]
    fn every_target_has_its_own_deduplication_id_within_fifos_limit() {
        let targets = [
            target("111111111111", "eu-west-1"),
            target("111111111111", "us-east-1"),
        ];
        let queued = queue(&targets, &BTreeMap::new(), &run_id(1_796_000_000), 1);
        assert_eq!(
            queued[0].deduplication,
            "run-1796000000/111111111111/eu-west-1"
        );
        assert_ne!(queued[0].deduplication, queued[1].deduplication);
        assert!(queued.iter().all(|q| q.deduplication.len() <= 128));
        assert!(queued.iter().all(|q| q.group == "111111111111#0"));
    }

    #[test]
    fn the_message_carries_the_accounts_alias_and_reads_back() {
        let aliases = BTreeMap::from([("111111111111".to_owned(), "payments-prod".to_owned())]);
        let queued = queue(&[target("111111111111", "eu-west-1")], &aliases, "run-7", 1);
        let text = serde_json::to_string(&queued[0].message).expect("a message serialises");
        let back: AuditMessage = serde_json::from_str(&text).expect("it reads back");
        assert_eq!(back, queued[0].message);
        assert_eq!(back.alias.as_deref(), Some("payments-prod"));
        assert_eq!(back.target(), target("111111111111", "eu-west-1"));
    }

    fn audited(findings: usize, worst: Option<Severity>) -> Option<TargetResult> {
        Some(TargetResult::Audited {
            clusters: 2,
            findings,
            worst,
            incomplete: false,
        })
    }

    #[test]
    fn the_digest_puts_the_blind_and_the_missing_first_and_counts_the_clean() {
        let targets = vec![
            RunTarget {
                target: target("111111111111", "eu-west-1"),
                alias: Some("payments".to_owned()),
                result: audited(3, Some(Severity::High)),
            },
            RunTarget {
                target: target("222222222222", "eu-west-1"),
                alias: None,
                result: Some(TargetResult::Blind {
                    blocker: Blocker::RoleNotAssumable {
                        role_arn: "arn:aws:iam::222222222222:role/podreach-member".to_owned(),
                    },
                    error: "AccessDenied".to_owned(),
                }),
            },
            RunTarget {
                target: target("333333333333", "eu-west-1"),
                alias: None,
                result: audited(0, None),
            },
            RunTarget {
                target: target("444444444444", "eu-west-1"),
                alias: None,
                result: None,
            },
        ];
        let lines = digest_lines(&targets);
        assert_eq!(
            lines[0],
            "2 of 4 accounts × Regions audited; 2 not: 222222222222/eu-west-1 (role-not-assumable), 444444444444/eu-west-1 (no result)"
        );
        assert!(lines[1].starts_with("NOT AUDITED 222222222222 eu-west-1 (role-not-assumable)"));
        assert!(lines[1].contains("create arn:aws:iam::222222222222:role/podreach-member"));
        assert!(lines[2].starts_with("NO RESULT 444444444444 eu-west-1"));
        assert_eq!(lines[3], "111111111111 (payments)");
        assert_eq!(
            lines[4],
            "  eu-west-1: 2 cluster(s), 3 open finding(s), worst HIGH"
        );
        assert_eq!(
            lines[5],
            "1 account(s) × Region(s) audited with no open finding"
        );
        assert!(!run_coverage(&targets).complete());
    }

    #[test]
    fn a_run_whose_every_target_reported_audited_is_complete() {
        let targets: Vec<RunTarget> = ["eu-west-1", "us-east-1"]
            .iter()
            .map(|r| RunTarget {
                target: target("111111111111", r),
                alias: None,
                result: audited(0, None),
            })
            .collect();
        let coverage = run_coverage(&targets);
        assert!(coverage.complete());
        assert_eq!(coverage.headline(), "2 of 2 accounts × Regions audited");
    }

    #[test]
    fn a_result_reads_back_as_it_was_recorded() {
        let result = TargetResult::Blind {
            blocker: Blocker::Throttled {
                action: "ec2:DescribeNetworkInterfaces".to_owned(),
            },
            error: "Rate exceeded".to_owned(),
        };
        let text = serde_json::to_string(&result).expect("a result serialises");
        assert!(text.contains("\"status\":\"blind\""), "{text}");
        assert_eq!(
            serde_json::from_str::<TargetResult>(&text).expect("it reads back"),
            result
        );
    }
}
