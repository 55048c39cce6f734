//! The [`Context`] an invocation runs with: the configuration and the capabilities (collect,
//! publish, keep state, read suppressions) as values of the `Collect`, `Publish` and
//! `StateStore` traits. They are passed in, never built here, so the tests run the handlers with
//! doubles and the binaries with the clients of `super::Runtime`.

use crate::suppressions::SuppressionSource;

use super::config::FunctionConfig;

/// What an invocation works with: the configuration and the capabilities.
#[derive(Debug)]
pub struct Context<'a, C, P, S> {
    pub config: &'a FunctionConfig,
    pub region: &'a str,
    pub collector: &'a C,
    pub publisher: &'a P,
    pub store: &'a S,
    pub suppressions: &'a SuppressionSource,
    /// The invocation's time in Unix seconds; `None` reads the system clock (tests fix it).
    pub now: Option<i64>,
}

impl<C, P, S> Context<'_, C, P, S> {
    pub(crate) fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        })
    }
}
