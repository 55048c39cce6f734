//! Side-by-side work for the two expensive stages of a big cluster (the verdict matrix and the
//! findings), with nothing but the standard library: the core stays free of runtimes.
//!
//! Items differ in cost (a class with 15,000 ENIs against one with 3, a finding over every node
//! against one over a subnet), so each thread takes the next item not yet taken rather than a
//! fixed share, and the results are put back in item order: the output is the same whatever the
//! number of threads or cores.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f).collect()`, on up to one thread per available core (at most 8) when
/// `parallel` is true and there are two items or more.
pub(crate) fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    parallel: bool,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if !parallel || threads < 2 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(items.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            return mine;
                        };
                        mine.push((index, f(item)));
                    }
                })
            })
            .collect();
        let mut done = Vec::with_capacity(items.len());
        for worker in workers {
            match worker.join() {
                Ok(mine) => done.extend(mine),
                // A panic in the work is a bug; re-raise it as the caller's own.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_whatever_the_threads() {
        let items: Vec<u64> = (0..1_000).collect();
        // Uneven costs, so the threads finish out of order.
        let slow = |n: &u64| {
            let spin: u64 = (0..(n % 7) * 1_000).map(std::hint::black_box).sum();
            n + spin - spin
        };
        assert_eq!(map_ordered(&items, true, slow), items);
        assert_eq!(map_ordered(&items, false, slow), items);
        assert!(map_ordered(&Vec::<u64>::new(), true, slow).is_empty());
    }
}
