//! Tracking an audit's findings in a [`StateStore`]: the rules of `podreach_core::lifecycle`,
//! applied one finding at a time with conditional writes.
//!
//! For every finding of the state or the report, [`track`] takes `lifecycle::step`'s new record
//! and writes it only if the stored record is still the version it read. When another invocation
//! got there first, the record is read again and the step taken again from it, so a change two
//! invocations both saw is published by the one whose write landed, and the other sees a repeat.
//! A message is sent only after its record is written, with the announcement in the record's
//! outbox (`podreach_core::lifecycle::Outbox`); [`Change::confirm`] clears the entry once the
//! message is out. An invocation that ends before (SNS down, the deadline, the process killed)
//! leaves the entry, and the next audit announces it again under the same id: nothing is lost,
//! and a copy is recognisable. The CLI's `--state` file and the functions' DynamoDB table go
//! through this same code.

use std::collections::{BTreeMap, BTreeSet};

use podreach_core::lifecycle::{self, FindingState, Policy, Status, Transition};
use podreach_core::report::Report;
use podreach_core::suppressions::Suppression;

use crate::state::{Clusters, Partition, Record, StateError, StateStore, Written};

/// Conditional writes tried for one record before giving up on it.
const ATTEMPTS: usize = 5;

/// What an audit is tracked against.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The records to reconcile: the audited clusters, or all (the scheduled audit).
    pub clusters: Clusters<'a>,
    /// Clusters this audit saw completely (`lifecycle::fully_audited`).
    pub complete: &'a BTreeSet<String>,
    /// Every cluster of the region, when the audit listed them: a stored cluster not in it is
    /// deleted, and its findings are resolved. `None`: no deletion is known.
    pub existing: Option<&'a BTreeSet<String>>,
    /// Clusters EKS says do not exist (a named cluster's `DescribeCluster`): deleted too.
    pub missing: &'a BTreeSet<String>,
    pub suppressions: &'a [Suppression],
    pub now: i64,
    pub policy: Policy,
}

/// One finding's tracked change.
#[derive(Debug, Clone)]
pub struct Change<'r> {
    pub transition: Transition<'r>,
    /// The record as written (`None` when nothing was written).
    pub record: Option<FindingState>,
    /// The version written, to confirm the outbox entry at.
    written: u64,
}

/// Every finding's change, and the state after the audit.
#[derive(Debug, Clone)]
pub struct Tracked<'r> {
    pub changes: Vec<Change<'r>>,
    /// Every record of the reconciled clusters after this audit, in (cluster, finding id) order.
    pub state: Vec<FindingState>,
    /// Writes refused because another invocation wrote first (each was re-read and redone).
    pub conflicts: usize,
}

/// Reconciles `report` with the stored state, writing every changed record.
pub async fn track<'r, S: StateStore>(
    store: &S,
    at: &Partition,
    report: &'r Report,
    inputs: Inputs<'_>,
) -> Result<Tracked<'r>, StateError> {
    let stored: BTreeMap<(String, String), Record> = store
        .load(at, inputs.clusters)
        .await?
        .into_iter()
        .map(|r| ((r.state.cluster.clone(), r.state.finding_id.clone()), r))
        .collect();
    let reported = lifecycle::by_key(report);
    let keys: BTreeSet<lifecycle::Key> = stored.keys().chain(reported.keys()).cloned().collect();
    let deleted: BTreeSet<String> = stored
        .keys()
        .map(|(cluster, _)| cluster)
        .filter(|c| inputs.missing.contains(*c) || inputs.existing.is_some_and(|e| !e.contains(*c)))
        .cloned()
        .collect();
    let mut tracked = Tracked {
        changes: Vec::new(),
        state: Vec::new(),
        conflicts: 0,
    };
    for key in keys {
        let finding = reported.get(&key).copied();
        let resolution = lifecycle::resolution(&key.0, inputs.complete, &deleted);
        let mut previous = stored.get(&key).cloned();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let step = lifecycle::step(
                previous.as_ref().map(|r| &r.state),
                finding,
                resolution.as_deref(),
                inputs.suppressions,
                inputs.now,
                inputs.policy,
            );
            let Some(record) = step.record else {
                tracked.state.extend(previous.map(|r| r.state));
                if let Some(transition) = step.transition {
                    tracked.changes.push(Change {
                        transition,
                        record: None,
                        written: 0,
                    });
                }
                break;
            };
            let expected = previous.as_ref().map_or(0, |r| r.version);
            match store.put(at, &record, expected).await? {
                Written::Yes => {
                    tracked.state.push(record.clone());
                    if let Some(transition) = step.transition {
                        tracked.changes.push(Change {
                            transition,
                            record: Some(record),
                            written: expected + 1,
                        });
                    }
                    break;
                }
                Written::Conflict if attempts < ATTEMPTS => {
                    tracked.conflicts += 1;
                    tracing::info!(cluster = %key.0, finding_id = %key.1, "state written by another invocation; re-reading");
                    previous = store.get(at, &key.0, &key.1).await?;
                }
                Written::Conflict => {
                    return Err(StateError::Contention {
                        key: format!("{}/{}", key.0, key.1),
                        attempts,
                    });
                }
            }
        }
    }
    Ok(tracked)
}

