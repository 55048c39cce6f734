//! The deliver step: every composed message published, each change's outbox entry confirmed once
//! its message is out, and the deadline watched between messages.
//!
//! Delivery is at least once. The track step wrote every announced change with its outbox entry
//! (`podreach_core::lifecycle::Outbox`) before anything was sent; here each message is published
//! and only then its entry cleared ([`Change::confirm`]). A message that cannot be published does
//! not stop the others and leaves its entry: the invocation fails (after its outcome is logged,
//! through [`Delivered`]) and the next audit that sees the finding sends it again under the same
//! message id. When the time left before the invocation's deadline cannot cover one more publish
//! and its confirmation, delivery stops there: what was not sent waits in the outbox, nothing is
//! half-written. A digest that went out is recorded as the last one, and a state that cannot
//! record it fails the invocation at once.

use crate::error::ApiFailure;
use crate::lifecycle::{Change, Confirmed};
use crate::publish::Publish;
use crate::state::{Partition, StateStore};

use super::compose::{Announces, Outgoing};
use super::error::HandlerError;
use super::outcome::Outcome;
use super::run::{PUBLISH_RESERVE, Run};

/// What delivery came to: how many messages were tried, the failures, and whether the deadline
/// stopped it.
#[derive(Debug)]
pub(crate) struct Delivered {
    pub(crate) attempted: usize,
    pub(crate) failures: Vec<ApiFailure>,
    /// Set when the deadline stopped delivery before every message went out.
    pub(crate) stopped: Option<HandlerError>,
}

impl Delivered {
    /// How many messages went out.
    pub(crate) fn published(&self) -> usize {
        self.attempted - self.failures.len()
    }

    /// The run's outcome, or, when a message could not be published or the deadline stopped
    /// delivery, the invocation's failure.
    pub(crate) fn into_result(self, outcome: Outcome) -> Result<Outcome, HandlerError> {
        if let Some(stopped) = self.stopped {
            return Err(stopped);
        }
        if self.failures.is_empty() {
            Ok(outcome)
        } else {
            Err(HandlerError::Publish {
                attempted: self.attempted,
                failures: self.failures,
            })
        }
    }
}

/// Publishes every message in order, confirming the outbox entry of each change sent.
pub(crate) async fn deliver<P: Publish, S: StateStore>(
    run: &Run<'_>,
    publisher: &P,
    store: &S,
    outgoing: &[Outgoing<'_, '_>],
) -> Result<Delivered, HandlerError> {
    let mut delivered = Delivered {
        attempted: 0,
        failures: Vec::new(),
        stopped: None,
    };
    for (index, Outgoing { message, announces }) in outgoing.iter().enumerate() {
        let Some(message) = message else {
            // Nothing to send for this change here: its entry is done with.
            if let Announces::Change(change) = announces {
                confirm(store, &run.at, change).await;
            }
            continue;
        };
        let unsent = outgoing[index..]
            .iter()
            .filter(|o| o.message.is_some())
            .count();
        if let Err(stop) = run.ensure("publishing", PUBLISH_RESERVE, unsent) {
            delivered.stopped = Some(stop);
            break;
        }
        delivered.attempted += 1;
        match publisher.publish(message).await {
            Ok(()) => match announces {
                Announces::Change(change) => confirm(store, &run.at, change).await,
                Announces::Digest(time) => store.set_last_digest(&run.at, *time).await?,
            },
            Err(failure) => {
                tracing::error!(%failure, subject = %message.subject, "publish failed; the announcement stays in the outbox");
                delivered.failures.push(failure);
            }
        }
    }
    Ok(delivered)
}

/// Clears the outbox entry of a change whose message is out. A failure here only costs a copy
/// (the next audit sends the entry again, same id), so it is logged, not fatal.
async fn confirm<S: StateStore>(store: &S, at: &Partition, change: &Change<'_>) {
    match change.confirm(store, at).await {
        Ok(Confirmed::Yes) => {}
        Ok(Confirmed::Superseded) => tracing::info!(
            finding_id = %change.transition.finding_id,
            "another invocation replaced the outbox entry since: nothing to confirm"
        ),
        Err(error) => tracing::warn!(
            %error,
            finding_id = %change.transition.finding_id,
            "could not confirm the message sent: the next audit sends it again, same message id"
        ),
    }
}
