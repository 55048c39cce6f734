//! The VPC CNI's version and settings, resolved once into typed values that remember their source.
//!
//! Settings arrive from up to four places with a fixed precedence: explicit CLI flags, the
//! `aws-node` DaemonSet's environment, the EKS add-on's `configurationValues`, and the default of
//! the CNI version in use (docs/datapath.md §9). Every resolved value records where it came from so the
//! report can say, for instance, "NODE_PORT_SUPPORT=false (from the aws-node DaemonSet)". Values
//! are parsed the way the CNI parses them (Go `strconv.ParseBool`, `parseCIDRString`), falling
//! back to the default exactly where the CNI does, and each such fallback is written down as a note.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;
use serde::Serialize;

pub mod facts;
mod resolve;
mod settings;
mod version;

pub use settings::{
    CONFIGURE_RPFILTER, CONNMARK, CUSTOM_NETWORK_CFG, ENABLE_IPV6, ENABLE_MULTI_NIC,
    ENABLE_POD_ENI, ENABLE_PREFIX_DELEGATION, ENABLE_SUBNET_DISCOVERY, EXCLUDE_SNAT_CIDRS,
    EXTERNAL_SERVICE_CIDRS, EXTERNALSNAT, MODELLED, NODE_PORT_SUPPORT,
    POD_SECURITY_GROUP_ENFORCING_MODE, RANDOMIZESNAT, SkippedEntry, TRIMS_CIDR_LISTS,
    UNKNOWN_VERSION, VERSION_SOURCES, VETHPREFIX, parse_cidr_list,
};
pub use version::Version;

/// Where a setting's value came from, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingSource {
    /// `--cni-version` / `--cni-env` / `--rp-filter-*` on the command line.
    Cli,
    /// The `aws-node` DaemonSet (`kubectl get daemonset aws-node -o json`).
    Daemonset,
    /// The EKS add-on (`aws eks describe-addon`), its version or `configurationValues`.
    Addon,
    /// The CNI's built-in default for the version in use.
    Default,
    /// Not visible anywhere; podreach assumed it and says so.
    Assumed,
    /// Set by `valueFrom` (a ConfigMap or Secret) the snapshot does not hold: the value is
    /// unknown, the default is modelled and, where the value can change a verdict, the other
    /// outcome too (see [`UnknownSetting`]).
    Unknown,
}

impl fmt::Display for SettingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SettingSource::Cli => "command line",
            SettingSource::Daemonset => "aws-node DaemonSet",
            SettingSource::Addon => "EKS add-on",
            SettingSource::Default => "CNI default",
            SettingSource::Assumed => "assumed",
            SettingSource::Unknown => "unknown: valueFrom",
        })
    }
}

/// Raw CNI inputs gathered per source, before resolution.
#[derive(Debug, Clone, Default)]
pub struct CniInputs {
    pub cli_version: Option<Version>,
    pub cli_env: BTreeMap<String, String>,
    /// Image of the `aws-node` container, when a DaemonSet dump is present.
    pub daemonset_image: Option<String>,
    /// Other places of the DaemonSet that name the version, used when the image is pinned by
    /// digest alone: `(where, text)`, e.g. the init container's image, `VPC_CNI_VERSION`.
    pub daemonset_version_hints: Vec<(String, String)>,
    pub daemonset_env: BTreeMap<String, String>,
    /// Variables the DaemonSet sets by `valueFrom`, with where from (`configMapKeyRef cm/key`).
    pub daemonset_value_from: BTreeMap<String, String>,
    /// `Some(true)` when the DaemonSet has the `aws-vpc-cni-init` init container.
    pub daemonset_has_init: Option<bool>,
    pub addon_version: Option<String>,
    pub addon_env: BTreeMap<String, String>,
    /// Host facts the user told podreach (`--rp-filter-primary`, `--rp-filter-secondary`).
    pub cli_rp_filter_primary: Option<u8>,
    pub cli_rp_filter_secondary: Option<u8>,
}

/// One resolved setting as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedSetting {
    pub name: String,
    pub value: String,
    pub source: SettingSource,
    /// The CNI's default for the modelled version, when podreach models the variable.
    pub default: Option<String>,
}

/// `POD_SECURITY_GROUP_ENFORCING_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SgpMode {
    Strict,
    Standard,
}

/// The CNI configuration of one cluster, typed, with the version it applies to.
#[derive(Debug, Clone)]
pub struct CniConfig {
    /// The version whose behaviour is modelled (the newest specified one when unknown).
    pub version: Version,
    /// `None` when no source named the version.
    pub version_source: Option<SettingSource>,
    pub external_snat: bool,
    pub exclude_snat_cidrs: Vec<Ipv4Net>,
    pub external_service_cidrs: Vec<Ipv4Net>,
    pub node_port_support: bool,
    pub connmark: u32,
    pub randomize_snat: String,
    pub veth_prefix: String,
    pub custom_networking: bool,
    pub pod_eni: bool,
    pub sgp_mode: SgpMode,
    pub prefix_delegation: bool,
    pub ipv6: bool,
    pub multi_nic: bool,
    pub subnet_discovery: bool,
    /// Effective `rp_filter` of the primary interface; `None` = unknown (docs/datapath.md §2.6).
    pub rp_filter_primary: Option<u8>,
    pub rp_filter_primary_source: SettingSource,
    /// Effective `rp_filter` of secondary interfaces; unknown unless told (OS default).
    pub rp_filter_secondary: Option<u8>,
    /// Every setting with its value and source, in the order the report lists them.
    pub settings: Vec<ResolvedSetting>,
    /// Things said about the configuration that the reader should know (ignored values, …).
    pub notes: Vec<String>,
    /// Assumptions the configuration forces on every verdict of the cluster.
    pub assumptions: Vec<String>,
    /// Settings whose value the snapshot does not show (`valueFrom`).
    pub unknown: Vec<UnknownSetting>,
}

/// A setting given by `valueFrom`, or a CNI version no source names. The default (the newest
/// modelled release, for a version) is modelled; when the setting can change a verdict without
/// changing which ENIs hold pod addresses, `alternative` is the configuration with the other
/// extreme (the other boolean; every destination in a CIDR list; another modelled release), and
/// the analysis evaluates both: a verdict that differs between them is `unknown`, naming the
/// setting.
#[derive(Debug, Clone)]
pub struct UnknownSetting {
    pub name: String,
    /// Where the value comes from, e.g. `configMapKeyRef aws-node-config/snat`.
    pub from: String,
    /// The value the alternative configuration uses.
    pub alternative_value: Option<String>,
    pub alternative: Option<Box<CniConfig>>,
    /// For an unknown version: the release `alternative` models.
    pub version: Option<Version>,
}
