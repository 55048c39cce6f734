//! Finding lifecycle: from the state kept between audits and this audit's report, which findings
//! are new, materially changed, still open, resolved or suppressed, and which of them to publish.
//!
//! A channel that repeats every open finding on every audit gets muted, and then the one new
//! finding that matters is missed. So only changes are published: **NEW** (never seen, or back
//! after it was resolved or its suppression expired), **CHANGED** (severity changed, affected
//! nodes or addresses grew from none or by [`Policy::growth_factor`], destinations added) and
//! **RESOLVED**; a repeat only moves `last_seen`, and comes back as an **ONGOING** reminder when
//! [`Policy::renotify_after`] has passed since it was last published. Resolution is earned: a
//! finding is resolved only when its cluster was fully re-audited (analysed, with no gap and no
//! "not analysed" entry) or is known to be deleted; a partial audit never resolves what it did not
//! see. Suppressions ([`crate::suppressions`]) keep a matching finding out of the messages while it
//! is recorded with the reason. This module is pure: the caller passes the stored state, the
//! time and the suppressions, and stores what comes back (a JSON file for the CLI, DynamoDB for
//! the functions), so both follow exactly these rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::report::{Finding, Report, Severity};
use crate::suppressions::Suppression;

/// Schema of a stored state document.
pub const STATE_SCHEMA: &str = "podreach/state/v1";

/// Where a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Resolved,
    Suppressed,
}

/// What was last published about a finding: enough to tell a material change from a repeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Stored as its name (`HIGH`), as the report writes it.
    pub severity: Severity,
    /// `unreachable`, `latent-risk` or `unverified`: a resolution message is filed like the
    /// finding was.
    #[serde(default)]
    pub kind: String,
    pub nodes: usize,
    pub pod_addresses: usize,
    pub destinations: Vec<String>,
}

impl Published {
    fn of(finding: &Finding) -> Self {
        Published {
            severity: finding.severity,
            kind: finding.kind.as_str().to_owned(),
            nodes: finding.affected.nodes.len(),
            pod_addresses: finding.affected.pod_address_count,
            destinations: finding.destinations.clone(),
        }
    }
}

/// One finding's record, keyed by cluster and finding id (the account and region are the store's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingState {
    pub cluster: String,
    pub finding_id: String,
    pub status: Status,
    pub title: String,
    /// Unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_published: Option<i64>,
    /// What the last message said; `None` until one was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
    /// The reason of the suppression in force, while suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_because: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    /// The announcement this record promises and nobody has yet confirmed sent (the outbox;
    /// only with [`Policy::outbox`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Outbox>,
}

/// An announcement written to the state *before* its message goes out: the outbox of an
/// at-least-once delivery. The invocation that wrote it clears it once the message is published.
/// A record still holding one after [`OUTBOX_LEASE`] belongs to an invocation that ended (timed
/// out, was killed, could not reach SNS) before it could publish, and the next audit that sees
/// the finding announces it again under the same `message_id`, so a subscriber that did get the
/// first copy recognises the second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub marker: Marker,
    /// Stable over redeliveries: `{cluster}/{finding id}/{MARKER}/{unix seconds}`.
    pub message_id: String,
    /// When the announcement was written, or last taken over by a redelivery (Unix seconds).
    pub since: i64,
}

/// How long an outbox entry belongs to the invocation that wrote it: no Lambda invocation lives
/// longer than 15 minutes (the service's maximum timeout), so an older entry is an orphan. A
/// younger one is left alone: its invocation may still be publishing it, and a racing invocation
/// announcing it too would send it twice.
pub const OUTBOX_LEASE: i64 = 15 * 60;

impl Outbox {
    fn new(cluster: &str, finding_id: &str, marker: Marker, now: i64) -> Self {
        Outbox {
            marker,
            message_id: format!("{cluster}/{finding_id}/{}/{now}", marker.as_str()),
            since: now,
        }
    }