/// What confirming an outbox entry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The entry is cleared (or there was none).
    Yes,
    /// Another invocation has since replaced or cleared the entry: nothing of ours is left.
    Superseded,
}

impl Change<'_> {
    /// Clears the record's outbox entry: its message is out (or will never be). When another
    /// invocation wrote the record since, the fresh record is read and cleared if it still holds
    /// this same entry.
    pub async fn confirm<S: StateStore>(
        &self,
        store: &S,
        at: &Partition,
    ) -> Result<Confirmed, StateError> {
        let Some(record) = &self.record else {
            return Ok(Confirmed::Yes);
        };
        let Some(id) = record.outbox.as_ref().map(|o| o.message_id.as_str()) else {
            return Ok(Confirmed::Yes);
        };
        let mut current = Record {
            state: record.clone(),
            version: self.written,
        };
        for _ in 0..ATTEMPTS {
            let mut cleared = current.state.clone();
            cleared.outbox = None;
            match store.put(at, &cleared, current.version).await? {
                Written::Yes => return Ok(Confirmed::Yes),
                Written::Conflict => {
                    match store.get(at, &record.cluster, &record.finding_id).await? {
                        Some(fresh)
                            if fresh.state.outbox.as_ref().map(|o| o.message_id.as_str())
                                == Some(id) =>
                        {
                            current = fresh;
                        }
                        _ => return Ok(Confirmed::Superseded),
                    }
                }
            }
        }
        Err(StateError::Contention {
            key: format!("{}/{}", record.cluster, record.finding_id),
            attempts: ATTEMPTS,
        })
    }
}

/// What the digest says about the lifecycle: what is new or resolved since the last digest, the
/// oldest open findings, and how many are suppressed.
#[derive(Debug, Clone, Default)]
pub struct DigestLifecycle {
    pub since: Option<i64>,
    pub new: Vec<FindingState>,
    pub resolved: Vec<FindingState>,
    pub oldest_open: Vec<FindingState>,
    pub open: usize,
    pub suppressed: usize,
}

/// How many of the oldest open findings the digest lists.
pub const OLDEST_LISTED: usize = 5;

impl DigestLifecycle {
    /// From the state after an audit and the time of the previous digest.
    pub fn of(state: &[FindingState], since: Option<i64>) -> Self {
        let after = |t: i64| since.is_none_or(|s| t > s);
        let mut open: Vec<&FindingState> =
            state.iter().filter(|s| s.status == Status::Open).collect();
        open.sort_by_key(|s| (s.first_seen, s.cluster.clone(), s.finding_id.clone()));
        DigestLifecycle {
            since,
            new: open
                .iter()
                .filter(|s| after(s.first_seen))
                .map(|s| (*s).clone())
                .collect(),
            resolved: state
                .iter()
                .filter(|s| s.status == Status::Resolved && s.resolved_at.is_some_and(after))
                .cloned()
                .collect(),
            oldest_open: open
                .iter()
                .take(OLDEST_LISTED)
                .map(|s| (*s).clone())
                .collect(),
            open: open.len(),
            suppressed: state
                .iter()
                .filter(|s| s.status == Status::Suppressed)
                .count(),
        }
    }
}
