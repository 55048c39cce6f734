//! What an invocation answers when it succeeds: the [`Outcome`] it logs and returns (the
//! failure is `super::error::HandlerError`).
//!
//! Both are the functions' contract with Lambda (the response, and the `errorType` a
//! dead-letter queue keeps), so they live apart from the steps that produce them: the steps may
//! change shape, these may not. The two constructors here are the only places an `Outcome` is
//! assembled.

use std::collections::BTreeMap;

use podreach_core::report::Report;
use serde::Serialize;

use crate::lifecycle::Tracked;

use super::collection::Collected;

/// What one invocation did; the function's response, and its log line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    /// `audited` or `ignored`.
    pub action: &'static str,
    pub why: String,
    pub clusters: Vec<String>,
    pub findings: usize,
    /// The most severe finding's severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<podreach_core::report::Severity>,
    pub published: usize,
    pub gaps: usize,
    /// Clusters (or, with no name, the whole run) that got no verdicts: an invocation with any is
    /// not a clean result, whatever `findings` says.
    pub not_analysed: Vec<String>,
    /// Inputs of analysed clusters that could not be read (`cluster: input: cause`): an
    /// invocation with any is not a clean result either.
    pub blind_spots: Vec<String>,
    pub api_calls: u64,
    /// The findings' lifecycle markers in this audit, counted (ONGOING includes quiet repeats).
    pub lifecycle: BTreeMap<&'static str, usize>,
    /// Writes of the state refused because another invocation wrote first (each was redone).
    pub state_conflicts: usize,
    /// Why the suppression document was refused (then nothing was suppressed).
    pub suppressions_problem: Option<String>,
    /// Set when only the event's node(s) were collected and audited against the cluster's
    /// cached context: how old that context was, in seconds.
    pub context_age_seconds: Option<i64>,
    /// What went to Security Hub (`SECURITY_HUB=true`, scheduled audits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<super::security_hub::SecurityHubOutcome>,
}

/// An invocation that audited nothing: an event not worth an audit, or one about no cluster.
pub(crate) fn ignored(why: String, clusters: Vec<String>, gaps: usize, api_calls: u64) -> Outcome {
    Outcome {
        action: "ignored",
        why,
        clusters,
        findings: 0,
        worst: None,
        published: 0,
        gaps,
        not_analysed: Vec::new(),
        blind_spots: Vec::new(),
        api_calls,
        lifecycle: BTreeMap::new(),
        state_conflicts: 0,
        suppressions_problem: None,
        context_age_seconds: None,
        security_hub: None,
    }
}

/// An invocation that audited `clusters`, tracked the findings and published `published`
/// messages.
pub(crate) fn audited(
    why: String,
    clusters: Vec<String>,
    report: &Report,
    collected: &Collected,
    tracked: &Tracked<'_>,
    suppressions_problem: Option<String>,
    published: usize,
) -> Outcome {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for change in &tracked.changes {
        *counts.entry(change.transition.marker.as_str()).or_default() += 1;
    }
    Outcome {
        action: "audited",
        why,
        clusters,
        findings: report.findings.len(),
        worst: report.max_severity(),
        published,
        gaps: report.gaps.len(),
        not_analysed: report
            .not_analysed
            .iter()
            .map(|n| match &n.cluster {
                Some(cluster) => format!("{cluster}: {}", n.reason),
                None => n.reason.clone(),
            })
            .collect(),
        blind_spots: report
            .blind_spots()
            .map(|(cluster, b)| format!("{cluster}: {}: {}", b.input, b.cause))
            .collect(),
        api_calls: collected.api_calls(),
        lifecycle: counts,
        state_conflicts: tracked.conflicts,
        suppressions_problem,
        context_age_seconds: collected.context_age,
        security_hub: None,
    }
}
