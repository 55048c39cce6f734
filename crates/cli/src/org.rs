//! `podreach org`: an AWS Organization audited from one place, through a read-only role in every
//! member account (`infra/member.yaml`). `plan` prints what a run covers; `audit` runs it.
//!
//! Both start from the same selection ([`SelectArgs`]): the accounts from Organizations (or
//! `--account`), minus the exclusions, times the Regions, planned by the core
//! (`podreach_core::org::plan`) as the hub's functions plan it.

mod audit;
mod outcome;
mod plan;
mod report;
mod security_hub;

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use podreach_core::org::{Account, Plan, Selection};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Print the targets (account × Region) an organization run audits, and the accounts it
    /// leaves out, with why.
    Plan(plan::PlanArgs),
    /// Audit every target through the member role: one report per account × Region, and the
    /// targets that could not be audited, each with why and the remedy. Exit 3 unless every
    /// target was audited completely.
    Audit(audit::OrgAuditArgs),
}

/// Which accounts and Regions a run covers.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// A Region to audit in every account (repeatable).
    #[arg(long = "region", value_name = "REGION", required = true)]
    regions: Vec<String>,
    /// Audit these accounts instead of asking Organizations for the list (repeatable); their
    /// states are then not known, and are taken as ACTIVE (said in the output).
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Leave this account out (repeatable).
    #[arg(long = "exclude-account", value_name = "ID")]
    exclude_accounts: Vec<String>,
    /// Leave out every account under this organizational unit, at any depth (repeatable).
    #[arg(long = "exclude-ou", value_name = "OU_ID", conflicts_with = "accounts")]
    exclude_ous: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
}

/// Account id → its name in Organizations.
type Names = BTreeMap<String, String>;

impl SelectArgs {
    fn listed(&self) -> bool {
        !self.accounts.is_empty()
    }

    /// The plan, and the accounts' names.
    async fn plan(&self) -> Result<(Plan, Names)> {
        let accounts: Vec<Account> = if self.listed() {
            podreach_core::org::listed(&self.accounts)
        } else {
            let config = podreach_aws::load_config(None).await;
            podreach_aws::org::list_accounts(&config, !self.exclude_ous.is_empty()).await?
        };
        let selection = Selection {
            exclude_accounts: self.exclude_accounts.iter().cloned().collect(),
            exclude_ous: self.exclude_ous.iter().cloned().collect(),
            regions: self.regions.clone(),
        };
        let plan = podreach_core::org::plan(&accounts, &selection)?;
        let names = accounts
            .into_iter()
            .filter_map(|a| a.name.map(|n| (a.id, n)))
            .collect();
        Ok((plan, names))
    }
}

/// What the output must say when the accounts were listed by hand.
fn assumption(listed: bool) -> Option<&'static str> {
    listed.then_some(
        "accounts listed by --account: their states are not read from Organizations and are taken as ACTIVE",
    )
}

pub fn run(command: &OrgCommand) -> Result<ExitCode> {
    match command {
        OrgCommand::Plan(args) => plan::run(args),
        OrgCommand::Audit(args) => audit::run(args),
    }
}
