//! The one table of the VPC CNI's release facts: each release where a rule podreach models
//! changes, named once with the CNI source that changed it and the section of docs/datapath.md
//! that states the rule. The datapath (`crate::datapath`), the settings' resolution
//! (`super::resolve`), the decision procedure, the remediation and the finding texts all read
//! these names, so "v1.8.0" means the same fix everywhere and a correction lands in one place.
//! [`Version::RELEASES_MODELLED`] is built from this table, and a test holds it to the version
//! gates below. The lab (`crates/lab`) keeps its own literals on purpose: it is the independent
//! check of this model against the kernel, so it must not share the model's table.

use super::Version;

/// `AWS_VPC_K8S_CNI_EXTERNALSNAT` is read (PR #81). docs/datapath.md §9.
pub const EXTERNALSNAT_READ: Version = Version::new(1, 1, 0);

/// The mangle-table connmark rules, `AWS_VPC_CNI_NODE_PORT_SUPPORT`, `AWS_VPC_K8S_CNI_CONNMARK`
/// and custom networking; `fwmark 0x80/0x80 lookup main` at priority 1024 when node port support
/// is on (network.go `SetupHostNetwork`, `hostRulePriority`). docs/datapath.md §2.5, §9.
pub const CONNMARK_RULES: Version = Version::new(1, 2, 0);

/// The connmark restore in PREROUTING for every interface, and the end of the v1.0–v1.2 rule
/// `not to <primary VPC CIDR> lookup main` (network.go `SetupHostNetwork`). docs/datapath.md §2.5.
pub const RESTORE_ON_EVERY_INTERFACE: Version = Version::new(1, 3, 0);

/// `AWS_VPC_K8S_CNI_RANDOMIZESNAT` is read (`hashrandom` by default). docs/datapath.md §9.
pub const RANDOMIZESNAT_READ: Version = Version::new(1, 4, 0);

/// `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS` is read (network.go `getExcludeSNATCIDRs`; the per-pod
/// rules get one `from p to X lookup <ENI table>` per excluded CIDR, rpc_handler.go).
/// docs/datapath.md §2.5, §9.
pub const EXCLUDE_SNAT_CIDRS_READ: Version = Version::new(1, 6, 0);

/// `AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER` is read: ipamd writes `rp_filter` only when it is true.
/// docs/datapath.md §2.6.
pub const CONFIGURE_RPFILTER_READ: Version = Version::new(1, 6, 1);

/// The `aws-vpc-cni-init` container writes `rp_filter=2` on the primary interface;
/// `ENABLE_POD_ENI` is read; `RANDOMIZESNAT` defaults to `prng`; a VLAN (branch ENI) pod's
/// packet is never SNATed by the `! -o vlan+` rule. docs/datapath.md §2.6, §3, §9.
pub const INIT_CONTAINER_AND_POD_ENI: Version = Version::new(1, 7, 0);

/// The per-pod rule `from <pod> lookup <ENI table>` for every destination, with the connmark
/// restore that sends replies back by the pod's ENI (driver.go `setupIPBasedContainerRouteRules`,
/// PR #1475). Before it, the rules covered only the VPC CIDRs, so a secondary-ENI pod's reply to
/// an address beyond the VPC left the primary ENI. docs/datapath.md §2.3, §5.4.
pub const PER_POD_ENI_RULE: Version = Version::new(1, 8, 0);

/// Prefix delegation (`ENABLE_PREFIX_DELEGATION`). docs/datapath.md §9.
pub const PREFIX_DELEGATION: Version = Version::new(1, 9, 0);

/// IPv6 clusters (`ENABLE_IPv6`). docs/datapath.md §5.4a.
pub const IPV6: Version = Version::new(1, 10, 0);

/// `POD_SECURITY_GROUP_ENFORCING_MODE` (strict or standard); v1.11.0–v1.12.0's
/// `scripts/entrypoint.sh` (lines 76–83) exits on any other non-empty value, whatever
/// `ENABLE_POD_ENI` says. docs/datapath.md §3, §11.2 item 6.
pub const SGP_ENFORCING_MODE: Version = Version::new(1, 11, 0);

/// Rule 1024 is installed unless EXTERNALSNAT (`if n.nodePortSupportEnabled || !useExternalSNAT`,
/// PR #2026: master f21b587fd, in v1.12.1 by merge 54ae7a746, #2156); ipamd no longer writes
/// `rp_filter`; `validateEnvVars` (cmd/aws-vpc-cni/main.go) replaces the entrypoint's check of
/// the enforcing mode, only with `ENABLE_POD_ENI=true`. docs/datapath.md §2.5, §2.6, §6.3.
pub const RULE_1024_UNLESS_EXTERNALSNAT: Version = Version::new(1, 12, 1);

/// `AWS_EXTERNAL_SERVICE_CIDRS` (rule 1535 to the main table, network.go
/// `UpdateExternalServiceIpRules`, PR #2243) and CIDR lists trimmed entry by entry
/// (`parseCIDRString`; cherry-pick b73b49b20, #2312). docs/datapath.md §2.1, §9.1.
pub const EXTERNAL_SERVICE_CIDRS_AND_TRIMMED_LISTS: Version = Version::new(1, 12, 6);

/// Subnet discovery (`ENABLE_SUBNET_DISCOVERY`). docs/datapath.md §9.
pub const SUBNET_DISCOVERY: Version = Version::new(1, 18, 0);

/// Network cards beyond the first (`ENABLE_MULTI_NIC`), with rule 32765
/// `from <ENI primary IP> lookup T(e)` (network.go `setupENINetwork`). docs/datapath.md §2.2.
pub const MULTI_CARD: Version = Version::new(1, 20, 0);

/// Host table numbering `10000·card + device` (pkg/networkutils/helper.go, `BaseNumber`);
/// v1.20.0–v1.20.2 used `CalculateOldRouteTableId`, which needs the instance type's ENI limit.
/// docs/datapath.md §2.2.
pub const CARD_TABLE_NUMBERING: Version = Version::new(1, 20, 3);

/// The `EXCLUDE_SNAT_CIDRS=0.0.0.0/0` RETURN rule survives an aws-node restart (#3658); before,
/// a restart loses it and SNAT comes back until the next reconcile. docs/datapath.md §2.5.
pub const EXCLUDE_ALL_RETURN_KEPT: Version = Version::new(1, 23, 0);
