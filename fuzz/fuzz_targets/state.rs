//! The lifecycle's state records (the CLI's `--state` file, and each DynamoDB item's fields): any
//! bytes are a state or an error, never a panic; a state read back steps through the lifecycle
//! without panicking and writes back the same.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use podreach_core::lifecycle::{self, Policy, State};
use podreach_core::report::Report;
use podreach_core::{AnalyzeOptions, Overrides, demo};

/// The demo's report, audited once: the findings a fuzzed state is reconciled with.
fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        podreach_core::audit(&demo::files(), &Overrides::default(), &AnalyzeOptions::default())
            .expect("the demo audits")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<State>(data) else {
        return;
    };
    let again: State = serde_json::from_str(&serde_json::to_string(&state).expect("serialises"))
        .expect("a state written reads back");
    assert_eq!(again, state);
    for now in [0, i64::MAX, i64::MIN] {
        let _ = lifecycle::reconcile(
            state.clone(),
            report(),
            &Default::default(),
            &Default::default(),
            &[],
            now,
            Policy {
                outbox: true,
                ..Policy::default()
            },
        );
    }
});
