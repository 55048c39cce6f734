//! podreach-core: the model of an EKS cluster's network and the verdicts it implies.
//!
//! Pure and synchronous by construction (see `build.rs`): no async runtime, no AWS SDK, no
//! Lambda runtime. Input arrives as snapshot documents ([`snapshot`], shaped by [`raw`]), is
//! validated once into a [`Model`] ([`Model::new`], the one way in), and [`analyze`] (or [`run`],
//! which streams the per-ENI rows) turns the model and the question asked ([`AnalyzeOptions`])
//! into a [`Report`] deterministically. The VPC CNI's host datapath lives in [`datapath`], its
//! release facts in [`cni::facts`], the AWS side in `vpc_path`; all follow `docs/datapath.md`.
//! `analysis` computes each cluster's verdict matrix, `findings` reads it, and `audit` sits
//! above both. [`lifecycle`] turns successive reports into NEW / CHANGED / RESOLVED
//! transitions, with [`suppressions`] keeping chosen findings quiet.
//!
//! The facade: what other crates may use is what this file makes public. The input schema
//! ([`raw`], [`snapshot`]), the model, the CNI's settings, the report and its lifecycle are the
//! public surface; the verdict matrix, the findings and the VPC path are private, so the CLI,
//! the functions and the lab go through [`analyze`]/[`run`]/[`explain`] and the report. (`analysis`
//! is public but hidden only for the core's own property tests and the baseline benchmark.)

#[doc(hidden)]
pub mod analysis;
pub mod asff;
mod audit;
pub mod cidr;
pub mod cni;
pub mod datapath;
pub mod demo;
pub mod filters;
mod findings;
pub mod lifecycle;
pub mod model;
pub mod ocsf;
pub mod org;
mod par;
pub mod problems;
pub mod raw;
pub mod report;
pub mod snapshot;
pub mod suppressions;
mod verdict;
mod vpc_path;

/// The hash maps of the analysis and the findings: keyed by ids, class keys and workloads hashed
/// tens of thousands of times per cluster, with a fast, fixed hash (no map's order is output).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
/// The set that goes with [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

pub use analysis::{Explanation, explain};
pub use audit::{AnalyzeOptions, Audit, analyze, run};
pub use model::{Model, Overrides};
pub use report::Report;
pub use snapshot::{SnapshotError, SourceFile};

/// Reads snapshot files, validates them and analyses the result: the offline audit in one call.
pub fn audit(
    files: &[SourceFile],
    overrides: &Overrides,
    options: &AnalyzeOptions,
) -> Result<Report, SnapshotError> {
    let loaded = snapshot::load(files).into_result()?;
    let model = Model::new(&loaded.documents, &loaded.problems, overrides);
    Ok(analyze(&model, options))
}
