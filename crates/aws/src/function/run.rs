//! What every step of one audit run shares about the invocation: how it is configured (the
//! [`FunctionConfig`] and the [`RunPolicy`]), where it runs (the account and region its messages
//! and state are about) and when. Built once per run by `super::sequence`; every step reads it
//! and none changes it.

use serde_json::Value;

use crate::publish::Origin;
use crate::state::Partition;

use super::capabilities::Context;
use super::config::FunctionConfig;
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
}

impl<'a> Run<'a> {
    pub(crate) fn new<C, P, S>(
        event: &Value,
        policy: &'a RunPolicy,
        context: &Context<'a, C, P, S>,
    ) -> Run<'a> {
        let origin = Origin {
            account: account(event),
            region: context.region.to_owned(),
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
        }
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
