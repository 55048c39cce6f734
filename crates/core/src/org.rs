//! An AWS Organization audited from one deployment: which accounts × Regions an organization run
//! audits (`plan`), and what it says about those it could not (`coverage`).
//!
//! The tools platform teams use to scan an Organization are most often faulted for a whole run
//! aborted by one failing account, and for failed accounts dropped silently so that a partial
//! scan reads as complete. So the run is planned as independent targets (one account in one
//! Region), each audited on its own, and every target that could not be audited is a blind spot
//! with a typed reason and the remedy, kept between runs: announced once when it appears
//! (`ACCOUNT_UNREACHABLE`), announced again only if its reason changes, RESOLVED when the target
//! is audited again. The digest's headline counts the audited targets out of the planned ones.
//!
//! A deployed organization run goes through a queue, one message per target (`fanout`): what is
//! queued, how the per-account cap rides on FIFO message groups, and the organization's digest.
//!
//! Pure: the caller lists the accounts (Organizations' `ListAccounts` or the `Accounts`
//! parameter), passes the stored target states and the time, and stores what comes back.

mod coverage;
mod fanout;
mod plan;

pub use coverage::{
    ACCOUNT_UNREACHABLE, Blocker, Coverage, TargetChange, TargetOutcome, TargetState, coverage,
    step,
};
pub use fanout::{
    AuditMessage, Queued, RunTarget, TargetResult, digest_lines, queue, run_coverage, run_id,
};
pub use plan::{
    Account, AccountState, Plan, PlanError, Selection, Skip, Skipped, Target, listed, plan,
};
