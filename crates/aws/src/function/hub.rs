//! The hub's production capabilities: [`HubOrganization`] (Organizations' accounts and the audit
//! queue, for the scheduled audit's plan) and [`HubSessions`] (a target's collector and
//! publisher through its member role, for the audit worker: the role assumed, then one EC2 read
//! to prove it can read there, so a role without EC2 or an account throttled to a standstill is
//! a typed blind spot rather than an audit of nothing). The handlers only see the
//! `Organization` and `Sessions` traits, so their tests run with doubles.

use aws_config::SdkConfig;
use podreach_core::org::{Account, Blocker, Queued, Target};

use crate::error::ApiFailure;
use crate::org::OrgError;
use crate::publish::Outlet;
use crate::{Collector, CollectorSettings, MemberRole};

use super::organization::Organization;
use super::worker::{Opened, Sessions};

/// Organizations and the audit queue, with the hub's credentials.
#[derive(Debug, Clone)]
pub struct HubOrganization {
    pub sdk: SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Organization for HubOrganization {
    async fn accounts(&self, with_units: bool) -> Result<Vec<Account>, OrgError> {
        crate::org::list_accounts(&self.sdk, with_units).await
    }

    async fn enqueue(&self, queued: &[Queued]) -> Vec<(Queued, ApiFailure)> {
        crate::org::queue::send(&self.sqs, &self.queue_url, queued).await
    }
}

/// Opens a target through the member role: its collector, and the hub's outlet (its topic, or
/// the dry run's log) importing into Security Hub of the target's account when `security_hub`
/// is set.
#[derive(Debug, Clone)]
pub struct HubSessions {
    pub sdk: SdkConfig,
    pub role: MemberRole,
    pub settings: CollectorSettings,
    pub outlet: Outlet,
    pub security_hub: bool,
}

impl Sessions for HubSessions {
    type Collector = Collector;
    type Publisher = Outlet;

    async fn open(&self, target: &Target) -> Result<Opened<Collector, Outlet>, (Blocker, String)> {
        let session = crate::org::session(&self.sdk, target, &self.role).await?;
        crate::org::probe(&session).await?;
        let collector = Collector::new(&session.config, &self.settings);
        let publisher = if self.security_hub {
            self.outlet
                .clone()
                .with_security_hub(crate::securityhub::SecurityHub::new(&session.config))
        } else {
            self.outlet.clone()
        };
        Ok(Opened {
            collector,
            publisher,
            role_arn: session.role_arn,
        })
    }
}
