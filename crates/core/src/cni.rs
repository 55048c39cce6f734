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
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::Serialize;

/// A CNI release, compared on major.minor.patch (docs/datapath.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The newest release docs/datapath.md covers (v1.23.1 preparation, commit `b52188387`).
    pub const NEWEST_SPECIFIED: Version = Version::new(1, 23, 1);

    /// The first release of every span of versions the model tells apart: each release where a
    /// rule of docs/datapath.md (§2.5 the SNAT/connmark block, §2.6 `rp_filter`, §9 the
    /// variables' first releases and parsing) changes, oldest first, ending with
    /// [`Version::NEWEST_SPECIFIED`]. When no source names a cluster's version, every verdict is
    /// evaluated under each of them (docs/datapath.md §10.7); a test holds the datapath's and
    /// the settings' version gates to this list.
    pub const RELEASES_MODELLED: &'static [Version] = &[
        Version::new(1, 1, 0),  // EXTERNALSNAT (PR #81)
        Version::new(1, 2, 0),  // NODE_PORT_SUPPORT, CONNMARK, custom networking; mangle rules
        Version::new(1, 3, 0),  // connmark restore in PREROUTING for every interface
        Version::new(1, 4, 0),  // RANDOMIZESNAT
        Version::new(1, 6, 0),  // EXCLUDE_SNAT_CIDRS
        Version::new(1, 6, 1),  // CONFIGURE_RPFILTER
        Version::new(1, 7, 0),  // aws-vpc-cni-init sets rp_filter=2; ENABLE_POD_ENI; prng
        Version::new(1, 8, 0),  // per-pod `from <pod> lookup <ENI table>` (PR #1475)
        Version::new(1, 9, 0),  // prefix delegation
        Version::new(1, 10, 0), // IPv6
        Version::new(1, 11, 0), // POD_SECURITY_GROUP_ENFORCING_MODE
        Version::new(1, 12, 1), // rule 1024 unless EXTERNALSNAT; ipamd no longer writes rp_filter
        Version::new(1, 12, 6), // AWS_EXTERNAL_SERVICE_CIDRS; CIDR lists trimmed
        Version::new(1, 18, 0), // subnet discovery
        Version::new(1, 20, 0), // multi-card tables (ENABLE_MULTI_NIC)
        Version::new(1, 20, 3), // multi-card table numbering
        Version::new(1, 23, 0), // the EXCLUDE_SNAT_CIDRS=0.0.0.0/0 RETURN rule kept (#3658)
        Version::NEWEST_SPECIFIED,
    ];

    /// Reads a version from an image tag or add-on version such as `v1.18.3-eksbuild.1`, or from a
    /// whole image reference (`…/amazon-k8s-cni:v1.11.4-eksbuild.1`).
    pub fn parse_loose(text: &str) -> Option<Version> {
        // An image reference may end in a digest (`…:v1.11.4-eksbuild.1@sha256:…`), whose own
        // ':' must not be taken for the tag's.
        let reference = text.split('@').next().unwrap_or(text);
        let tag = match reference.rsplit_once(':') {
            // The tag follows the last ':' unless that ':' belongs to a registry port.
            Some((_, tag)) if !tag.contains('/') => tag,
            _ => reference,
        };
        let core = tag.trim().trim_start_matches(['v', 'V']);
        let core = core.split(['-', '+']).next().unwrap_or(core);
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version::new(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse_loose(s).ok_or_else(|| format!("`{s}` is not a CNI version such as v1.18.3"))
    }
}

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

/// The name an unknown version goes by in reasons and settings.
pub const UNKNOWN_VERSION: &str = "CNI version";
/// Why no version is known, as reasons say it.
pub const VERSION_SOURCES: &str =
    "no aws-node DaemonSet image, vpc-cni add-on or --cni-version names it";

/// Variables whose value changes only how packets are treated, not which ENIs hold pod
/// addresses or where: for these both outcomes are evaluated when the value is unknown.
const EVALUATED_BOTH_WAYS: &[&str] = &[
    EXTERNALSNAT,
    NODE_PORT_SUPPORT,
    EXCLUDE_SNAT_CIDRS,
    EXTERNAL_SERVICE_CIDRS,
    CONFIGURE_RPFILTER,
];

