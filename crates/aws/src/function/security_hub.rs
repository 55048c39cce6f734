//! The Security Hub step (`SECURITY_HUB=true`, the scheduled audit only): the findings of the
//! run imported into Security Hub of the account and Region audited, as ASFF
//! (`podreach_core::asff`).
//!
//! Every open (or suppressed) finding of the audit is imported on every run, FAILED, so its
//! record there follows the audit (a refused or failed import is simply made again by the next
//! run). A finding resolved in the last `asff::RESOLVED_KEPT` is imported too, PASSED (and
//! ARCHIVED when its cluster no longer exists): an import is an upsert of the same `Id`, so
//! sending it again costs nothing, and a resolution that one run could not import is not lost.
//! Only a run
//! that audits whole clusters imports: an import replaces the finding's record, and one node's
//! view of a finding is not the finding.

use podreach_core::asff::{self, AsffFinding};
use podreach_core::report::Report;

use crate::lifecycle::Tracked;
use crate::publish::Publish;
use crate::securityhub::Imported;

use super::collection::Collected;
use super::run::Run;

/// What the step did, for the outcome.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct SecurityHubOutcome {
    pub imported: usize,
    pub accepted: usize,
    /// `id: code: message` of each finding Security Hub refused.
    pub refused: Vec<String>,
    /// Calls that failed altogether.
    pub failed_calls: Vec<String>,
    /// Set when nothing could be imported at all, and why.
    pub skipped: Option<String>,
}

/// Imports the run's findings when the policy says so; `None` when it does not.
pub(crate) async fn import<P: Publish>(
    run: &Run<'_>,
    publisher: &P,
    report: &Report,
    tracked: &Tracked<'_>,
    collected: &Collected,
) -> Option<SecurityHubOutcome> {
    if !run.policy.security_hub {
        return None;
    }
    let account = run.origin.account.as_str();
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        let why = format!(
            "the event names no account (`{account}`): Security Hub findings need the account they belong to"
        );
        tracing::error!(%why, "security hub: nothing imported");
        return Some(skipped(why));
    }
    let findings = documents(run, report, tracked, collected, account);
    let count = findings.len();
    let Some(imported) = publisher.import(&run.origin.region, findings).await else {
        return Some(skipped(
            "this deployment sends nothing to Security Hub (a dry run)".to_owned(),
        ));
    };
    let outcome = summary(count, imported);
    if outcome.failed_calls.is_empty() && outcome.refused.is_empty() {
        tracing::info!(imported = count, "security hub: findings imported");
    } else {
        tracing::error!(outcome = ?outcome, "security hub: findings not all imported; the next run imports them again");
    }
    Some(outcome)
}

fn skipped(why: String) -> SecurityHubOutcome {
    SecurityHubOutcome {
        imported: 0,
        accepted: 0,
        refused: Vec::new(),
        failed_calls: Vec::new(),
        skipped: Some(why),
    }
}

fn summary(count: usize, imported: Imported) -> SecurityHubOutcome {
    SecurityHubOutcome {
        imported: count,
        accepted: imported.accepted,
        refused: imported
            .refused
            .into_iter()
            .map(|(id, code, message)| format!("{id}: {code}: {message}"))
            .collect(),
        failed_calls: imported.failures.iter().map(ToString::to_string).collect(),
        skipped: None,
    }
}

/// The ASFF documents of the run (`podreach_core::asff::documents`): the clusters EKS no longer
/// lists, or says do not exist, are gone.
fn documents(
    run: &Run<'_>,
    report: &Report,
    tracked: &Tracked<'_>,
    collected: &Collected,
    account: &str,
) -> Vec<AsffFinding> {
    let context = asff::Context {
        account,
        region: &run.origin.region,
        partition: crate::partition_of(&run.origin.region),
        now: run.now,
    };
    let listing = collected.collection.listing();
    let gone = |cluster: &str| listing.gone(cluster);
    asff::documents(report, Some(&tracked.state), &gone, context)
}
