//! Why an invocation failed as a whole: the [`HandlerError`] a function hands to Lambda, whose
//! stable `error_type` a dead-letter queue keeps. Every step may fail with it, so it sits below
//! all of them and imports none.

use thiserror::Error;

use crate::error::{ApiFailure, CollectError};
use crate::state::StateError;
use crate::trigger::EventError;

/// Why an invocation failed as a whole.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("the findings' state: {0}")]
    State(#[from] StateError),
    #[error("{} of {} message(s) could not be published: {}", .failures.len(), .attempted, .failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Publish {
        attempted: usize,
        failures: Vec<ApiFailure>,
    },
    /// The invocation's deadline came too close to take the next step: it stopped before it,
    /// with nothing half-written (announcements not yet sent stay in the state's outbox and the
    /// next audit sends them).
    #[error(
        "stopped before {step}: {left_ms} ms left of the invocation, {needed_ms} ms needed; {unsent} announcement(s) wait in the state's outbox for the next audit"
    )]
    OutOfTime {
        step: &'static str,
        left_ms: u128,
        needed_ms: u128,
        unsent: usize,
    },
    /// The organization's accounts could not be listed: no run was planned.
    #[error(transparent)]
    Organization(#[from] crate::org::OrgError),
    /// The organization run's selection cannot be planned.
    #[error("the organization run cannot be planned: {0}")]
    Plan(#[from] podreach_core::org::PlanError),
    /// Targets of a planned run could not be queued: the run's digest names them.
    #[error("run {run}: {} of {attempted} target(s) could not be queued: {}", .failures.len(), .failures.iter().map(|(t, f)| format!("{t}: {f}")).collect::<Vec<_>>().join("; "))]
    Enqueue {
        run: String,
        attempted: usize,
        failures: Vec<(String, ApiFailure)>,
    },
    /// An audit queue message that is not a target of a run.
    #[error("audit queue message {message_id}: {message}")]
    BadMessage { message_id: String, message: String },
    /// The audit of one of several Regions failed (the others were audited).
    #[error("Region {region}: {error}")]
    InRegion {
        region: String,
        error: Box<HandlerError>,
    },
}

impl HandlerError {
    /// The error type Lambda records (and a DLQ keeps) for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(e) => e.error_type(),
            HandlerError::Collect(CollectError::ListClusters(_)) => "podreach.ListClustersFailed",
            HandlerError::Collect(CollectError::Resolve(_)) => "podreach.ScopeLookupFailed",
            HandlerError::State(_) => "podreach.StateFailed",
            HandlerError::Publish { .. } => "podreach.PublishFailed",
            HandlerError::OutOfTime { .. } => "podreach.OutOfTime",
            HandlerError::Organization(_) => "podreach.OrganizationListFailed",
            HandlerError::Plan(_) => "podreach.PlanRefused",
            HandlerError::Enqueue { .. } => "podreach.EnqueueFailed",
            HandlerError::BadMessage { .. } => "podreach.BadMessage",
            HandlerError::InRegion { error, .. } => error.error_type(),
        }
    }
}
