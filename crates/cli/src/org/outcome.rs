//! What became of one target of `podreach org audit`: its report (with the session in its
//! account and what EKS said of its clusters), or why there is none. Its own module so the run
//! (`audit`), the output (`report`) and the Security Hub step (`security_hub`) all read it
//! without reading each other.

use podreach_aws::collect::ClusterListing;
use podreach_aws::org::TargetSession;
use podreach_core::org::Blocker;
use podreach_core::report::Report;

/// One target's result: its report, or why there is none.
pub(super) enum Outcome {
    Audited(Box<Audited>),
    Blind { blocker: Blocker, error: String },
}

/// An audited target: its report, the session in its account, and what EKS said of its
/// clusters (which are gone).
pub(super) struct Audited {
    pub(super) report: Report,
    pub(super) session: TargetSession,
    pub(super) listing: ClusterListing,
}
