//! `on-change`'s event parsing: any bytes delivered as an event (an EventBridge envelope with a
//! CloudTrail record, an instance state change, a Kubernetes event…) are decided or refused with
//! a typed error, never a panic. The target compiles the function's own `trigger.rs` and
//! `scope.rs` (pure, no AWS SDK), so what is fuzzed is exactly what runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/aws/src/scope.rs"]
#[allow(dead_code)]
mod scope;
#[path = "../../crates/aws/src/trigger.rs"]
#[allow(dead_code)]
mod trigger;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match trigger::decide(&event) {
        Ok(trigger::Decision::Audit { scope, why }) => {
            assert!(!why.is_empty());
            let _ = scope::Scope::union(vec![scope.clone(), scope]);
        }
        Ok(trigger::Decision::Ignore(why)) => assert!(!why.is_empty()),
        Err(error) => assert!(error.error_type().starts_with("podreach.")),
    }
});
