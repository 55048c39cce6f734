//! The compose step: the messages a run sends, each with what it announces, in the order they
//! go out (the findings' changes, then the digest).
//!
//! Composing is pure but for the digest, which reads when the last one went out. Each
//! [`Outgoing`] message says what it announces, because delivery treats them differently: a
//! change's outbox entry is confirmed once its message is sent (or once it is known that none is
//! sent: a finding below the configured severity), a sent digest is recorded as the last one.

use podreach_core::lifecycle::{FindingState, Marker};
use podreach_core::report::{Report, Severity};

use crate::lifecycle::{Change, DigestLifecycle, Tracked};
use crate::publish::{self, Message};
use crate::state::StateStore;

use super::error::HandlerError;
use super::run::Run;

/// One message to send, and what it announces.
#[derive(Debug)]
pub(crate) struct Outgoing<'t, 'r> {
    /// `None`: a change that publishes nothing here (below the configured severity), whose
    /// outbox entry is still to be confirmed.
    pub(crate) message: Option<Message>,
    pub(crate) announces: Announces<'t, 'r>,
}

/// What a message announces.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Announces<'t, 'r> {
    /// A finding's change, written to the state (with its outbox entry) before the message goes
    /// out.
    Change(&'t Change<'r>),
    /// The digest of the run at this time (Unix seconds).
    Digest(i64),
}

/// The messages of the tracked changes that publish, at or above the configured severity, then
/// the `digest` when there is one.
pub(crate) fn compose<'t, 'r>(
    run: &Run<'_>,
    tracked: &'t Tracked<'r>,
    digest: Option<Message>,
) -> Vec<Outgoing<'t, 'r>> {
    let changes = tracked
        .changes
        .iter()
        .filter(|c| c.transition.publish)
        .map(|change| Outgoing {
            message: change_message(run, change),
            announces: Announces::Change(change),
        });
    let digest = digest.map(|message| Outgoing {
        message: Some(message),
        announces: Announces::Digest(run.now),
    });
    changes.chain(digest).collect()
}

/// The message of one change, if it is about a severe enough finding.
fn change_message(run: &Run<'_>, change: &Change<'_>) -> Option<Message> {
    let config = run.config;
    let t = &change.transition;
    // Unique across the accounts and Regions one topic may hear from.
    let message_id = t
        .message_id
        .as_ref()
        .map(|id| format!("{}/{}/{id}", run.origin.account, run.origin.region));
    let lifecycle = publish::Lifecycle {
        marker: t.marker,
        why: &t.why,
        message_id: message_id.as_deref(),
        redelivery: t.redelivery,
    };
    match (t.finding, &change.record) {
        (Some(finding), _) if finding.severity >= config.min_severity => Some(
            publish::finding_message(finding, lifecycle, &run.origin, config.format),
        ),
        (None, Some(record))
            if t.marker == Marker::Resolved
                && published_severity(record).is_none_or(|s| s >= config.min_severity) =>
        {
            Some(publish::resolved_message(
                record,
                lifecycle,
                &run.origin,
                config.format,
            ))
        }
        _ => None,
    }
}

/// The severity a finding was last published with; `None` when the finding was never
/// published, and its resolution is then announced whatever the configured minimum.
fn published_severity(record: &FindingState) -> Option<Severity> {
    record.published.as_ref().map(|p| p.severity)
}

/// The digest of the run, when the policy asks for one: what is new and resolved since the
/// last digest, read from the state.
pub(crate) async fn digest<S: StateStore>(
    run: &Run<'_>,
    store: &S,
    report: &Report,
    tracked: &Tracked<'_>,
    suppressions_problem: Option<&str>,
) -> Result<Option<Message>, HandlerError> {
    if !run.policy.digest {
        return Ok(None);
    }
    let since = store.last_digest(&run.at).await?;
    let digest = DigestLifecycle::of(&tracked.state, since);
    Ok(Some(publish::digest_message(
        report,
        publish::DigestContext {
            lifecycle: &digest,
            suppressions_problem,
        },
        &run.origin,
        run.config.format,
    )))
}