pub const EXTERNALSNAT: &str = "AWS_VPC_K8S_CNI_EXTERNALSNAT";
pub const EXCLUDE_SNAT_CIDRS: &str = "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS";
pub const EXTERNAL_SERVICE_CIDRS: &str = "AWS_EXTERNAL_SERVICE_CIDRS";
pub const NODE_PORT_SUPPORT: &str = "AWS_VPC_CNI_NODE_PORT_SUPPORT";
pub const CONNMARK: &str = "AWS_VPC_K8S_CNI_CONNMARK";
pub const RANDOMIZESNAT: &str = "AWS_VPC_K8S_CNI_RANDOMIZESNAT";
pub const VETHPREFIX: &str = "AWS_VPC_K8S_CNI_VETHPREFIX";
pub const CUSTOM_NETWORK_CFG: &str = "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG";
pub const ENABLE_POD_ENI: &str = "ENABLE_POD_ENI";
pub const POD_SECURITY_GROUP_ENFORCING_MODE: &str = "POD_SECURITY_GROUP_ENFORCING_MODE";
pub const ENABLE_PREFIX_DELEGATION: &str = "ENABLE_PREFIX_DELEGATION";
pub const ENABLE_IPV6: &str = "ENABLE_IPv6";
pub const ENABLE_MULTI_NIC: &str = "ENABLE_MULTI_NIC";
pub const ENABLE_SUBNET_DISCOVERY: &str = "ENABLE_SUBNET_DISCOVERY";
pub const CONFIGURE_RPFILTER: &str = "AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER";

/// First release that reads each variable (docs/datapath.md §9).
fn introduced_in(name: &str) -> Option<Version> {
    Some(match name {
        EXTERNALSNAT => Version::new(1, 1, 0),
        EXCLUDE_SNAT_CIDRS => Version::new(1, 6, 0),
        EXTERNAL_SERVICE_CIDRS => Version::new(1, 12, 6),
        NODE_PORT_SUPPORT | CONNMARK | CUSTOM_NETWORK_CFG => Version::new(1, 2, 0),
        RANDOMIZESNAT => Version::new(1, 4, 0),
        VETHPREFIX => Version::new(1, 0, 0),
        ENABLE_POD_ENI => Version::new(1, 7, 0),
        POD_SECURITY_GROUP_ENFORCING_MODE => Version::new(1, 11, 0),
        ENABLE_PREFIX_DELEGATION => Version::new(1, 9, 0),
        ENABLE_IPV6 => Version::new(1, 10, 0),
        ENABLE_MULTI_NIC => Version::new(1, 20, 0),
        ENABLE_SUBNET_DISCOVERY => Version::new(1, 18, 0),
        CONFIGURE_RPFILTER => Version::new(1, 6, 1),
        _ => return None,
    })
}

/// Default of each variable for version `v` (docs/datapath.md §9).
fn default_for(name: &str, v: Version) -> &'static str {
    match name {
        NODE_PORT_SUPPORT | CONFIGURE_RPFILTER => "true",
        ENABLE_SUBNET_DISCOVERY => "true",
        CONNMARK => "0x80",
        RANDOMIZESNAT if v >= Version::new(1, 7, 0) => "prng",
        RANDOMIZESNAT => "hashrandom",
        VETHPREFIX => "eni",
        POD_SECURITY_GROUP_ENFORCING_MODE => "strict",
        EXCLUDE_SNAT_CIDRS | EXTERNAL_SERVICE_CIDRS => "",
        _ => "false",
    }
}

/// Every variable podreach models; any other has no effect on a verdict.
pub const MODELLED: &[&str] = &[
    EXTERNALSNAT,
    EXCLUDE_SNAT_CIDRS,
    EXTERNAL_SERVICE_CIDRS,
    NODE_PORT_SUPPORT,
    CONNMARK,
    RANDOMIZESNAT,
    VETHPREFIX,
    CUSTOM_NETWORK_CFG,
    ENABLE_POD_ENI,
    POD_SECURITY_GROUP_ENFORCING_MODE,
    ENABLE_PREFIX_DELEGATION,
    ENABLE_IPV6,
    ENABLE_MULTI_NIC,
    ENABLE_SUBNET_DISCOVERY,
    CONFIGURE_RPFILTER,
];

/// The other extreme of a setting evaluated both ways: the other boolean, or every destination.
fn alternative_value(name: &str, default: &str) -> &'static str {
    match name {
        EXCLUDE_SNAT_CIDRS | EXTERNAL_SERVICE_CIDRS => "0.0.0.0/0",
        _ if default == "true" => "false",
        _ => "true",
    }
}

