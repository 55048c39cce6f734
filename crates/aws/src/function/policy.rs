//! How a run of the audit behaves, decided once by its handler: the one place where `on-change`
//! and `scheduled-audit` differ.
//!
//! Both functions run the same steps ([`super::run`]). What used to be a `Kind` tested in each
//! step is one [`RunPolicy`] value, built from the configuration when the handler starts, and
//! each step reads the one field it needs, so a reader sees every difference between the two
//! functions side by side in [`RunPolicy::on_change`] and [`RunPolicy::scheduled`].

use super::config::FunctionConfig;

/// What a run may conclude and what it sends beyond the changes of its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunPolicy {
    /// When set, a scope made only of ENIs and instances (a node event) is audited as those
    /// nodes against their cluster's cached context no older than this many seconds
    /// ([`crate::context`]), instead of collecting the whole cluster.
    pub(crate) node_context_max_age: Option<i64>,
    /// Narrow the event's scope to what the clusters' nodes own before collecting
    /// (`super::ownership`): someone else's ENI costs at most one lookup and no audit.
    pub(crate) scope_by_ownership: bool,
    /// A run whose collection found no cluster audits nothing (an event about something that
    /// is not part of an EKS cluster); otherwise it still reconciles the stored state.
    pub(crate) ignore_without_clusters: bool,
    /// Reconcile every stored cluster of the account and region, not only the audited ones.
    pub(crate) reconcile_all: bool,
    /// Trust the collection to tell deleted clusters: its listing of every cluster of the region
    /// (when it made one) and the clusters EKS says do not exist.
    pub(crate) knows_deletions: bool,
    /// Seconds after its last message an open finding is recalled; `None`: never.
    pub(crate) renotify_after: Option<i64>,
    /// Publish a digest of the audit after the findings' messages.
    pub(crate) digest: bool,
    /// Import the findings into Security Hub (`SECURITY_HUB`): only a run that sees whole
    /// clusters, since an import replaces the finding's record there.
    pub(crate) security_hub: bool,
}

impl RunPolicy {
    /// `on-change`: publishes only what changed in its scope; a node event may be audited
    /// against the cached context.
    pub(crate) fn on_change(config: &FunctionConfig) -> Self {
        RunPolicy {
            node_context_max_age: config.context_max_age,
            scope_by_ownership: true,
            ignore_without_clusters: true,
            reconcile_all: false,
            knows_deletions: false,
            renotify_after: None,
            digest: false,
            security_hub: false,
        }
    }

    /// `scheduled-audit`: reconciles every stored cluster, recalls open findings and adds a
    /// digest.
    pub(crate) fn scheduled(config: &FunctionConfig) -> Self {
        RunPolicy {
            node_context_max_age: None,
            scope_by_ownership: false,
            ignore_without_clusters: false,
            reconcile_all: true,
            knows_deletions: true,
            renotify_after: config.renotify_after,
            digest: true,
            security_hub: config.security_hub,
        }
    }

    /// One target of an organization run (`audit-worker`): the scheduled audit's policy, without
    /// a digest of its own, since the organization gets one.
    pub(crate) fn organization_target(config: &FunctionConfig) -> Self {
        RunPolicy {
            digest: false,
            ..RunPolicy::scheduled(config)
        }
    }
}
