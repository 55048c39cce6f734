//! Many targets side by side: at most `Caps::total` audits in flight, and at most
//! `Caps::per_account` in any one account, because EC2's request budget is per account and
//! Region and shared with the VPC CNI on every node of the account's clusters. Each target's
//! result is its own: one that fails (or panics) never stops the others, and every planned
//! target comes back with a result, in plan order.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use podreach_core::org::Target;
use tokio::sync::Semaphore;

/// How many audits may run at once, in all and per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub total: usize,
    pub per_account: usize,
}

/// Runs `audit` on every target within `caps`; the results in the order of `targets`. A task
/// that panics comes back as `Err` with the panic's text, like any other failure.
pub async fn run_targets<F, Fut, R>(
    targets: &[Target],
    caps: Caps,
    audit: F,
) -> Vec<(Target, Result<R, String>)>
where
    F: Fn(Target) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let total = Arc::new(Semaphore::new(caps.total.max(1)));
    let mut per_account: BTreeMap<&str, Arc<Semaphore>> = BTreeMap::new();
    let audit = Arc::new(audit);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        let account = per_account
            .entry(target.account.as_str())
            .or_insert_with(|| Arc::new(Semaphore::new(caps.per_account.max(1))))
            .clone();
        let total = total.clone();
        let audit = audit.clone();
        let target = target.clone();
        tasks.spawn(async move {
            // The account's permit first: a target waiting for its account holds no slot of
            // the total that another account's target could use.
            let _account = account.acquire_owned().await;
            let _slot = total.acquire_owned().await;
            (index, audit(target).await)
        });
    }
    let mut results: Vec<Option<Result<R, String>>> = targets.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(Ok(result)),
            // A panicking task loses its index with it: its target is the one left without a
            // result below.
            Err(error) => tracing::error!(%error, "an organization audit task ended abnormally"),
        }
    }
    targets
        .iter()
        .cloned()
        .zip(results)
        .map(|(target, result)| {
            let result = result.unwrap_or_else(|| {
                Err(format!(
                    "the audit of {} stopped abnormally (a bug: see the log)",
                    target.key()
                ))
            });
            (target, result)
        })
        .collect()
}