/// Go's `strconv.ParseBool`, which `getEnvBoolWithDefault` uses.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// How a CIDR list entry the CNI does not use was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkippedEntry {
    /// Not a CIDR at all (or IPv6, which an IPv4 node cannot use).
    Invalid(String),
    /// A valid CIDR written with surrounding white space (`"a, b"`), which releases that do not
    /// trim reject.
    Untrimmed(String),
}

/// First release whose CIDR lists are trimmed entry by entry.
///
/// Source: `pkg/networkutils/network.go`. v1.6.0–v1.12.5 read `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`
/// in `getExcludeSNATCIDRs`: `strings.Split(v, ",")`, then `net.ParseCIDR` on each piece as it
/// is, skipping (with an error log) a piece that fails. v1.12.6 (cherry-pick `b73b49b20`, #2312;
/// v1.13.0 on master, `5dc2bbea5`, PR #2243) moved to `parseCIDRString`, which applies
/// `strings.TrimSpace` to each piece and also skips IPv6 pieces. `AWS_EXTERNAL_SERVICE_CIDRS`
/// arrived in v1.12.6 and has always gone through `parseCIDRString`. docs/datapath.md §9.1.
pub const TRIMS_CIDR_LISTS: Version = Version::new(1, 12, 6);

/// A comma-separated CIDR list as CNI `version` parses it: pieces split on `,`, trimmed from
/// v1.12.6 only ([`TRIMS_CIDR_LISTS`]), invalid ones skipped, each normalised to its network
/// address. Empty pieces (a trailing or doubled comma) are skipped by every release and are not
/// worth a note. Returns the kept CIDRs and the skipped entries.
pub fn parse_cidr_list(text: &str, version: Version) -> (Vec<Ipv4Net>, Vec<SkippedEntry>) {
    let trims = version >= TRIMS_CIDR_LISTS;
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for piece in text.split(',') {
        let trimmed = piece.trim();
        if trimmed.is_empty() {
            continue;
        }
        match trimmed.parse::<Ipv4Net>() {
            Ok(net) if trims || piece == trimmed => kept.push(net.trunc()),
            Ok(_) => skipped.push(SkippedEntry::Untrimmed(piece.to_owned())),
            Err(_) => skipped.push(SkippedEntry::Invalid(trimmed.to_owned())),
        }
    }
    (kept, skipped)
}

