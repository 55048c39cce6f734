//! Blind spots of an organization run: why a target (an account in a Region) could not be
//! audited, typed from the error AWS gave, with the remedy; its state between runs; and the
//! `ACCOUNT_UNREACHABLE` announcements: NEW once when a target goes blind, CHANGED only when the
//! reason changes, RESOLVED when it is audited again or is no longer planned. A blind target is
//! never a clean one: the digest's headline counts it out.

use serde::{Deserialize, Serialize};

use crate::lifecycle::Marker;

use super::plan::Target;

/// The code of the finding a blind target raises.
pub const ACCOUNT_UNREACHABLE: &str = "ACCOUNT_UNREACHABLE";

/// Why a target could not be audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Blocker {
    /// `sts:AssumeRole` refused: STS answers AccessDenied alike when the role does not exist,
    /// when its trust policy does not name the hub's function role, and when the ExternalId
    /// differs.
    RoleNotAssumable { role_arn: String },
    /// A service control policy of the organization denies a read podreach needs.
    ScpDenied { action: String },
    /// The member role lacks a read podreach needs (an older member stack).
    ActionDenied { action: String },
    /// An opt-in Region not enabled for the account: its credentials are not valid there.
    RegionNotEnabled,
    /// AWS kept throttling after every retry (the request budget is per account and Region, and
    /// shared with the VPC CNI on every node).
    Throttled { action: String },
    /// Anything else: the error as AWS gave it.
    Failed { action: String },
}

impl Blocker {
    /// Types an error of `action` (`sts:AssumeRole`, `ec2:DescribeNetworkInterfaces`) from its
    /// code and message. `role_arn` is the member role the target is read through.
    pub fn classify(action: &str, code: &str, message: &str, role_arn: &str) -> Blocker {
        let lower = message.to_ascii_lowercase();
        if code == "OptInRequired"
            || lower.contains("not enabled for this account")
            || lower.contains("is not enabled")
            // A session's credentials used in a Region not enabled for its account: EC2 says
            // AuthFailure, STS-style services InvalidClientTokenId, EKS (a JSON protocol)
            // UnrecognizedClientException.
            || (matches!(
                code,
                "InvalidClientTokenId" | "AuthFailure" | "UnrecognizedClientException"
            )
                && !action.starts_with("sts:AssumeRole"))
        {
            return Blocker::RegionNotEnabled;
        }
        if lower.contains("service control policy") {
            return Blocker::ScpDenied {
                action: action.to_owned(),
            };
        }
        if matches!(
            code,
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
        ) {
            return Blocker::Throttled {
                action: action.to_owned(),
            };
        }
        if action == "sts:AssumeRole" && matches!(code, "AccessDenied" | "AccessDeniedException") {
            return Blocker::RoleNotAssumable {
                role_arn: role_arn.to_owned(),
            };
        }
        if matches!(
            code,
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
        ) {
            return Blocker::ActionDenied {
                action: action.to_owned(),
            };
        }
        Blocker::Failed {
            action: action.to_owned(),
        }
    }

    /// A short name for messages and the state (`role-not-assumable`).
    pub fn kind(&self) -> &'static str {
        match self {
            Blocker::RoleNotAssumable { .. } => "role-not-assumable",
            Blocker::ScpDenied { .. } => "scp-denied",
            Blocker::ActionDenied { .. } => "action-denied",
            Blocker::RegionNotEnabled => "region-not-enabled",
            Blocker::Throttled { .. } => "throttled",
            Blocker::Failed { .. } => "failed",
        }
    }

    /// What to do about it, for the account's owner.
    pub fn remedy(&self, target: &Target) -> String {
        let Target { account, region } = target;
        match self {
            Blocker::RoleNotAssumable { role_arn } => format!(
                "create {role_arn} (deploy infra/member.yaml: the StackSet covers the member accounts, the management account needs it as a stack of its own) and check that its trust policy names the hub's function roles and the ExternalId the hub sends"
            ),
            Blocker::ScpDenied { action } => format!(
                "a service control policy denies {action} in account {account} ({region}): exempt the podreach member role from it, or exclude the account (ExcludeAccounts) so the gap is deliberate"
            ),
            Blocker::ActionDenied { action } => format!(
                "the member role in account {account} may not call {action}: update the member stack (infra/member.yaml) to this version's policy"
            ),
            Blocker::RegionNotEnabled => format!(
                "{region} is not enabled for account {account} (an opt-in Region): enable it (aws account enable-region --account-id {account} --region-name {region}) or remove it from Regions"
            ),
            Blocker::Throttled { action } => format!(
                "{action} kept being throttled in account {account} ({region}) after every retry: lower AccountConcurrency, or audit at a quieter hour (ScheduleExpression)"
            ),
            Blocker::Failed { action } => format!(
                "{action} failed in account {account} ({region}): see the error; the next run retries"
            ),
        }
    }
}

/// What became of a target in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetOutcome {
    /// Audited: how many clusters were analysed (a target with no cluster is audited too).
    Audited { clusters: usize },
    /// Not audited, and why; `error` is AWS's own text.
    Blind { blocker: Blocker, error: String },
}

/// A target's record between runs (one item per target in the state table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    pub target: Target,
    /// Unix seconds of the last run that audited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<i64>,
    /// The current blind spot: its reason, AWS's error, and since when (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocker: Option<Blocker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blind_since: Option<i64>,
}

