//! The CNI variables podreach models: their names, the release that first reads each, their
//! defaults per release, and how the CNI parses their values (Go's `strconv.ParseBool` and
//! `ParseInt`, the CIDR lists of `parseCIDRString`), so a value the CNI would reject falls back
//! to the default exactly where the CNI's does (docs/datapath.md §9, §9.1).

use ipnet::Ipv4Net;

use super::{Version, facts};

/// The name an unknown version goes by in reasons and settings.
pub const UNKNOWN_VERSION: &str = "CNI version";
/// Why no version is known, as reasons say it.
pub const VERSION_SOURCES: &str =
    "no aws-node DaemonSet image, vpc-cni add-on or --cni-version names it";

/// Variables whose value changes only how packets are treated, not which ENIs hold pod
/// addresses or where: for these both outcomes are evaluated when the value is unknown.
pub(super) const EVALUATED_BOTH_WAYS: &[&str] = &[
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
pub(super) fn introduced_in(name: &str) -> Option<Version> {
    Some(match name {
        EXTERNALSNAT => facts::EXTERNALSNAT_READ,
        EXCLUDE_SNAT_CIDRS => facts::EXCLUDE_SNAT_CIDRS_READ,
        EXTERNAL_SERVICE_CIDRS => facts::EXTERNAL_SERVICE_CIDRS_AND_TRIMMED_LISTS,
        NODE_PORT_SUPPORT | CONNMARK | CUSTOM_NETWORK_CFG => facts::CONNMARK_RULES,
        RANDOMIZESNAT => facts::RANDOMIZESNAT_READ,
        VETHPREFIX => Version::new(1, 0, 0),
        ENABLE_POD_ENI => facts::INIT_CONTAINER_AND_POD_ENI,
        POD_SECURITY_GROUP_ENFORCING_MODE => facts::SGP_ENFORCING_MODE,
        ENABLE_PREFIX_DELEGATION => facts::PREFIX_DELEGATION,
        ENABLE_IPV6 => facts::IPV6,
        ENABLE_MULTI_NIC => facts::MULTI_CARD,
        ENABLE_SUBNET_DISCOVERY => facts::SUBNET_DISCOVERY,
        CONFIGURE_RPFILTER => facts::CONFIGURE_RPFILTER_READ,
        _ => return None,
    })
}

/// Default of each variable for version `v` (docs/datapath.md §9).
pub(super) fn default_for(name: &str, v: Version) -> &'static str {
    match name {
        NODE_PORT_SUPPORT | CONFIGURE_RPFILTER => "true",
        ENABLE_SUBNET_DISCOVERY => "true",
        CONNMARK => "0x80",
        RANDOMIZESNAT if v >= facts::INIT_CONTAINER_AND_POD_ENI => "prng",
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
pub(super) fn alternative_value(name: &str, default: &str) -> &'static str {
    match name {
        EXCLUDE_SNAT_CIDRS | EXTERNAL_SERVICE_CIDRS => "0.0.0.0/0",
        _ if default == "true" => "false",
        _ => "true",
    }
}

/// Go's `strconv.ParseBool`, which `getEnvBoolWithDefault` uses.
pub(super) fn parse_go_bool(text: &str) -> Option<bool> {
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
pub const TRIMS_CIDR_LISTS: Version = facts::EXTERNAL_SERVICE_CIDRS_AND_TRIMMED_LISTS;

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

/// Go's `strconv.ParseInt(v, 0, 64)`: decimal, `0x` hex, `0o`/leading-zero octal, `0b` binary.
pub(super) fn parse_go_int(text: &str) -> Option<i64> {
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