impl CniConfig {
    /// Resolves the configuration from its sources: CLI > DaemonSet > add-on > version default.
    pub fn resolve(inputs: &CniInputs) -> CniConfig {
        let mut notes = Vec::new();
        let mut assumptions = Vec::new();

        let mut daemonset_version = inputs
            .daemonset_image
            .as_deref()
            .and_then(Version::parse_loose);
        if daemonset_version.is_none() {
            // An image pinned by digest alone: the rest of the DaemonSet may still say.
            if let Some((place, version)) = inputs
                .daemonset_version_hints
                .iter()
                .find_map(|(place, text)| Version::parse_loose(text).map(|v| (place, v)))
            {
                notes.push(format!(
                    "the aws-node image carries no version tag; the version {version} is read from {place}"
                ));
                daemonset_version = Some(version);
            }
        }
        let addon_version = inputs
            .addon_version
            .as_deref()
            .and_then(Version::parse_loose);
        if let (Some(image), None) = (&inputs.daemonset_image, daemonset_version) {
            // Neither the image nor anything else of the DaemonSet names the version.
            notes.push(format!(
                "the aws-node image `{image}` carries no version tag podreach can read"
            ));
        }
        let (version, version_source) = match (inputs.cli_version, daemonset_version, addon_version)
        {
            (Some(v), _, _) => (Some(v), Some(SettingSource::Cli)),
            (None, Some(v), _) => (Some(v), Some(SettingSource::Daemonset)),
            (None, None, Some(v)) => (Some(v), Some(SettingSource::Addon)),
            _ => (None, None),
        };
        let version = match version {
            Some(v) => {
                if v > Version::NEWEST_SPECIFIED {
                    assumptions.push(format!(
                        "CNI {v} is newer than the newest release podreach's datapath model covers ({}); \
                         its behaviour is assumed unchanged since then",
                        Version::NEWEST_SPECIFIED
                    ));
                }
                v
            }
            None => {
                assumptions.push(format!(
                    "CNI version unknown ({VERSION_SOURCES}): every verdict is evaluated under each of the {} \
                     releases whose behaviour differs (docs/datapath.md §10.7), and one that differs between \
                     them is unknown (MISSING_INPUT); the texts describe {}",
                    Version::RELEASES_MODELLED.len(),
                    Version::NEWEST_SPECIFIED
                ));
                Version::NEWEST_SPECIFIED
            }
        };

        let mut settings = Vec::new();
        let mut resolved: BTreeMap<&str, (String, SettingSource)> = BTreeMap::new();
        let mut unknown = Vec::new();
        for &name in MODELLED {
            if let (None, Some(from)) = (
                inputs.cli_env.get(name),
                inputs.daemonset_value_from.get(name),
            ) && introduced_in(name).is_none_or(|first| version >= first)
            {
                let default = default_for(name, version);
                let both = EVALUATED_BOTH_WAYS.contains(&name);
                assumptions.push(if both {
                    format!(
                        "{name} is set from {from}, which the snapshot does not hold: its value is unknown. \
                         Verdicts are evaluated with the default `{default}` and with the other extreme; \
                         where they differ the verdict is unknown (give the value with --cni-env {name}=…)"
                    )
                } else {
                    format!(
                        "{name} is set from {from}, which the snapshot does not hold: its value is unknown \
                         and the default `{default}` is assumed for every verdict (give it with --cni-env {name}=…)"
                    )
                });
                unknown.push(UnknownSetting {
                    name: name.to_owned(),
                    from: from.clone(),
                    alternative_value: both.then(|| alternative_value(name, default).to_owned()),
                    alternative: None,
                    version: None,
                });
                resolved.insert(name, (default.to_owned(), SettingSource::Unknown));
                continue;
            }
            let found = [
                (inputs.cli_env.get(name), SettingSource::Cli),
                (inputs.daemonset_env.get(name), SettingSource::Daemonset),
                (inputs.addon_env.get(name), SettingSource::Addon),
            ]
            .into_iter()
            .find_map(|(value, source)| value.map(|v| (v.clone(), source)));
            let (value, source) = match found {
                Some((value, source)) => {
                    if introduced_in(name).is_some_and(|first| version < first) {
                        notes.push(format!(
                            "{name}={value} ({source}) is ignored: CNI {version} does not read it (added in {})",
                            introduced_in(name).map(|v| v.to_string()).unwrap_or_default()
                        ));
                        (
                            default_for(name, version).to_owned(),
                            SettingSource::Default,
                        )
                    } else {
                        (value, source)
                    }
                }
                None => (
                    default_for(name, version).to_owned(),
                    SettingSource::Default,
                ),
            };
            resolved.insert(name, (value, source));
        }
        for (name, (value, source)) in &resolved {
            let shown = match source {
                SettingSource::Unknown => inputs
                    .daemonset_value_from
                    .get(*name)
                    .map_or_else(|| "unknown".to_owned(), |from| format!("unknown ({from})")),
                _ => value.clone(),
            };
            settings.push(ResolvedSetting {
                name: (*name).to_owned(),
                value: shown,
                source: *source,
                default: Some(default_for(name, version).to_owned()),
            });
        }
        for (name, from) in &inputs.daemonset_value_from {
            if !MODELLED.contains(&name.as_str()) {
                settings.push(ResolvedSetting {
                    name: name.clone(),
                    value: format!("unknown ({from})"),
                    source: SettingSource::Unknown,
                    default: None,
                });
            }
        }
        // Variables podreach does not model but the user set: list them so nothing is silently dropped.
        for (map, source) in [
            (&inputs.cli_env, SettingSource::Cli),
            (&inputs.daemonset_env, SettingSource::Daemonset),
            (&inputs.addon_env, SettingSource::Addon),
        ] {
            for (name, value) in map {
                if !MODELLED.contains(&name.as_str()) && !settings.iter().any(|s| &s.name == name) {
                    settings.push(ResolvedSetting {
                        name: name.clone(),
                        value: value.clone(),
                        source,
                        default: None,
                    });
                }
            }
        }

        let value = |name: &str| resolved.get(name).map(|(v, _)| v.as_str()).unwrap_or("");
        let mut flag = |name: &str| -> bool {
            let text = value(name);
            let fallback = default_for(name, version) == "true";
            match parse_go_bool(text) {
                Some(b) => b,
                None => {
                    notes.push(format!(
                        "{name}=`{text}` is not a Go boolean; the CNI uses its default ({fallback})"
                    ));
                    fallback
                }
            }
        };
        // v1.0.x has no EXTERNALSNAT (PR #81, v1.1.0): `E` is always false there; `introduced_in` handles it.
        let external_snat = flag(EXTERNALSNAT);
        let node_port_support = flag(NODE_PORT_SUPPORT);
        let custom_networking = flag(CUSTOM_NETWORK_CFG);
        let pod_eni = flag(ENABLE_POD_ENI);
        let prefix_delegation = flag(ENABLE_PREFIX_DELEGATION);
        let ipv6 = flag(ENABLE_IPV6);
        let multi_nic = flag(ENABLE_MULTI_NIC);
        let subnet_discovery = flag(ENABLE_SUBNET_DISCOVERY);
        let configure_rpfilter = flag(CONFIGURE_RPFILTER);

        for name in [EXCLUDE_SNAT_CIDRS, EXTERNAL_SERVICE_CIDRS] {
            let (_, skipped) = parse_cidr_list(value(name), version);
            for entry in skipped {
                notes.push(match entry {
                    SkippedEntry::Invalid(entry) => {
                        format!("{name} entry `{entry}` is not an IPv4 CIDR: the CNI skips it")
                    }
                    SkippedEntry::Untrimmed(entry) => format!(
                        "{name} entry `{entry}` is ignored: CNI {version} does not trim the \
                         entries of the list (trimming came in {TRIMS_CIDR_LISTS}), so it rejects \
                         the CIDR with its spaces; write the list without spaces"
                    ),
                });
            }
        }
        let (exclude_snat_cidrs, _) = parse_cidr_list(value(EXCLUDE_SNAT_CIDRS), version);
        let (external_service_cidrs, _) = parse_cidr_list(value(EXTERNAL_SERVICE_CIDRS), version);
        if external_snat && !exclude_snat_cidrs.is_empty() {
            notes.push(format!(
                "{EXCLUDE_SNAT_CIDRS} has no effect because {EXTERNALSNAT}=true"
            ));
        }

        // getConnmark: strconv.ParseInt(v, 0, 64), valid 1..2^32-1, otherwise 0x80.
        let connmark_text = value(CONNMARK);
        let connmark = parse_go_int(connmark_text)
            .filter(|m| (1..=i64::from(u32::MAX)).contains(m))
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or_else(|| {
                notes.push(format!(
                    "{CONNMARK}=`{connmark_text}` is invalid; the CNI uses 0x80"
                ));
                0x80
            });

        // typeOfSNAT (network.go): an invalid value gives the version's default, `prng` from
        // v1.7.0 (PR #1048), `hashrandom` before.
        let randomize_snat = match value(RANDOMIZESNAT) {
            v @ ("prng" | "hashrandom" | "none") => v.to_owned(),
            other => {
                let fallback = default_for(RANDOMIZESNAT, version);
                notes.push(format!(
                    "{RANDOMIZESNAT}=`{other}` is invalid; the CNI uses {fallback}"
                ));
                fallback.to_owned()
            }
        };
        // An invalid mode stops aws-node, so new pods get no address:
        // - v1.11.0–v1.12.0: scripts/entrypoint.sh:76-83 exits on any non-empty value but `strict`
        //   or `standard`, whatever ENABLE_POD_ENI says (an empty value means strict, :106-107);
        // - v1.12.1+: cmd/aws-vpc-cni/main.go, validateEnvVars (v1.12.1:304-312), only with
        //   ENABLE_POD_ENI=true.
        let sgp_text = value(POD_SECURITY_GROUP_ENFORCING_MODE);
        let valid = matches!(sgp_text, "strict" | "standard");
        let entrypoint_exits = version >= Version::new(1, 11, 0)
            && version < Version::new(1, 12, 1)
            && !sgp_text.is_empty()
            && !valid;
        if entrypoint_exits {
            notes.push(format!(
                "{POD_SECURITY_GROUP_ENFORCING_MODE}=`{sgp_text}`: the entrypoint of aws-node {version} \
                 exits on it (scripts/entrypoint.sh, whatever {ENABLE_POD_ENI} says), so new pods get no \
                 address; podreach models the strict mode"
            ));
        } else if version >= Version::new(1, 12, 1) && pod_eni && !valid {
            notes.push(format!(
                "{POD_SECURITY_GROUP_ENFORCING_MODE}=`{sgp_text}` with {ENABLE_POD_ENI}=true: \
                 aws-node {version} refuses to start with it, so new pods get no address; \
                 podreach models the strict mode"
            ));
        }
        let sgp_mode = if version < Version::new(1, 11, 0) {
            SgpMode::Strict
        } else {
            match value(POD_SECURITY_GROUP_ENFORCING_MODE) {
                "standard" => SgpMode::Standard,
                _ => SgpMode::Strict,
            }
        };

        // rp_filter of the primary interface (docs/datapath.md §2.6): the init container writes 2 from
        // v1.7.0; before, ipamd wrote it when NODE_PORT_SUPPORT (and CONFIGURE_RPFILTER from v1.6.1).
        let (rp_filter_primary, rp_filter_primary_source) = match inputs.cli_rp_filter_primary {
            Some(mode) => (Some(mode), SettingSource::Cli),
            None => {
                let init_writes =
                    version >= Version::new(1, 7, 0) && inputs.daemonset_has_init != Some(false);
                let ipamd_writes = version < Version::new(1, 12, 1)
                    && node_port_support
                    && (version < Version::new(1, 6, 1) || configure_rpfilter);
                if init_writes || ipamd_writes {
                    let who = if init_writes {
                        "the aws-vpc-cni-init container"
                    } else {
                        "ipamd (NODE_PORT_SUPPORT)"
                    };
                    assumptions.push(format!(
                        "rp_filter on the primary interface assumed 2 (loose), as {who} sets it; \
                         a hardening step that sets it to 1 afterwards changes the verdicts (--rp-filter-primary)"
                    ));
                    (Some(2), SettingSource::Assumed)
                } else {
                    let why = if inputs.daemonset_has_init == Some(false) {
                        "the aws-node DaemonSet has no aws-vpc-cni-init container"
                    } else {
                        "this CNI version and configuration never set it"
                    };
                    assumptions.push(format!(
                        "rp_filter on the primary interface unknown ({why}); verdicts that depend on it are \
                         `unknown` (tell podreach with --rp-filter-primary)"
                    ));
                    (None, SettingSource::Assumed)
                }
            }
        };
        let rp_filter_secondary = inputs.cli_rp_filter_secondary;
        if rp_filter_secondary.is_none() {
            assumptions.push(
                "rp_filter on secondary interfaces unknown (the CNI leaves them at the OS default); \
                 per docs/datapath.md §5.4 it can change the reasons given, never a verdict"
                    .to_owned(),
            );
        }
        settings.push(ResolvedSetting {
            name: "rp_filter (primary interface)".to_owned(),
            value: rp_filter_primary.map_or_else(|| "unknown".to_owned(), |m| m.to_string()),
            source: rp_filter_primary_source,
            default: Some("2".to_owned()),
        });
        settings.push(ResolvedSetting {
            name: "rp_filter (secondary interfaces)".to_owned(),
            value: rp_filter_secondary.map_or_else(|| "unknown".to_owned(), |m| m.to_string()),
            source: if rp_filter_secondary.is_some() {
                SettingSource::Cli
            } else {
                SettingSource::Assumed
            },
            default: None,
        });

        // The other extreme of each unknown setting, one at a time (never the product of all).
        for setting in &mut unknown {
            if let Some(value) = &setting.alternative_value {
                let mut other = inputs.clone();
                other.cli_env.insert(setting.name.clone(), value.clone());
                other.daemonset_value_from.clear();
                setting.alternative = Some(Box::new(CniConfig::resolve(&other)));
            }
        }
        // An unknown version: every other modelled release, with the same settings.
        if version_source.is_none() {
            for release in Version::RELEASES_MODELLED {
                if *release == version {
                    continue;
                }
                let mut other = inputs.clone();
                other.cli_version = Some(*release);
                other.daemonset_value_from.clear();
                unknown.push(UnknownSetting {
                    name: UNKNOWN_VERSION.to_owned(),
                    from: VERSION_SOURCES.to_owned(),
                    alternative_value: Some(release.to_string()),
                    alternative: Some(Box::new(CniConfig::resolve(&other))),
                    version: Some(*release),
                });
            }
        }

        CniConfig {
            unknown,
            version,
            version_source,
            external_snat,
            exclude_snat_cidrs,
            external_service_cidrs,
            node_port_support,
            connmark,
            randomize_snat,
            veth_prefix: value(VETHPREFIX).to_owned(),
            custom_networking,
            pod_eni,
            sgp_mode,
            prefix_delegation,
            ipv6,
            multi_nic,
            subnet_discovery,
            rp_filter_primary,
            rp_filter_primary_source,
            rp_filter_secondary,
            settings,
            notes,
            assumptions,
        }
    }