/// An `ACCOUNT_UNREACHABLE` announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetChange {
    pub marker: Marker,
    pub target: Target,
    /// The reason (for RESOLVED, the reason that is over).
    pub blocker: Blocker,
    pub error: Option<String>,
    pub remedy: Option<String>,
    /// Since when it was blind (Unix seconds).
    pub since: i64,
    /// Why RESOLVED: audited again, or no longer planned.
    pub why: Option<&'static str>,
}

impl TargetChange {
    /// The finding's stable id: one per target, whatever the reason.
    pub fn finding_id(&self) -> String {
        format!("{ACCOUNT_UNREACHABLE}/{}", self.target.key())
    }

    pub fn title(&self) -> String {
        let Target { account, region } = &self.target;
        match self.marker {
            Marker::Resolved => {
                format!("Account {account} in {region} is audited again")
            }
            _ => format!(
                "Account {account} in {region} could not be audited ({}): its clusters' paths are not verified",
                self.blocker.kind()
            ),
        }
    }
}

/// One target's step: its new state and the announcement, if any.
pub fn step(
    previous: Option<&TargetState>,
    target: &Target,
    outcome: &TargetOutcome,
    now: i64,
) -> (TargetState, Option<TargetChange>) {
    let mut state = previous.cloned().unwrap_or_else(|| TargetState {
        target: target.clone(),
        last_success: None,
        blocker: None,
        last_error: None,
        blind_since: None,
    });
    match outcome {
        TargetOutcome::Audited { .. } => {
            let change = state.blocker.take().map(|blocker| TargetChange {
                marker: Marker::Resolved,
                target: target.clone(),
                blocker,
                error: None,
                remedy: None,
                since: state.blind_since.unwrap_or(now),
                why: Some("audited again"),
            });
            state.last_success = Some(now);
            state.last_error = None;
            state.blind_since = None;
            (state, change)
        }
        TargetOutcome::Blind { blocker, error } => {
            let marker = match &state.blocker {
                None => Some(Marker::New),
                Some(old) if old != blocker => Some(Marker::Changed),
                Some(_) => None,
            };
            let since = *state.blind_since.get_or_insert(now);
            state.blocker = Some(blocker.clone());
            state.last_error = Some(error.clone());
            let change = marker.map(|marker| TargetChange {
                marker,
                target: target.clone(),
                blocker: blocker.clone(),
                error: Some(error.clone()),
                remedy: Some(blocker.remedy(target)),
                since,
                why: None,
            });
            (state, change)
        }
    }
}

/// The run as a whole: how many targets were audited out of those planned, the blind ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub planned: usize,
    pub audited: usize,
    pub blind: Vec<(Target, Blocker)>,
    /// Planned targets with no outcome at all (the run ended before them).
    pub missing: Vec<Target>,
}

impl Coverage {
    pub fn complete(&self) -> bool {
        self.audited == self.planned
    }

    /// The digest's first line: "12 of 14 accounts × Regions audited; 2 not: …".
    pub fn headline(&self) -> String {
        let mut out = format!(
            "{} of {} accounts × Regions audited",
            self.audited, self.planned
        );
        if !self.complete() {
            let mut not: Vec<String> = self
                .blind
                .iter()
                .map(|(t, b)| format!("{} ({})", t.key(), b.kind()))
                .collect();
            not.extend(
                self.missing
                    .iter()
                    .map(|t| format!("{} (no result)", t.key())),
            );
            out.push_str(&format!(
                "; {} not: {}",
                self.planned - self.audited,
                not.join(", ")
            ));
        }
        out
    }
}

/// Steps every planned target through its outcome, and resolves the blind spots of targets no
/// longer planned. Returns the new states (planned targets only, in plan order), the
/// announcements and the coverage.
pub fn coverage(
    planned: &[Target],
    outcomes: &std::collections::BTreeMap<Target, TargetOutcome>,
    previous: &[TargetState],
    now: i64,
) -> (Vec<TargetState>, Vec<TargetChange>, Coverage) {
    let before: std::collections::BTreeMap<&Target, &TargetState> =
        previous.iter().map(|s| (&s.target, s)).collect();
    let mut states = Vec::with_capacity(planned.len());
    let mut changes = Vec::new();
    let mut cover = Coverage {
        planned: planned.len(),
        audited: 0,
        blind: Vec::new(),
        missing: Vec::new(),
    };
    for target in planned {
        let Some(outcome) = outcomes.get(target) else {
            // No result: neither audited nor known blind; its state stays as it was.
            cover.missing.push(target.clone());
            if let Some(state) = before.get(target) {
                states.push((*state).clone());
            }
            continue;
        };
        match outcome {
            TargetOutcome::Audited { .. } => cover.audited += 1,
            TargetOutcome::Blind { blocker, .. } => {
                cover.blind.push((target.clone(), blocker.clone()));
            }
        }
        let (state, change) = step(before.get(target).copied(), target, outcome, now);
        states.push(state);
        changes.extend(change);
    }
    let planned_set: std::collections::BTreeSet<&Target> = planned.iter().collect();
    for state in previous {
        if planned_set.contains(&state.target) {
            continue;
        }
        if let Some(blocker) = &state.blocker {
            changes.push(TargetChange {
                marker: Marker::Resolved,
                target: state.target.clone(),
                blocker: blocker.clone(),
                error: None,
                remedy: None,
                since: state.blind_since.unwrap_or(now),
                why: Some(
                    "no longer planned (left the organization, excluded, or its Region removed)",
                ),
            });
        }
    }
    (states, changes, cover)
}