    /// Whether the invocation that wrote this entry has certainly ended.
    pub fn orphaned(&self, now: i64) -> bool {
        now.saturating_sub(self.since) >= OUTBOX_LEASE
    }
}

/// The stored state of one account and region (the CLI's `--state` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub schema: String,
    pub findings: Vec<FindingState>,
}

impl Default for State {
    fn default() -> Self {
        State {
            schema: STATE_SCHEMA.to_owned(),
            findings: Vec::new(),
        }
    }
}

/// The lifecycle marker of a finding in this audit (the `lifecycle` message attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Marker {
    New,
    Changed,
    Ongoing,
    Resolved,
    Suppressed,
}

impl Marker {
    pub fn as_str(self) -> &'static str {
        match self {
            Marker::New => "NEW",
            Marker::Changed => "CHANGED",
            Marker::Ongoing => "ONGOING",
            Marker::Resolved => "RESOLVED",
            Marker::Suppressed => "SUPPRESSED",
        }
    }
}

/// How material a change must be, and how often an open finding is recalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Affected nodes or addresses must grow at least this many times to count as a change.
    pub growth_factor: usize,
    /// Seconds after its last message an open finding is published again as a reminder;
    /// `None`: never.
    pub renotify_after: Option<i64>,
    /// Whether this audit can tell a material change: `false` when it saw only part of a
    /// cluster (one node's event), where fewer affected nodes or a severity of the part say
    /// nothing about the finding. It then announces only what is NEW.
    pub judge_changes: bool,
    /// Whether a published change is written with its [`Outbox`] entry, to be confirmed by the
    /// publisher (the functions) and announced again if it never is. The CLI, which sends
    /// nothing, leaves it off.
    pub outbox: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            growth_factor: 2,
            renotify_after: Some(24 * 3600),
            judge_changes: true,
            outbox: false,
        }
    }
}

/// One finding's fate in this audit.
#[derive(Debug, Clone)]
pub struct Transition<'r> {
    pub marker: Marker,
    pub cluster: String,
    pub finding_id: String,
    pub title: String,
    /// The finding as this audit reports it (`None` when resolved).
    pub finding: Option<&'r Finding>,
    /// Whether a message goes out (a repeat that is not yet due for a reminder stays quiet).
    pub publish: bool,
    /// Why: what changed, which suppression, what resolved it.
    pub why: Vec<String>,
    /// The message's stable id when the change went through the outbox ([`Outbox::message_id`]).
    pub message_id: Option<String>,
    /// Whether this announces again an outbox entry an ended invocation left unconfirmed: the
    /// message may be a duplicate, recognisable by `message_id`.
    pub redelivery: bool,
}

/// The new state and every transition, in (cluster, finding id) order.
#[derive(Debug, Clone)]
pub struct Reconciled<'r> {
    pub state: State,
    pub transitions: Vec<Transition<'r>>,
}

impl Transition<'_> {
    /// The transition as the report lists it.
    pub fn entry(&self) -> crate::report::LifecycleEntry {
        crate::report::LifecycleEntry {
            lifecycle: self.marker.as_str(),
            region: None,
            cluster: self.cluster.clone(),
            finding_id: self.finding_id.clone(),
            title: self.title.clone(),
            notify: self.publish,
            why: self.why.clone(),
        }
    }
}

