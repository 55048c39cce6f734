//! What the Lambda functions do, free of the Lambda runtime so it can be tested directly.
//!
//! `functions/on-change` and `functions/scheduled-audit` are thin binaries: they read
//! [`FunctionConfig`] once, build the clients once, and call [`on_change`] or
//! [`scheduled_audit`] for each event with a [`Context`] of capabilities (collect, publish,
//! keep state, read suppressions). Both decide a scope, collect it, audit it with the same code
//! as the CLI, track the findings' lifecycle ([`crate::lifecycle`]) and publish only the
//! changes: NEW, CHANGED and RESOLVED findings, plus, from the scheduled audit, reminders of
//! open findings and a digest. Failures that no report can survive are a [`HandlerError`] with
//! a stable `error_type` the functions hand to Lambda, so a dead-letter queue records why.
//!
//! The module is laid out as the functions' work is done:
//! - `config`: the environment, read into a [`FunctionConfig`];
//! - `runtime`: the [`Runtime`] a process builds once from it;
//! - `batch`: `on-change`'s invocation, SQS records in and a partial batch response out
//!   ([`on_change_invocation`]);
//! - `handlers`: the two handlers for one event; `capabilities`: the [`Context`] they run with;
//! - `policy`: the one value in which the two functions differ; `run`: what every step of one
//!   run shares (configuration, policy, account, region, time);
//! - `sequence`: one audit as a sequence of named steps, each in its own module: `collection`
//!   (plan and collect the event's nodes or whole clusters, the nodes' join to the cached
//!   context in `nodes`), `audit`, `refresh` (the cached contexts), `track` (the lifecycle),
//!   `compose` (the messages) and `deliver`;
//! - `organization` (the hub's scheduled audit: plan an organization run and queue its targets)
//!   and `worker` (`audit-worker`: one target per message, through its member role), with
//!   their production capabilities in `hub`; `members`: `on-change` on the hub, each member
//!   account's forwarded events audited through its role;
//! - `outcome` and `error`: what an invocation answers, [`Outcome`] or [`HandlerError`].

mod audit;
mod batch;
mod capabilities;
mod collection;
mod compose;
mod config;
mod deliver;
mod error;
mod handlers;
mod hub;
mod members;
mod nodes;
mod organization;
mod outcome;
mod ownership;
mod policy;
mod refresh;
mod run;
mod runtime;
mod security_hub;
mod sequence;
mod track;
mod worker;

pub use batch::on_change_invocation;
pub use capabilities::Context;
pub use config::{ConfigError, FunctionConfig, OrganizationConfig};
pub use error::HandlerError;
pub use handlers::{on_change, scheduled_audit, scheduled_audit_in_every_region};
pub use hub::{HubOrganization, HubSessions};
pub use members::on_change_in_organization;
pub use organization::{Organization, plan_run};
pub use outcome::Outcome;
pub use runtime::{Runtime, StartError};
pub use security_hub::SecurityHubOutcome;
pub use worker::{Opened, Sessions, Worker, audit_worker_invocation};
