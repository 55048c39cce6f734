//! What every step of one audit run shares about the invocation: how it is configured (the
//! [`FunctionConfig`] and the [`RunPolicy`]), where it runs (the account and region its messages
//! and state are about) and when. Built once per run by `super::sequence`; every step reads it
//! and none changes it.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::publish::Origin;
use crate::state::Partition;

use super::capabilities::Context;
use super::config::FunctionConfig;
use super::error::HandlerError;
use super::policy::RunPolicy;

/// What every step of one run shares: how it is configured, where and when it runs.
#[derive(Debug)]
pub(crate) struct Run<'a> {
    pub(crate) config: &'a FunctionConfig,
    pub(crate) policy: &'a RunPolicy,
    /// The account and region the messages say they are about: the event's account, and the
    /// Region of the context (the one the event came from, or the one being audited in turn).
    pub(crate) origin: Origin,
    /// The state's partition: the same account and region.
    pub(crate) at: Partition,
    /// The invocation's time in Unix seconds.
    pub(crate) now: i64,
    /// When Lambda ends the invocation, if it says.
    pub(crate) deadline: Option<SystemTime>,
}

/// What a state write plus one publish may take, at the least: a run stops before its first
/// write when less than this is left.
pub(crate) const WRITE_RESERVE: Duration = Duration::from_secs(10);
/// What one publish and the confirmation of its outbox entry may take, at the least.
pub(crate) const PUBLISH_RESERVE: Duration = Duration::from_secs(3);

impl<'a> Run<'a> {
    pub(crate) fn new<C, P, S>(
        event: &Value,
        policy: &'a RunPolicy,
        context: &Context<'a, C, P, S>,
    ) -> Run<'a> {
        let origin = Origin {
            account: account(event),
            region: context.region.to_owned(),
            alias: alias(event),
        };
        let at = Partition {
            account: origin.account.clone(),
            region: origin.region.clone(),
        };
        Run {
            config: context.config,
            policy,
            origin,
            at,
            now: context.now(),
            deadline: context.deadline,
        }
    }

    /// `Err(OutOfTime)` when the time left before the deadline is less than `needed` for
    /// `step`; `unsent` says how many announcements then wait in the outbox.
    pub(crate) fn ensure(
        &self,
        step: &'static str,
        needed: Duration,
        unsent: usize,
    ) -> Result<(), HandlerError> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        if left >= needed {
            return Ok(());
        }
        tracing::warn!(
            step,
            left_ms = left.as_millis(),
            "deadline: stopping before the step"
        );
        Err(HandlerError::OutOfTime {
            step,
            left_ms: left.as_millis(),
            needed_ms: needed.as_millis(),
            unsent,
        })
    }
}

/// The account of the event (EventBridge's envelope names it).
fn account(event: &Value) -> String {
    event
        .get("account")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned()
}

/// The source of the event the audit worker makes for its target (`super::worker`).
pub(crate) const ORGANIZATION_SOURCE: &str = "podreach.organization";

/// The account's name an organization run's target carries (`detail.alias` of the worker's own
/// event); no other event names one.
fn alias(event: &Value) -> Option<String> {
    if event.get("source").and_then(Value::as_str) != Some(ORGANIZATION_SOURCE) {
        return None;
    }
    event
        .pointer("/detail/alias")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