/// Clusters this report saw completely: analysed, with no gap and no "not analysed" entry. Only
/// their vanished findings may be resolved.
pub fn fully_audited(report: &Report) -> BTreeSet<String> {
    let partial: BTreeSet<&str> = report
        .gaps
        .iter()
        .filter_map(|g| g.cluster.as_deref())
        .chain(
            report
                .not_analysed
                .iter()
                .filter_map(|n| n.cluster.as_deref()),
        )
        // A cluster read blind (its Kubernetes API, its CNI version) was not seen whole.
        .chain(
            report
                .clusters
                .iter()
                .filter(|c| !c.blind_spots.is_empty())
                .map(|c| c.name.as_str()),
        )
        .collect();
    // A gap or a "not analysed" entry of the whole run (an unreadable file, a failed listing)
    // may concern any cluster.
    let run_is_partial = report.gaps.iter().any(|g| g.cluster.is_none())
        || report.not_analysed.iter().any(|n| n.cluster.is_none());
    if run_is_partial {
        return BTreeSet::new();
    }
    report
        .clusters
        .iter()
        .map(|c| c.name.clone())
        .filter(|name| !partial.contains(name.as_str()))
        .collect()
}

/// What changed materially since `before` was published, in words; empty for a repeat.
fn material_changes(before: &Published, now: &Published, factor: usize) -> Vec<String> {
    let mut why = Vec::new();
    if before.severity != now.severity {
        why.push(format!("severity {} → {}", before.severity, now.severity));
    }
    let grew =
        |then: usize, now: usize| (then == 0 && now > 0) || (then > 0 && now >= then * factor);
    if grew(before.nodes, now.nodes) {
        why.push(format!("affected nodes {} → {}", before.nodes, now.nodes));
    }
    if grew(before.pod_addresses, now.pod_addresses) {
        why.push(format!(
            "affected pod addresses {} → {}",
            before.pod_addresses, now.pod_addresses
        ));
    }
    let old: BTreeSet<&String> = before.destinations.iter().collect();
    let added: Vec<&str> = now
        .destinations
        .iter()
        .filter(|d| !old.contains(d))
        .map(String::as_str)
        .collect();
    if !added.is_empty() {
        why.push(format!("destinations added: {}", added.join(", ")));
    }
    why
}

/// Why a finding this audit does not report may be resolved: its cluster is known to be deleted
/// or was fully re-audited. `None`: this audit did not see the cluster completely, so its absent
/// findings stay as they are.
pub fn resolution(
    cluster: &str,
    complete: &BTreeSet<String>,
    deleted: &BTreeSet<String>,
) -> Option<String> {
    if deleted.contains(cluster) {
        Some(format!("cluster {cluster} no longer exists"))
    } else if complete.contains(cluster) {
        Some(format!(
            "cluster {cluster} was fully re-audited and the finding is gone"
        ))
    } else {
        None
    }
}

/// One finding's step: its new record (`None` when nothing changes) and its transition.
#[derive(Debug, Clone)]
pub struct Step<'r> {
    pub record: Option<FindingState>,
    pub transition: Option<Transition<'r>>,
}

/// The lifecycle rule for one finding (one cluster and finding id), from its stored record and
/// what this audit says of it: reported (`finding`), or absent with a `resolution` ([`resolution`])
/// or absent unseen. A store that finds its record changed underneath (another invocation wrote
/// it) calls this again with the fresh record, so two racing invocations publish a change once.
pub fn step<'r>(
    previous: Option<&FindingState>,
    finding: Option<&'r Finding>,
    resolution: Option<&str>,
    suppressions: &[Suppression],
    now: i64,
    policy: Policy,
) -> Step<'r> {
    match finding {
        Some(finding) => seen(previous, finding, suppressions, now, policy),
        None => match (previous, resolution) {
            (Some(state), Some(why)) if state.status != Status::Resolved => {
                gone(state, why, now, policy)
            }
            (Some(state), _) if state.status == Status::Resolved => resend_resolved(state, now),
            _ => Step {
                record: None,
                transition: None,
            },
        },
    }
}

