//! The functions' configuration: the environment, read once per process into a
//! [`FunctionConfig`].
//!
//! Every setting is checked when the process starts, so a deployment with a bad value fails its
//! first invocation with a [`ConfigError`] naming the variable, instead of auditing with a
//! default nobody chose. Each variable that takes more than one line to read has a helper of its
//! own; [`FunctionConfig::from_lookup`] only lists them, in the order their errors are reported.

use podreach_core::report::Severity;
use thiserror::Error;

use crate::publish::MessageFormat;

/// Configuration from the environment, read once per process.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// `TOPIC_ARN`; required unless `DRY_RUN=true`.
    pub topic_arn: Option<String>,
    /// `MESSAGE_FORMAT`: `json` (default) or `chatbot`.
    pub format: MessageFormat,
    /// `DRY_RUN`: log what would be published, publish nothing.
    pub dry_run: bool,
    /// `MIN_SEVERITY`: the least severe finding that gets its own message (default MEDIUM).
    pub min_severity: Severity,
    /// `CLUSTERS`: comma-separated names; empty means every cluster of the region.
    pub clusters: Vec<String>,
    /// `MAX_CONCURRENCY`: EC2/EKS calls in flight (default 4).
    pub max_concurrency: usize,
    /// `PODREACH_TLS_ROOTS`: `amazon` (default, the Amazon Trust Services roots only) or
    /// `platform` (the platform's root certificates; see [`crate::tls`]).
    pub trust_anchors: crate::tls::TrustAnchors,
    /// `STATE_TABLE`: the DynamoDB table of the findings' lifecycle. Unset: the state is kept in
    /// the process's memory, so it lasts only as long as a warm instance (trials only).
    pub state_table: Option<String>,
    /// `SUPPRESSIONS_PARAMETER`: the SSM parameter holding the suppression document.
    pub suppressions_parameter: Option<String>,
    /// `RENOTIFY_HOURS` (default 24; 0 = never): the scheduled audit recalls a finding still open
    /// this long after its last message.
    pub renotify_after: Option<i64>,
    /// `CONTEXT_MAX_AGE_MINUTES` (default 60; 0 = never): how old a cluster's cached context may
    /// be for `on-change` to audit an ENI or instance event as that node against it
    /// ([`crate::context`]) instead of re-collecting the whole cluster.
    pub context_max_age: Option<i64>,
    /// `TCP_PORTS` (`tcp/5432,tcp/443`; the CLI's `--port`s): the TCP ports every verdict is
    /// about. Unset: a path is reachable when some TCP port gets through every filter.
    pub tcp_ports: Vec<u16>,
    /// `KUBERNETES_API`: `eks` (default: each cluster's API with an EKS token of the function's
    /// role) or `off` (the report then says what that leaves unseen).
    pub kubernetes: crate::kube::KubeMode,
    /// `MEMBER_ROLE_NAME` and `MEMBER_EXTERNAL_ID`: the role to read the far side with in the
    /// accounts that own it (the CLI's `--member-role`, `--external-id`).
    pub member_role: Option<crate::MemberRole>,
    /// `REGIONS` (`us-east-1,eu-west-1`; the CLI's repeated `--region`): the Regions this
    /// deployment audits, each on its own. Empty: the function's own Region.
    pub regions: Vec<String>,
    /// `SECURITY_HUB` (`true`/`false`, default false): the scheduled audit imports the findings
    /// into Security Hub of the account and Region audited (ASFF, `BatchImportFindings`).
    pub security_hub: bool,
    /// `ORGANIZATION=true` (the hub): the scheduled audit plans an organization run and queues
    /// it for the audit workers instead of auditing its own account.
    pub organization: Option<OrganizationConfig>,
}

/// The hub's settings (`ORGANIZATION=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationConfig {
    /// `AUDIT_QUEUE_URL`: the FIFO queue of the run's targets.
    pub audit_queue_url: String,
    /// `ACCOUNTS`: the accounts to audit; empty: every account Organizations lists.
    pub accounts: Vec<String>,
    /// `EXCLUDE_ACCOUNTS`.
    pub exclude_accounts: Vec<String>,
    /// `EXCLUDE_OUS`: organizational units left out, at any depth.
    pub exclude_ous: Vec<String>,
    /// `ACCOUNT_CONCURRENCY` (default 1): audits at once in any one account.
    pub account_concurrency: usize,
}

