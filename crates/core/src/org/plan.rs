//! Planning an organization run: the accounts (ACTIVE only), minus the exclusions (accounts,
//! organizational units and everything under them), times the Regions, as targets in a stable
//! order; and every account left out, with why, so the digest can say it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An account's state in Organizations (`ListAccounts`' `Status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountState {
    Active,
    Suspended,
    PendingClosure,
    /// A state this version does not know: not audited, and said so.
    Other(String),
}

impl AccountState {
    /// Organizations' name for it (`ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`).
    pub fn parse(status: &str) -> AccountState {
        match status {
            "ACTIVE" => AccountState::Active,
            "SUSPENDED" => AccountState::Suspended,
            "PENDING_CLOSURE" => AccountState::PendingClosure,
            other => AccountState::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            AccountState::Active => "ACTIVE",
            AccountState::Suspended => "SUSPENDED",
            AccountState::PendingClosure => "PENDING_CLOSURE",
            AccountState::Other(other) => other,
        }
    }
}

/// An account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Twelve digits.
    pub id: String,
    /// The account's name in Organizations, shown next to the id in messages.
    pub name: Option<String>,
    pub state: AccountState,
    /// The organizational units it sits under, nearest last (`ou-…` ids; the root is not one).
    /// Empty when unknown (the `Accounts` parameter lists ids only).
    pub ous: Vec<String>,
}

/// What to audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `ExcludeAccounts`.
    pub exclude_accounts: BTreeSet<String>,
    /// `ExcludeOus`: accounts under any of them, at any depth, are left out.
    pub exclude_ous: BTreeSet<String>,
    /// `Regions`, in the order given.
    pub regions: Vec<String>,
}

/// One account in one Region: the unit an organization run audits, retries and reports on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    pub account: String,
    pub region: String,
}

impl Target {
    /// `111122223333/eu-west-1`: the key of its state and of its blind-spot finding.
    pub fn key(&self) -> String {
        format!("{}/{}", self.account, self.region)
    }
}

/// Why an account is not audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Skip {
    /// Not ACTIVE in Organizations (suspended, closing).
    NotActive { state: String },
    /// Listed in `ExcludeAccounts`.
    ExcludedAccount,
    /// Under an organizational unit of `ExcludeOus`.
    ExcludedOu { ou: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub account: String,
    #[serde(flatten)]
    pub skip: Skip,
}

/// The run: the targets in (account, Region) order, and the accounts left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub skipped: Vec<Skipped>,
}

/// A selection that cannot be planned: said before anything runs, never a silently smaller run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("no Region to audit: set Regions (REGIONS)")]
    NoRegions,
    #[error("account id {0:?} is not 12 digits (Accounts / ExcludeAccounts)")]
    BadAccountId(String),
    #[error("Region {0:?} is listed twice (Regions)")]
    RepeatedRegion(String),
    #[error(
        "ExcludeAccounts names {0}, which is not an account of the organization: a typo would audit an account meant to be left out"
    )]
    UnknownExclusion(String),
    /// A run of no target would read as a clean one.
    #[error(
        "nothing to audit: {listed} account(s) listed, none left after their states and the exclusions"
    )]
    NothingToAudit { listed: usize },
}

fn account_id(id: &str) -> Result<(), PlanError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PlanError::BadAccountId(id.to_owned()))
    }
}

/// Accounts listed by hand (`Accounts`, `--account`): their states are not read from
/// Organizations and are taken as ACTIVE (the output says so).
pub fn listed(ids: &[String]) -> Vec<Account> {
    ids.iter()
        .map(|id| Account {
            id: id.clone(),
            name: None,
            state: AccountState::Active,
            ous: Vec::new(),
        })
        .collect()
}

/// Plans the run over `accounts` (each once; a repeated id counts once).
pub fn plan(accounts: &[Account], selection: &Selection) -> Result<Plan, PlanError> {
    if selection.regions.is_empty() {
        return Err(PlanError::NoRegions);
    }
    let mut regions = BTreeSet::new();
    for region in &selection.regions {
        if !regions.insert(region.as_str()) {
            return Err(PlanError::RepeatedRegion(region.clone()));
        }
    }
    for account in accounts {
        account_id(&account.id)?;
    }
    let known: BTreeSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    for excluded in &selection.exclude_accounts {
        account_id(excluded)?;
        if !known.contains(excluded.as_str()) {
            return Err(PlanError::UnknownExclusion(excluded.clone()));
        }
    }
    let mut sorted: Vec<&Account> = accounts.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted.dedup_by(|a, b| a.id == b.id);
    let mut out = Plan::default();
    for account in sorted {
        let skip = if selection.exclude_accounts.contains(&account.id) {
            Some(Skip::ExcludedAccount)
        } else if let Some(ou) = account
            .ous
            .iter()
            .find(|ou| selection.exclude_ous.contains(*ou))
        {
            Some(Skip::ExcludedOu { ou: ou.clone() })
        } else if account.state != AccountState::Active {
            Some(Skip::NotActive {
                state: account.state.as_str().to_owned(),
            })
        } else {
            None
        };
        match skip {
            Some(skip) => out.skipped.push(Skipped {
                account: account.id.clone(),
                skip,
            }),
            None => out
                .targets
                .extend(selection.regions.iter().map(|region| Target {
                    account: account.id.clone(),
                    region: region.clone(),
                })),
        }
    }
    if out.targets.is_empty() {
        return Err(PlanError::NothingToAudit {
            listed: accounts.len(),
        });
    }
    Ok(out)
}