/// A finding this audit reports.
fn seen<'r>(
    previous: Option<&FindingState>,
    finding: &'r Finding,
    suppressions: &[Suppression],
    now: i64,
    policy: Policy,
) -> Step<'r> {
    let published_now = Published::of(finding);
    let suppression = suppressions
        .iter()
        .find(|s| s.matches(finding) && !s.expired(now));
    let mut state = previous.cloned().unwrap_or_else(|| FindingState {
        cluster: finding.cluster.clone(),
        finding_id: finding.id.clone(),
        status: Status::Resolved,
        title: finding.title.clone(),
        first_seen: now,
        last_seen: now,
        last_published: None,
        published: None,
        suppressed_because: None,
        resolved_at: None,
        outbox: None,
    });
    let was = state.status;
    let seen_before = state.resolved_at.is_some() || state.published.is_some();
    state.last_seen = now;
    state.title = finding.title.clone();
    state.resolved_at = None;
    let transition = |marker: Marker, publish: bool, why: Vec<String>| Transition {
        marker,
        cluster: finding.cluster.clone(),
        finding_id: finding.id.clone(),
        title: finding.title.clone(),
        finding: Some(finding),
        publish,
        why,
        message_id: None,
        redelivery: false,
    };
    // An announcement no invocation confirmed: the subscribers may never have heard of it.
    let unconfirmed = state.outbox.take();
    if let Some(s) = suppression {
        state.status = Status::Suppressed;
        state.suppressed_because = Some(s.reason.clone());
        return Step {
            record: Some(state),
            transition: Some(transition(
                Marker::Suppressed,
                false,
                vec![format!("suppressed: {}", s.reason)],
            )),
        };
    }
    state.suppressed_because = None;
    let (marker, why) = match (was, &state.published) {
        (Status::Open, Some(before)) => {
            let why = if policy.judge_changes {
                material_changes(before, &published_now, policy.growth_factor)
            } else {
                Vec::new()
            };
            if why.is_empty() {
                let due = policy.renotify_after.is_some_and(|interval| {
                    state
                        .last_published
                        .is_none_or(|last| now.saturating_sub(last) >= interval)
                });
                if !due {
                    state.status = Status::Open;
                    return match unconfirmed {
                        // Its invocation ended before publishing: announce it again, same id,
                        // and take the entry over (a racing invocation then sees it young).
                        Some(mut outbox) if outbox.orphaned(now) => {
                            let written = std::mem::replace(&mut outbox.since, now);
                            let mut t = transition(
                                outbox.marker,
                                true,
                                vec![format!(
                                    "announced again: the invocation that wrote it at {} never confirmed it sent",
                                    utc(written)
                                )],
                            );
                            t.message_id = Some(outbox.message_id.clone());
                            t.redelivery = true;
                            state.outbox = Some(outbox);
                            Step {
                                record: Some(state),
                                transition: Some(t),
                            }
                        }
                        // Still its writer's to publish, or nothing pending.
                        pending => {
                            state.outbox = pending;
                            Step {
                                record: Some(state),
                                transition: Some(transition(Marker::Ongoing, false, Vec::new())),
                            }
                        }
                    };
                }
                (Marker::Ongoing, vec!["still open (reminder)".to_owned()])
            } else {
                (Marker::Changed, why)
            }
        }
        (Status::Suppressed, _) => (
            Marker::New,
            vec!["its suppression expired or was removed".to_owned()],
        ),
        (Status::Resolved, _) if seen_before => {
            (Marker::New, vec!["back after it was resolved".to_owned()])
        }
        _ => (Marker::New, Vec::new()),
    };
    // A change of a finding whose NEW never went out is still news: it is announced as NEW.
    let marker = match &unconfirmed {
        Some(outbox) if outbox.marker == Marker::New => Marker::New,
        _ => marker,
    };
    state.status = Status::Open;
    state.last_published = Some(now);
    state.published = Some(published_now);
    let mut t = transition(marker, true, why);
    if policy.outbox {
        let outbox = Outbox::new(&finding.cluster, &finding.id, marker, now);
        t.message_id = Some(outbox.message_id.clone());
        state.outbox = Some(outbox);
    }
    Step {
        record: Some(state),
        transition: Some(t),
    }
}

