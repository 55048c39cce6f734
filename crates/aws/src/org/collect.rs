//! One target's collection: a session in its account through the member role, then the same
//! collector as a single-account audit, in the target's Region. Whatever keeps the target from
//! being collected at all (the role refused, the cluster list denied, the Region not enabled)
//! comes back typed as the core's [`Blocker`] with AWS's text; what only keeps part of it from
//! being read (a cluster, a far side) stays in the collection as its gaps, as in any audit.

use aws_config::SdkConfig;
use podreach_core::org::{Blocker, Target};

use super::TargetSession;

use crate::collect::{Collect as _, Collection, Collector, CollectorSettings, MemberRole, Scope};
use crate::error::CollectError;

/// Collects every cluster of `target` through `role`; `base` is the hub's configuration. The
/// session comes back with the collection, for what else is done in that account (its Security
/// Hub).
pub async fn collect_target(
    base: &SdkConfig,
    target: &Target,
    role: &MemberRole,
    settings: &CollectorSettings,
) -> Result<(Collection, TargetSession), (Blocker, String)> {
    let session = super::session(base, target, role).await?;
    let collector = Collector::new(&session.config, settings);
    collector
        .collect(&Scope::AllClusters)
        .await
        .map(|collection| (collection, session.clone()))
        .map_err(|error| {
            let failure = match &error {
                CollectError::ListClusters(f) | CollectError::Resolve(f) => f,
            };
            let code = failure.code.clone().unwrap_or_default();
            (
                Blocker::classify(failure.action, &code, &failure.message, &session.role_arn),
                error.to_string(),
            )
        })
}
