//! The organization's accounts from Organizations: `ListAccounts` (state and name), and, only
//! when organizational units are excluded, the path of units above each account, walked from the
//! root with `ListOrganizationalUnitsForParent` and `ListAccountsForParent` (one pair of calls
//! per unit, not one call per account: an organization has far fewer units than accounts).

use std::collections::BTreeMap;

use podreach_core::org::{Account, AccountState};
use thiserror::Error;

use crate::error::ApiFailure;

/// Organizations could not list the accounts: the run cannot be planned, and says why.
#[derive(Debug, Error)]
#[error(
    "the organization's accounts could not be listed ({0}): run the hub in the management account or a delegated administrator account, with organizations:ListAccounts (and, with ExcludeOus, organizations:ListRoots, ListOrganizationalUnitsForParent and ListAccountsForParent), or list the accounts in Accounts"
)]
pub struct OrgError(pub ApiFailure);

/// Every account of the organization; with `with_units`, each with its organizational units.
/// `config` is the caller's (the management account, or a delegated administrator).
pub async fn list_accounts(
    config: &aws_config::SdkConfig,
    with_units: bool,
) -> Result<Vec<Account>, OrgError> {
    let client = &aws_sdk_organizations::Client::new(config);
    let mut accounts: Vec<Account> = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| OrgError(ApiFailure::from_sdk("organizations:ListAccounts", e)))?;
        for a in page.accounts() {
            let Some(id) = a.id() else { continue };
            accounts.push(Account {
                id: id.to_owned(),
                name: a.name().map(str::to_owned),
                state: AccountState::parse(a.status().map_or("UNKNOWN", |s| s.as_str())),
                ous: Vec::new(),
            });
        }
    }
    if with_units {
        let paths = unit_paths(client).await?;
        for account in &mut accounts {
            if let Some(path) = paths.get(&account.id) {
                account.ous = path.clone();
            }
        }
    }
    Ok(accounts)
}

/// The units above each account (nearest last), walked breadth first from the roots.
async fn unit_paths(
    client: &aws_sdk_organizations::Client,
) -> Result<BTreeMap<String, Vec<String>>, OrgError> {
    let mut paths = BTreeMap::new();
    let mut pending: Vec<(String, Vec<String>)> = Vec::new();
    let mut roots = client.list_roots().into_paginator().send();
    while let Some(page) = roots.next().await {
        let page =
            page.map_err(|e| OrgError(ApiFailure::from_sdk("organizations:ListRoots", e)))?;
        pending.extend(
            page.roots()
                .iter()
                .filter_map(|r| r.id())
                .map(|id| (id.to_owned(), Vec::new())),
        );
    }
    while let Some((parent, path)) = pending.pop() {
        let mut accounts = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = accounts.next().await {
            let page = page.map_err(|e| {
                OrgError(ApiFailure::from_sdk(
                    "organizations:ListAccountsForParent",
                    e,
                ))
            })?;
            for a in page.accounts().iter().filter_map(|a| a.id()) {
                paths.insert(a.to_owned(), path.clone());
            }
        }
        let mut units = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = units.next().await {
            let page = page.map_err(|e| {
                OrgError(ApiFailure::from_sdk(
                    "organizations:ListOrganizationalUnitsForParent",
                    e,
                ))
            })?;
            for unit in page.organizational_units().iter().filter_map(|u| u.id()) {
                let mut below = path.clone();
                below.push(unit.to_owned());
                pending.push((unit.to_owned(), below));
            }
        }
    }
    Ok(paths)
}