/// A resolved record whose RESOLVED announcement was orphaned: announced again, same id.
fn resend_resolved<'r>(previous: &FindingState, now: i64) -> Step<'r> {
    match &previous.outbox {
        Some(outbox) if outbox.marker == Marker::Resolved && outbox.orphaned(now) => {
            let mut state = previous.clone();
            state.outbox = Some(Outbox {
                since: now,
                ..outbox.clone()
            });
            let why = format!(
                "announced again: the invocation that resolved it at {} never confirmed it sent",
                utc(outbox.since)
            );
            resolved(state, true, why, true)
        }
        _ => Step {
            record: None,
            transition: None,
        },
    }
}

/// An open or suppressed finding that this audit shows to be gone.
fn gone<'r>(previous: &FindingState, why: &str, now: i64, policy: Policy) -> Step<'r> {
    let mut state = previous.clone();
    let publish = state.status == Status::Open;
    state.status = Status::Resolved;
    state.resolved_at = Some(now);
    state.suppressed_because = None;
    state.outbox = None;
    if publish {
        state.last_published = Some(now);
        if policy.outbox {
            state.outbox = Some(Outbox::new(
                &state.cluster,
                &state.finding_id,
                Marker::Resolved,
                now,
            ));
        }
    }
    resolved(state, publish, why.to_owned(), false)
}

/// The RESOLVED step of `state` (already resolved), under its outbox entry's id if any.
fn resolved<'r>(state: FindingState, publish: bool, why: String, redelivery: bool) -> Step<'r> {
    Step {
        transition: Some(Transition {
            marker: Marker::Resolved,
            cluster: state.cluster.clone(),
            finding_id: state.finding_id.clone(),
            title: state.title.clone(),
            finding: None,
            publish,
            why: vec![why],
            message_id: state.outbox.as_ref().map(|o| o.message_id.clone()),
            redelivery,
        }),
        record: Some(state),
    }
}

/// A finding's key in the state: its cluster and its id.
pub type Key = (String, String);

/// This audit's findings by key: with the stored records' keys, every finding to [`step`].
pub fn by_key(report: &Report) -> BTreeMap<Key, &Finding> {
    report
        .findings
        .iter()
        .map(|f| ((f.cluster.clone(), f.id.clone()), f))
        .collect()
}

/// Reconciles the stored state with this audit: [`step`] for every finding of either.
///
/// `complete` are the clusters whose findings this audit saw completely ([`fully_audited`]);
/// `deleted` the clusters known to be gone (a full listing of the region no longer has them).
/// Findings of other clusters that this audit does not report are left as they were.
pub fn reconcile<'r>(
    previous: State,
    report: &'r Report,
    complete: &BTreeSet<String>,
    deleted: &BTreeSet<String>,
    suppressions: &[Suppression],
    now: i64,
    policy: Policy,
) -> Reconciled<'r> {
    let mut states: BTreeMap<(String, String), FindingState> = previous
        .findings
        .into_iter()
        .map(|s| ((s.cluster.clone(), s.finding_id.clone()), s))
        .collect();
    let reported = by_key(report);
    let keys: BTreeSet<Key> = states.keys().chain(reported.keys()).cloned().collect();
    let mut transitions = Vec::new();
    for key in keys {
        let why = resolution(&key.0, complete, deleted);
        let step = step(
            states.get(&key),
            reported.get(&key).copied(),
            why.as_deref(),
            suppressions,
            now,
            policy,
        );
        if let Some(record) = step.record {
            states.insert(key, record);
        }
        transitions.extend(step.transition);
    }
    Reconciled {
        state: State {
            schema: STATE_SCHEMA.to_owned(),
            findings: states.into_values().collect(),
        },
        transitions,
    }
}

/// A stored time (Unix seconds) as people read it: `2026-11-28 09:48 UTC`.
pub fn utc(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| format!("{seconds} (Unix seconds)"))
}