/// A setting in the environment that cannot be used.
#[derive(Debug, Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl FunctionConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let dry_run = flag(&get, "DRY_RUN")?;
        let security_hub = flag(&get, "SECURITY_HUB")?;
        let topic_arn = topic_arn(&get, dry_run)?;
        let format: MessageFormat = parsed(&get, "MESSAGE_FORMAT")?.unwrap_or_default();
        let min_severity: Severity = parsed(&get, "MIN_SEVERITY")?.unwrap_or(Severity::Medium);
        let clusters = clusters(&get);
        let max_concurrency = max_concurrency(&get)?;
        let trust_anchors = crate::tls::TrustAnchors::parse(get("PODREACH_TLS_ROOTS").as_deref())
            .map_err(|message| ConfigError {
            name: "PODREACH_TLS_ROOTS",
            message,
        })?;
        let renotify_after = interval(&get, "RENOTIFY_HOURS", "hours", 3600, 24)?;
        let context_max_age = interval(&get, "CONTEXT_MAX_AGE_MINUTES", "minutes", 60, 60)?;
        let tcp_ports = tcp_ports(&get)?;
        let kubernetes = kubernetes(&get)?;
        let member_role = member_role(&get)?;
        let regions = regions(&get)?;
        let organization = organization(&get)?;
        if organization.is_some() {
            require(
                &get,
                "STATE_TABLE",
                "an organization run is kept in the state table",
            )?;
            if member_role.is_none() {
                return Err(ConfigError {
                    name: "MEMBER_ROLE_NAME",
                    message: "required with ORGANIZATION=true: the role every member account is read through".to_owned(),
                });
            }
        }
        Ok(FunctionConfig {
            organization,
            security_hub,
            regions,
            member_role,
            kubernetes,
            tcp_ports,
            context_max_age,
            state_table: get("STATE_TABLE"),
            suppressions_parameter: get("SUPPRESSIONS_PARAMETER"),
            renotify_after,
            topic_arn,
            format,
            dry_run,
            min_severity,
            clusters,
            max_concurrency,
            trust_anchors,
        })
    }
}

/// `REGIONS`: comma-separated Region names, each once, all in the partition of the function's
/// own Region (`AWS_REGION`; its credentials are valid in no other). A misspelled Region must
/// fail the start, not become an audit that silently covers less.
fn regions(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(text) = get("REGIONS") else {
        return Ok(Vec::new());
    };
    let home = get("AWS_REGION").map(|r| crate::partition_of(&r));
    let mut regions: Vec<String> = Vec::new();
    for region in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !is_region_name(region) {
            return Err(ConfigError {
                name: "REGIONS",
                message: format!(
                    "`{region}` is not a Region name (such as us-east-1 or eu-west-1)"
                ),
            });
        }
        if let Some(home) = home
            && crate::partition_of(region) != home
        {
            return Err(ConfigError {
                name: "REGIONS",
                message: format!(
                    "`{region}` is in partition {}, the function in {home}: its credentials are \
                     valid in no other partition (deploy podreach there)",
                    crate::partition_of(region)
                ),
            });
        }
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_owned());
        }
    }
    Ok(regions)
}

