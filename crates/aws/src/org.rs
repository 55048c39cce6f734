//! The organization run's edges: the accounts Organizations lists (`accounts`), a session in a
//! target account through its member role (`session`), a target's collection through it
//! (`collect`), and running many targets side by side
//! within a cap per account and in all (`targets`); for the deployed hub, the run's messages on
//! the audit queue (`queue`) and the organization's own SNS messages (`messages`). The decisions (what to plan, why a target is
//! blind, what to announce) are the core's (`podreach_core::org`); this module only talks to AWS
//! and turns its answers and refusals into those types.

mod accounts;
mod collect;
pub mod messages;
pub mod queue;
mod session;
mod targets;

pub use accounts::{OrgError, list_accounts};
pub use collect::collect_target;
pub use session::{TargetSession, probe, session};
pub use targets::{Caps, run_targets};
