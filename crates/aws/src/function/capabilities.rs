//! The [`Context`] an invocation runs with: the configuration and the capabilities (collect,
//! publish, keep state, read suppressions) as values of the `Collect`, `Publish` and
//! `StateStore` traits. They are passed in, never built here, so the tests run the handlers with
//! doubles and the binaries with the clients of `super::Runtime`.
//!
//! A deployment may audit several Regions (`REGIONS`): a context is about one of them (its
//! `region` and `collector`) and knows the others', so that a handler can turn to the Region an
//! event comes from, or go through each in turn ([`Context::regions`]).

use crate::suppressions::SuppressionSource;

use super::config::FunctionConfig;

/// What an invocation works with: the configuration and the capabilities.
#[derive(Debug)]
pub struct Context<'a, C, P, S> {
    pub config: &'a FunctionConfig,
    /// The Region this context audits.
    pub region: &'a str,
    /// The collector of `region`.
    pub collector: &'a C,
    /// The other Regions this deployment audits, each with its collector (empty: one Region).
    pub others: &'a [(String, C)],
    pub publisher: &'a P,
    pub store: &'a S,
    pub suppressions: &'a SuppressionSource,
    /// The invocation's time in Unix seconds; `None` reads the system clock (tests fix it).
    pub now: Option<i64>,
    /// When Lambda ends the invocation (the Runtime API's `Lambda-Runtime-Deadline-Ms`); `None`:
    /// no deadline (a direct call).
    pub deadline: Option<std::time::SystemTime>,
}

impl<'a, C, P, S> Context<'a, C, P, S> {
    pub(crate) fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        })
    }

    /// This context, as a value of its own.
    pub(crate) fn here(&self) -> Context<'a, C, P, S> {
        self.at(self.region, self.collector)
    }

    /// The context of `region`, when this deployment audits it.
    pub(crate) fn in_region(&self, region: &str) -> Option<Context<'a, C, P, S>> {
        if region == self.region {
            return Some(self.here());
        }
        self.others
            .iter()
            .find(|(r, _)| r == region)
            .map(|(r, collector)| self.at(r, collector))
    }

    /// Every Region's context, this one first.
    pub(crate) fn regions(&self) -> Vec<Context<'a, C, P, S>> {
        std::iter::once(self.here())
            .chain(self.others.iter().map(|(r, c)| self.at(r, c)))
            .collect()
    }

    /// Whether this deployment audits more than one Region.
    pub(crate) fn several_regions(&self) -> bool {
        !self.others.is_empty()
    }

    fn at(&self, region: &'a str, collector: &'a C) -> Context<'a, C, P, S> {
        Context {
            config: self.config,
            region,
            collector,
            others: self.others,
            publisher: self.publisher,
            store: self.store,
            suppressions: self.suppressions,
            now: self.now,
            deadline: self.deadline,
        }
    }
}
