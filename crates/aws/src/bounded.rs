//! At most N calls in flight: the organization run's plan writes thousands of items and
//! messages ten or twenty-five per call, and one call after the other would make the plan's time
//! the sum of ~600 round trips. A few at a time keeps it near their longest, without a burst a
//! service would throttle. Each call's result comes back; their order is not kept.

use std::future::Future;

use tokio::task::JoinSet;

/// Runs `call` on every item, at most `limit` at once; the results, in no particular order. A
/// call that panics is lost with its result (the caller counts what came back).
pub(crate) async fn in_flight<T, F, Fut, R>(items: Vec<T>, limit: usize, call: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let mut running = JoinSet::new();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        if running.len() >= limit.max(1)
            && let Some(Ok(result)) = running.join_next().await
        {
            results.push(result);
        }
        running.spawn(call(item));
    }
    while let Some(joined) = running.join_next().await {
        if let Ok(result) = joined {
            results.push(result);
        }
    }
    results
}
