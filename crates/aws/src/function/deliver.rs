//! The deliver step: every composed message published, and the state kept true to what went
//! out.
//!
//! A message that cannot be published does not stop the others; its change is undone in the
//! state ([`Change::undo`]) so the next run announces it again, and the failures are counted in
//! a [`Delivered`], which fails the invocation only after its outcome is logged. A digest that
//! went out is recorded as the last one, and a state that cannot record it fails the
//! invocation at once.

use crate::error::ApiFailure;
use crate::lifecycle::Change;
use crate::publish::Publish;
use crate::state::{Partition, StateStore, Written};

use super::compose::{Announces, Outgoing};
use super::error::HandlerError;
use super::outcome::Outcome;
use super::run::Run;

/// What delivery came to: how many messages were tried, and the failures.
#[derive(Debug)]
pub(crate) struct Delivered {
    pub(crate) attempted: usize,
    pub(crate) failures: Vec<ApiFailure>,
}

impl Delivered {
    /// How many messages went out.
    pub(crate) fn published(&self) -> usize {
        self.attempted - self.failures.len()
    }

    /// The run's outcome, or, when a message could not be published, the invocation's failure.
    pub(crate) fn into_result(self, outcome: Outcome) -> Result<Outcome, HandlerError> {
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

/// Publishes every message in order, undoing the change of each that fails.
pub(crate) async fn deliver<P: Publish, S: StateStore>(
    run: &Run<'_>,
    publisher: &P,
    store: &S,
    outgoing: &[Outgoing<'_, '_>],
) -> Result<Delivered, HandlerError> {
    let mut failures = Vec::new();
    for Outgoing { message, announces } in outgoing {
        match publisher.publish(message).await {
            Ok(()) => {
                if let Announces::Digest(time) = announces {
                    store.set_last_digest(&run.at, *time).await?;
                }
            }
            Err(failure) => {
                tracing::error!(%failure, subject = %message.subject, "publish failed");
                if let Announces::Change(change) = announces {
                    undo(store, &run.at, change).await;
                }
                failures.push(failure);
            }
        }
    }
    Ok(Delivered {
        attempted: outgoing.len(),
        failures,
    })
}

/// Puts back the state of a change whose message was not published, logging what could not be.
async fn undo<S: StateStore>(store: &S, at: &Partition, change: &Change<'_>) {
    match change.undo(store, at).await {
        Ok(Written::Yes) => {}
        Ok(Written::Conflict) => tracing::error!(
            finding_id = %change.transition.finding_id,
            "the message was not published and another invocation has since written the finding's state: this change is not announced"
        ),
        Err(error) => {
            tracing::error!(%error, "could not undo the state of an unpublished message")
        }
    }
}