/// `us-east-1`, `us-gov-west-1`, `ap-southeast-2`: letters, dash-separated, a number at the end.
fn is_region_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [first, middle @ .., last] if !middle.is_empty() => {
            first.len() == 2
                && first.chars().all(|c| c.is_ascii_lowercase())
                && middle
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
                && !last.is_empty()
                && last.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// `MEMBER_ROLE_NAME` (an IAM role name, not an ARN) and `MEMBER_EXTERNAL_ID` (only with it).
fn member_role(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::MemberRole>, ConfigError> {
    let external_id = get("MEMBER_EXTERNAL_ID");
    let Some(name) = get("MEMBER_ROLE_NAME") else {
        return match external_id {
            Some(_) => Err(ConfigError {
                name: "MEMBER_EXTERNAL_ID",
                message: "set without MEMBER_ROLE_NAME, the role it is for".to_owned(),
            }),
            None => Ok(None),
        };
    };
    let name = name.trim().to_owned();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !valid {
        return Err(ConfigError {
            name: "MEMBER_ROLE_NAME",
            message: format!(
                "`{name}` is not an IAM role name (1-64 of letters, digits and +=,.@_-; a name, not an ARN)"
            ),
        });
    }
    Ok(Some(crate::MemberRole { name, external_id }))
}

/// A comma-separated list, blanks dropped.
fn list(get: &impl Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    get(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn require(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    why: &str,
) -> Result<String, ConfigError> {
    get(name).ok_or_else(|| ConfigError {
        name,
        message: format!("required with ORGANIZATION=true: {why}"),
    })
}

/// `ORGANIZATION`, and with it `AUDIT_QUEUE_URL`, `ACCOUNTS`, `EXCLUDE_ACCOUNTS`,
/// `EXCLUDE_OUS` and `ACCOUNT_CONCURRENCY`. The account ids are checked by the plan (the core),
/// which names the bad one.
fn organization(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<OrganizationConfig>, ConfigError> {
    if !flag(get, "ORGANIZATION")? {
        return Ok(None);
    }
    let audit_queue_url = require(get, "AUDIT_QUEUE_URL", "the queue the run's targets go to")?;
    let account_concurrency = match get("ACCOUNT_CONCURRENCY") {
        None => 1,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => {
                return Err(ConfigError {
                    name: "ACCOUNT_CONCURRENCY",
                    message: format!("`{text}` is not a number from 1 to 10"),
                });
            }
        },
    };
    Ok(Some(OrganizationConfig {
        audit_queue_url,
        accounts: list(get, "ACCOUNTS"),
        exclude_accounts: list(get, "EXCLUDE_ACCOUNTS"),
        exclude_ous: list(get, "EXCLUDE_OUS"),
        account_concurrency,
    }))
}

/// `DRY_RUN`: true or false (also 1/0, yes/no), false when unset.
/// A `true`/`false` variable (also `1`/`0`, `yes`/`no`); unset is false.
fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(ConfigError {
            name,
            message: format!("`{other}` is not true or false"),
        }),
    }
}

/// `TOPIC_ARN`: an SNS topic ARN, required unless the run is dry.
fn topic_arn(
    get: &impl Fn(&str) -> Option<String>,
    dry_run: bool,
) -> Result<Option<String>, ConfigError> {
    let topic_arn = get("TOPIC_ARN");
    if topic_arn.is_none() && !dry_run {
        return Err(ConfigError {
            name: "TOPIC_ARN",
            message: "is not set (set DRY_RUN=true to run without publishing)".to_owned(),
        });
    }
    if let Some(arn) = &topic_arn
        && !arn.starts_with("arn:")
    {
        return Err(ConfigError {
            name: "TOPIC_ARN",
            message: format!("`{arn}` is not an SNS topic ARN"),
        });
    }
    Ok(topic_arn)
}

/// `CLUSTERS`: the comma-separated names, blanks dropped; empty when unset.
fn clusters(get: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    get("CLUSTERS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `MAX_CONCURRENCY`: a positive number, 4 when unset.
fn max_concurrency(get: &impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    Ok(get("MAX_CONCURRENCY")
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError {
                    name: "MAX_CONCURRENCY",
                    message: format!("`{v}` is not a positive number"),
                })
        })
        .transpose()?
        .unwrap_or(4))
}

/// `TCP_PORTS`: the CLI's `--port` syntax; none when unset.
fn tcp_ports(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<u16>, ConfigError> {
    Ok(get("TCP_PORTS")
        .map(|v| podreach_core::filters::parse_ports(&v))
        .transpose()
        .map_err(|message| ConfigError {
            name: "TCP_PORTS",
            message,
        })?
        .unwrap_or_default())
}

/// `KUBERNETES_API`: `eks` (or `on`, the default) or `off`.
fn kubernetes(get: &impl Fn(&str) -> Option<String>) -> Result<crate::kube::KubeMode, ConfigError> {
    match get("KUBERNETES_API")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("eks" | "on") => Ok(crate::kube::KubeMode::Eks),
        Some("off") => Ok(crate::kube::KubeMode::Off),
        Some(other) => Err(ConfigError {
            name: "KUBERNETES_API",
            message: format!("`{other}` is neither eks nor off"),
        }),
    }
}

/// A whole number of `unit`s in seconds (`seconds_per_unit` each), `default` when unset;
/// 0 means never (`None`).
fn interval(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    unit: &str,
    seconds_per_unit: i64,
    default: i64,
) -> Result<Option<i64>, ConfigError> {
    match get(name) {
        None => Ok(Some(default * seconds_per_unit)),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(n) if n > 0 => Ok(Some(n.saturating_mul(seconds_per_unit))),
            _ => Err(ConfigError {
                name,
                message: format!("`{v}` is not a number of {unit} (0 = never)"),
            }),
        },
    }
}

/// The variable `name` parsed with `FromStr`, when set.
fn parsed<T: std::str::FromStr<Err = String>>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    get(name)
        .map(|v| v.parse())
        .transpose()
        .map_err(|message| ConfigError { name, message })
}