    /// `true` when the version came from no source and the newest behaviour is assumed.
    pub fn version_unknown(&self) -> bool {
        self.version_source.is_none()
    }
}

/// Go's `strconv.ParseInt(v, 0, 64)`: decimal, `0x` hex, `0o`/leading-zero octal, `0b` binary.
fn parse_go_int(text: &str) -> Option<i64> {
    // Go's ParseInt does not trim: " 0x40" is invalid (docs/datapath.md §9.1).
    let t = text;
    let (negative, t) = t.strip_prefix('-').map_or((false, t), |rest| (true, rest));
    let t = t.strip_prefix('+').unwrap_or(t);
    let value = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        i64::from_str_radix(bin, 2).ok()?
    } else if let Some(oct) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        i64::from_str_radix(oct, 8).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[Ipv4Net]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_invalid_sgp_mode_stops_the_v1_11_entrypoint_even_without_pod_enis() {
        let notes = |version: Version, pod_eni: &str| {
            CniConfig::resolve(&CniInputs {
                cli_version: Some(version),
                cli_env: [
                    (
                        POD_SECURITY_GROUP_ENFORCING_MODE.to_owned(),
                        "Strict".to_owned(),
                    ),
                    (ENABLE_POD_ENI.to_owned(), pod_eni.to_owned()),
                ]
                .into_iter()
                .collect(),
                ..CniInputs::default()
            })
            .notes
        };
        let exits = |n: &[String]| {
            n.iter()
                .any(|n| n.contains("entrypoint") && n.contains("exits"))
        };
        let refuses = |n: &[String]| n.iter().any(|n| n.contains("refuses to start"));
        assert!(exits(&notes(Version::new(1, 11, 4), "false")));
        assert!(exits(&notes(Version::new(1, 12, 0), "true")));
        assert!(
            !exits(&notes(Version::new(1, 10, 4), "true")),
            "no such variable before v1.11.0"
        );
        assert!(!refuses(&notes(Version::new(1, 12, 1), "false")));
        assert!(refuses(&notes(Version::new(1, 12, 1), "true")));
    }

    #[test]
    fn exclude_snat_entries_with_spaces_are_dropped_before_1_12_6_and_trimmed_after() {
        let value = "10.9.0.0/16, 10.1.0.0/16 ,10.2.0.0/16,,";
        let (kept, skipped) = parse_cidr_list(value, Version::new(1, 12, 5));
        assert_eq!(cidrs(&kept), ["10.9.0.0/16", "10.2.0.0/16"]);
        assert_eq!(
            skipped,
            [SkippedEntry::Untrimmed(" 10.1.0.0/16 ".to_owned())]
        );
        let (kept, skipped) = parse_cidr_list(value, Version::new(1, 12, 6));
        assert_eq!(cidrs(&kept), ["10.9.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]);
        assert!(skipped.is_empty(), "{skipped:?}");
        let (kept, skipped) = parse_cidr_list("10.1.0.9/16,fd00::/8,nope", Version::new(1, 16, 0));
        assert_eq!(cidrs(&kept), ["10.1.0.0/16"], "normalised to the network");
        assert_eq!(
            skipped,
            [
                SkippedEntry::Invalid("fd00::/8".to_owned()),
                SkippedEntry::Invalid("nope".to_owned())
            ]
        );
    }

    #[test]
    fn the_report_says_which_exclusion_the_cni_ignores_and_why() {
        let inputs = CniInputs {
            cli_version: Some(Version::new(1, 11, 4)),
            daemonset_env: BTreeMap::from([(
                EXCLUDE_SNAT_CIDRS.to_owned(),
                "10.9.0.0/16, 10.1.0.0/16".to_owned(),
            )]),
            ..CniInputs::default()
        };
        let config = CniConfig::resolve(&inputs);
        assert_eq!(cidrs(&config.exclude_snat_cidrs), ["10.9.0.0/16"]);
        assert!(
            config
                .notes
                .iter()
                .any(|n| n.contains("` 10.1.0.0/16` is ignored") && n.contains("v1.12.6")),
            "{:?}",
            config.notes
        );
    }

    #[test]
    fn go_parsing_of_connmark_and_randomizesnat_follows_the_version() {
        assert_eq!(parse_go_int(" 0x40"), None, "Go does not trim");
        let resolve = |version, env: &[(&str, &str)]| {
            CniConfig::resolve(&CniInputs {
                cli_version: Some(version),
                daemonset_env: env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..CniInputs::default()
            })
        };
        let old = resolve(Version::new(1, 6, 3), &[(RANDOMIZESNAT, "bogus")]);
        assert_eq!(old.randomize_snat, "hashrandom");
        let new = resolve(Version::new(1, 7, 0), &[(RANDOMIZESNAT, "bogus")]);
        assert_eq!(new.randomize_snat, "prng");
        let connmark = resolve(Version::new(1, 16, 0), &[(CONNMARK, " 0x40")]);
        assert_eq!(connmark.connmark, 0x80);
    }

    #[test]
    fn an_image_pinned_by_digest_keeps_its_tag_version() {
        let pinned = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.11.4-eksbuild.1@sha256:7d3a0e2f9c1b4a5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6";
        assert_eq!(Version::parse_loose(pinned), Some(Version::new(1, 11, 4)));
        assert_eq!(
            Version::parse_loose("registry.local:5000/amazon-k8s-cni:v1.19.0"),
            Some(Version::new(1, 19, 0))
        );
        // A digest alone names no version.
        assert_eq!(
            Version::parse_loose(
                "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni@sha256:7d3a0e2f"
            ),
            None
        );
    }

    #[test]
    fn versions_are_read_from_image_references_and_addon_versions() {
        let image =
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.11.4-eksbuild.1";
        assert_eq!(Version::parse_loose(image), Some(Version::new(1, 11, 4)));
        assert_eq!(
            Version::parse_loose("v1.18.3-eksbuild.1"),
            Some(Version::new(1, 18, 3))
        );
        assert_eq!(Version::parse_loose("1.7"), Some(Version::new(1, 7, 0)));
        assert_eq!(Version::parse_loose("registry:5000/amazon-k8s-cni"), None);
        assert_eq!(Version::parse_loose("latest"), None);
    }

    #[test]
    fn cli_beats_daemonset_beats_addon_beats_default() {
        let mut inputs = CniInputs {
            addon_version: Some("v1.10.1-eksbuild.1".into()),
            daemonset_image: Some("x/amazon-k8s-cni:v1.11.4".into()),
            ..CniInputs::default()
        };
        inputs.addon_env.insert(EXTERNALSNAT.into(), "true".into());
        inputs
            .addon_env
            .insert(NODE_PORT_SUPPORT.into(), "false".into());
        inputs
            .daemonset_env
            .insert(NODE_PORT_SUPPORT.into(), "true".into());
        inputs.cli_env.insert(
            EXCLUDE_SNAT_CIDRS.into(),
            "10.9.0.0/16,bogus,fd00::/8".into(),
        );
        let cni = CniConfig::resolve(&inputs);
        assert_eq!(cni.version, Version::new(1, 11, 4));
        assert_eq!(cni.version_source, Some(SettingSource::Daemonset));
        assert!(cni.external_snat);
        assert!(cni.node_port_support);
        let source = |n: &str| cni.settings.iter().find(|s| s.name == n).map(|s| s.source);
        assert_eq!(source(EXTERNALSNAT), Some(SettingSource::Addon));
        assert_eq!(source(NODE_PORT_SUPPORT), Some(SettingSource::Daemonset));
        assert_eq!(source(EXCLUDE_SNAT_CIDRS), Some(SettingSource::Cli));
        assert_eq!(source(CONNMARK), Some(SettingSource::Default));
        assert_eq!(
            cni.exclude_snat_cidrs,
            vec!["10.9.0.0/16".parse::<Ipv4Net>().expect("cidr")]
        );
        assert_eq!(
            cni.notes.iter().filter(|n| n.contains("skips it")).count(),
            2
        );
    }

    #[test]
    fn a_variable_the_version_does_not_read_falls_back_to_its_default_with_a_note() {
        let mut inputs = CniInputs {
            cli_version: Some(Version::new(1, 11, 0)),
            ..CniInputs::default()
        };
        inputs
            .daemonset_env
            .insert(EXTERNAL_SERVICE_CIDRS.into(), "10.9.0.0/16".into());
        let cni = CniConfig::resolve(&inputs);
        assert!(cni.external_service_cidrs.is_empty());
        assert!(cni.notes.iter().any(|n| n.contains("does not read it")));
    }

    #[test]
    fn unknown_version_assumes_the_newest_and_says_so() {
        let cni = CniConfig::resolve(&CniInputs::default());
        assert!(cni.version_unknown());
        assert_eq!(cni.version, Version::NEWEST_SPECIFIED);
        assert!(
            cni.assumptions
                .iter()
                .any(|a| a.contains("CNI version unknown"))
        );
        assert_eq!(cni.rp_filter_primary, Some(2));
    }

    #[test]
    fn go_parsing_of_connmark_and_booleans() {
        assert_eq!(parse_go_int("0x80"), Some(128));
        assert_eq!(parse_go_int("0200"), Some(128));
        assert_eq!(parse_go_int("128"), Some(128));
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
