//! The audit step: the collection analysed with the same code as the CLI, and what the report
//! says the run could not see logged, so a reader of the function's logs finds it without the
//! messages.
//!
//! The question asked (the TCP ports of `TCP_PORTS`) goes in the [`AnalyzeOptions`], the
//! collected facts in the model: the same collection answers for any port. The functions take
//! no CNI overrides.

use podreach_core::report::Report;
use podreach_core::{AnalyzeOptions, Overrides};

use crate::Collection;

use super::config::FunctionConfig;

/// The collection's report, its gaps, unanalysed clusters and blind spots logged.
pub(crate) fn audit(collection: &Collection, config: &FunctionConfig) -> Report {
    let report = collection.audit(
        Default::default(),
        &Overrides::default(),
        &AnalyzeOptions {
            tcp_ports: config.tcp_ports.clone(),
            ..AnalyzeOptions::default()
        },
    );
    for gap in &report.gaps {
        tracing::warn!(cluster = ?gap.cluster, object = ?gap.object, message = %gap.message, "gap");
    }
    for n in &report.not_analysed {
        tracing::warn!(cluster = ?n.cluster, reason = %n.reason, "not analysed");
    }
    for (cluster, b) in report.blind_spots() {
        tracing::error!(cluster, input = %b.input, cause = %b.cause, remedy = %b.remedy, "blind spot: not a clean result");
    }
    report
}
