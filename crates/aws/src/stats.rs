//! Counts what a collection costs: calls per operation, retries and failures.
//!
//! The EC2 API budget of an account is shared with the VPC CNI's IP management on every node, so
//! the report states exactly how many calls podreach spent. Counting happens in an SDK
//! interceptor rather than at the call sites: every page of a paginator and every retry attempt
//! passes through the orchestrator, so nothing can be forgotten and the retry attempts the SDK
//! makes on its own (throttling backoff) are seen too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use podreach_core::raw::{CollectionStats, OperationStats};

/// Per-operation counters, keyed by IAM action (`ec2:DescribeVpcs`).
#[derive(Debug, Clone, Default)]
struct Counters {
    executions: u64,
    attempts: u64,
    failures: u64,
    bytes: u64,
}

/// The counting interceptor. Cheap to clone; all clones share one set of counters.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    counters: Arc<Mutex<BTreeMap<String, Counters>>>,
}

impl CallStats {
    pub fn new() -> Self {
        Self::default()
    }

    fn bump(&self, cfg: &ConfigBag, update: impl FnOnce(&mut Counters)) {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return;
        };
        let action = iam_action(metadata.service(), metadata.name());
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        update(counters.entry(action).or_default());
    }

    /// Counts one call that no SDK interceptor sees (a Kubernetes API request, `k8s:list pods`),
    /// with the bytes of its answer.
    pub fn record(&self, action: &str, failed: bool, bytes: u64) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = counters.entry(action.to_owned()).or_default();
        entry.executions += 1;
        entry.attempts += 1;
        entry.failures += u64::from(failed);
        entry.bytes += bytes;
    }

    /// Counters so far; two readings subtract into the cost of what happened between them.
    pub fn reading(&self) -> StatsReading {
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        StatsReading(counters.clone())
    }
}

/// A reading of [`CallStats`].
#[derive(Debug, Clone, Default)]
pub struct StatsReading(BTreeMap<String, Counters>);

impl StatsReading {
    /// The calls made since `earlier`, as the report's `stats`.
    pub fn since(&self, earlier: &StatsReading, wall_time_ms: u64) -> CollectionStats {
        let mut stats = CollectionStats {
            wall_time_ms,
            ..CollectionStats::default()
        };
        for (action, now) in &self.0 {
            let before = earlier.0.get(action).cloned().unwrap_or_default();
            let calls = now.executions - before.executions;
            if calls == 0 {
                continue;
            }
            let retries = (now.attempts - before.attempts).saturating_sub(calls);
            let failures = now.failures - before.failures;
            let bytes = now.bytes - before.bytes;
            stats.calls += calls;
            stats.retries += retries;
            stats.operations.insert(
                action.clone(),
                OperationStats {
                    calls,
                    retries,
                    failures,
                    bytes,
                },
            );
        }
        stats
    }
}

/// `EC2` + `DescribeVpcs` → `ec2:DescribeVpcs`, the name IAM and CloudTrail use.
pub fn iam_action(service: &str, operation: &str) -> String {
    format!("{}:{operation}", service.to_ascii_lowercase())
}

impl Intercept for CallStats {
    fn name(&self) -> &'static str {
        "podreach::CallStats"
    }

    // Not `read_before_execution`: client interceptors run that hook before the operation's
    // configuration (and so its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.executions += 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.attempts += 1);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !matches!(context.output_or_error(), Some(Ok(_))) {
            self.bump(cfg, |c| c.failures += 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_action_is_lowercase_service_and_operation() {
        assert_eq!(iam_action("EC2", "DescribeVpcs"), "ec2:DescribeVpcs");
        assert_eq!(iam_action("EKS", "DescribeAddon"), "eks:DescribeAddon");
    }
}
