//! A CNI release: how it is read from an image tag, an add-on version or the command line, how
//! it is compared, and the releases the model tells apart ([`Version::RELEASES_MODELLED`], built
//! from the facts table in `super::facts`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::facts;

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
    /// evaluated under each of them (docs/datapath.md §10.7). `crates/core/tests/cni_facts.rs`
    /// holds it to the facts table, and the rest of the core to writing no version of its own.
    pub const RELEASES_MODELLED: &'static [Version] = &[
        facts::EXTERNALSNAT_READ,
        facts::CONNMARK_RULES,
        facts::RESTORE_ON_EVERY_INTERFACE,
        facts::RANDOMIZESNAT_READ,
        facts::EXCLUDE_SNAT_CIDRS_READ,
        facts::CONFIGURE_RPFILTER_READ,
        facts::INIT_CONTAINER_AND_POD_ENI,
        facts::PER_POD_ENI_RULE,
        facts::PREFIX_DELEGATION,
        facts::IPV6,
        facts::SGP_ENFORCING_MODE,
        facts::RULE_1024_UNLESS_EXTERNALSNAT,
        facts::EXTERNAL_SERVICE_CIDRS_AND_TRIMMED_LISTS,
        facts::SUBNET_DISCOVERY,
        facts::MULTI_CARD,
        facts::CARD_TABLE_NUMBERING,
        facts::EXCLUDE_ALL_RETURN_KEPT,
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
