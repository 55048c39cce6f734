//! The node side of a pod's path: what the VPC CNI programs on the host, version by version.
//!
//! Each function here is one predicate of docs/datapath.md §5.2, written so it can be held line by line
//! against the CNI source it cites. They decide, for a pod address on an ENI and a destination
//! block beyond the VPC, whether the packet is SNATed, whether it is connmarked, and which routing
//! table (hence which ENI) it leaves by. Nothing here knows about AWS routing; `crate::vpc_path`
//! takes over once the packet has left the node.

use std::fmt;

use serde::Serialize;

use crate::cni::{CniConfig, SgpMode, Version, facts};

/// The host routing table a pod's ENI uses (`T(e)`, docs/datapath.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostTable {
    /// The main table: off-VPC traffic leaves by the primary ENI.
    Main,
    /// A per-ENI table; the number is `None` where it depends on the instance type.
    Eni(Option<u32>),
    /// The per-branch table of security groups for pods (`vlanId + 100`).
    Vlan(Option<u32>),
}

impl fmt::Display for HostTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostTable::Main => f.write_str("main"),
            HostTable::Eni(Some(n)) | HostTable::Vlan(Some(n)) => write!(f, "{n}"),
            HostTable::Eni(None) => {
                f.write_str("the ENI's table (number depends on the instance type)")
            }
            HostTable::Vlan(None) => f.write_str("vlanId+100"),
        }
    }
}

/// How the pod address is attached to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placement {
    /// An address of the primary ENI (card 0, device 0): `T(e) = main`.
    PrimaryEni,
    /// An address of a secondary ENI.
    SecondaryEni { table: HostTable },
    /// A branch ENI of security groups for pods.
    Branch { mode: SgpMode, table: HostTable },
}

impl Placement {
    pub fn is_primary(&self) -> bool {
        matches!(self, Placement::PrimaryEni)
    }

    pub fn table(&self) -> HostTable {
        match self {
            Placement::PrimaryEni => HostTable::Main,
            Placement::SecondaryEni { table } | Placement::Branch { table, .. } => *table,
        }
    }

    fn sgp_strict(&self) -> bool {
        matches!(
            self,
            Placement::Branch {
                mode: SgpMode::Strict,
                ..
            }
        )
    }
}

/// What the host rules need to know about a destination block. The block never overlaps the
/// VPC's CIDRs (the analysis removes those parts), and is wholly inside or outside each list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DestinationFlags {
    /// Inside `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS` (`X`).
    pub excluded_from_snat: bool,
    /// Inside `AWS_EXTERNAL_SERVICE_CIDRS` (`ES`).
    pub external_service: bool,
}

/// The policy rule that decided the table, as `ip rule` would print it, with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    pub table: HostTable,
    pub rule: String,
    pub source: &'static str,
}

/// The CNI's host datapath for one cluster.
#[derive(Debug, Clone, Copy)]
pub struct HostDatapath<'a> {
    cni: &'a CniConfig,
}

impl<'a> HostDatapath<'a> {
    pub fn new(cni: &'a CniConfig) -> Self {
        Self { cni }
    }

    fn v(&self) -> Version {
        self.cni.version
    }

    /// `E`: only read from v1.1.0 (PR #81); `CniConfig::resolve` already drops it for older versions.
    pub fn external_snat(&self) -> bool {
        self.cni.external_snat
    }

    // Source: network.go buildIptablesSNATRules (HEAD); v1.6.0 PR #520 adds X.
    /// `SNAT(D)` before routing: the connection is one the SNAT chain would translate (not
    /// `EXTERNALSNAT`, not excluded, not a strict-mode branch pod, whose packets always leave by
    /// their VLAN). Whether it is translated also depends on where it leaves:
    /// [`HostDatapath::translated`].
    pub fn snat(&self, placement: &Placement, dest: DestinationFlags) -> bool {
        let excluded = self.v() >= facts::EXCLUDE_SNAT_CIDRS_READ && dest.excluded_from_snat;
        !(self.external_snat() || excluded || placement.sgp_strict())
    }

    // Source: network.go buildIptablesSNATRules: the jump to the SNAT chain carries `! -o vlan+`
    // from v1.7.0 (PR #1125, ad4802bbf; network_test.go asserts it at every tag since, e.g.
    // v1.11.4 network_test.go:335), so a packet that leaves by a branch ENI's VLAN interface is
    // never SNATed. A standard-mode branch pod's packet leaves by `vlan.eth.<id>` whenever no
    // rule sends it to main first: `from <pod> lookup <vlanId+100>` at 1536 (v1.11.0
    // driver_test.go:723 "traffic enforced with standard mode", rules :780-787; v1.23.0 :860),
    // which decides when rule 1024 is absent (NODE_PORT_SUPPORT=false before v1.12.1, or
    // EXTERNALSNAT=true): the pod's own address then leaves the branch ENI that owns it.
    /// `SNAT(D)` after routing: the SNAT chain's verdict `eligible` ([`HostDatapath::snat`], or
    /// the #3658 state), applied unless the packet leaves by a VLAN (`table`).
    pub fn translated(&self, eligible: bool, table: HostTable) -> bool {
        eligible
            && !(self.v() >= facts::INIT_CONTAINER_AND_POD_ENI
                && matches!(table, HostTable::Vlan(_)))
    }

    // Source: iptables_connmark.go buildRules / AWS-CONNMARK-CHAIN (v1.8.0, PR #1475: master commit
    // a07c423b9, first tagged v1.9.0; v1.8.0 has it by cherry-pick 45bcab57d, #1494).
    /// `marked(D)`: the first packet of a pod-originated connection gets ctmark/fwmark `M`.
    pub fn marked(&self, placement: &Placement, dest: DestinationFlags) -> bool {
        self.v() >= facts::PER_POD_ENI_RULE && self.snat(placement, dest)
    }

    // Source: network.go SetupHostNetwork hostRulePriority; v1.12.1 adds `¬E` (PR #2026: master
    // commit f21b587fd, first tagged v1.13.0; v1.12.1 has it by merge 54ae7a746, #2156).
    /// `rule1024`: `fwmark M/M lookup main` is installed.
    pub fn rule_1024(&self) -> bool {
        let n = self.cni.node_port_support;
        (self.v() >= facts::RULE_1024_UNLESS_EXTERNALSNAT && (n || !self.external_snat()))
            || (self.v() >= facts::CONNMARK_RULES
                && self.v() < facts::RULE_1024_UNLESS_EXTERNALSNAT
                && n)
    }

    /// `lookup(src=p, dst=D, mark)` of docs/datapath.md §5.2: the first matching policy rule.
    pub fn lookup(&self, placement: &Placement, dest: DestinationFlags, mark: bool) -> RuleHit {
        let v = self.v();
        // Source: network.go SetupHostNetwork, `fwmark M/M lookup main` at priority 1024.
        if self.rule_1024() && mark {
            return RuleHit {
                table: HostTable::Main,
                rule: format!(
                    "1024: from all fwmark {m:#x}/{m:#x} lookup main",
                    m = self.cni.connmark
                ),
                source: "network.go SetupHostNetwork (hostRulePriority)",
            };
        }
        // Source: network.go SetupHostNetwork v1.0–v1.2.x `not to <primary VPC CIDR> lookup main`; removed in v1.3.0.
        if v < facts::RESTORE_ON_EVERY_INTERFACE && !self.external_snat() {
            return RuleHit {
                table: HostTable::Main,
                rule: "1024: from all not to <primary VPC CIDR> lookup main".to_owned(),
                source: "network.go SetupHostNetwork (v1.0–v1.2.x)",
            };
        }
        // Source: network.go UpdateExternalServiceIpRules, externalServiceIpRulePriority 1535 (v1.12.6, PR #2243).
        if v >= facts::EXTERNAL_SERVICE_CIDRS_AND_TRIMMED_LISTS && dest.external_service {
            return RuleHit {
                table: HostTable::Main,
                rule: "1535: from all to <AWS_EXTERNAL_SERVICE_CIDRS entry> lookup main".to_owned(),
                source: "network.go UpdateExternalServiceIpRules (v1.12.6+)",
            };
        }
        let table = placement.table();
        if table != HostTable::Main {
            // Source: driver.go setupIPBasedContainerRouteRules (HEAD, v1.8+); driver.go setupNS (≤ v1.7).
            if v >= facts::PER_POD_ENI_RULE
                || self.external_snat()
                || v < facts::RESTORE_ON_EVERY_INTERFACE
            {
                return RuleHit {
                    table,
                    rule: format!("1536: from <pod address> lookup {table}"),
                    source: if v >= facts::PER_POD_ENI_RULE {
                        "driver.go setupIPBasedContainerRouteRules"
                    } else {
                        "driver.go setupNS"
                    },
                };
            }
            // Source: driver.go setupNS v1.3–v1.7: `from p to <VPC CIDR>` rules, plus X from v1.6 (rpc_handler.go).
            if v >= facts::EXCLUDE_SNAT_CIDRS_READ && dest.excluded_from_snat {
                return RuleHit {
                    table,
                    rule: format!(
                        "1536: from <pod address> to <AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS entry> lookup {table}"
                    ),
                    source: "driver.go setupNS (v1.6–v1.7, X appended in rpc_handler.go)",
                };
            }
        }
        RuleHit {
            table: HostTable::Main,
            rule: "32766: from all lookup main".to_owned(),
            source: "kernel default rule",
        }
    }

    // Source: pkg/networkutils/helper.go (v1.20.3+, BaseNumber=10000); CalculateOldRouteTableId for v1.20.0–v1.20.2.
    /// Host table of a non-primary ENI (`T(e)`); `None` inside the number when it depends on the instance type.
    pub fn eni_table(&self, device_index: u32, network_card_index: u32) -> HostTable {
        if network_card_index == 0 {
            return HostTable::Eni(Some(device_index + 1));
        }
        if self.v() >= facts::CARD_TABLE_NUMBERING {
            HostTable::Eni(Some(10_000 + device_index + 100 * network_card_index))
        } else {
            // v1.20.0–v1.20.2: d + 1 + k·maxENIsPerNC, which needs the instance type's ENI limit.
            HostTable::Eni(None)
        }
    }

    /// `true` when the CNI manages ENIs on this network card (ENABLE_MULTI_NIC, v1.20+).
    pub fn manages_card(&self, network_card_index: u32) -> bool {
        network_card_index == 0 || (self.v() >= facts::MULTI_CARD && self.cni.multi_nic)
    }

    /// `rp_filter` mode that applies on arrival (`max(conf.all, conf.<if>)`, docs/datapath.md §2.6).
    pub fn rp_filter(&self, primary_interface: bool) -> Option<u8> {
        if primary_interface {
            self.cni.rp_filter_primary
        } else {
            self.cni.rp_filter_secondary
        }
    }

    /// V ≥ 1.20: rule 32765 `from <ENI primary IP> lookup T(e)` (network.go setupENINetwork).
    pub fn eni_primary_ip_rule(&self) -> bool {
        self.v() >= facts::MULTI_CARD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cni::{CniInputs, EXTERNALSNAT, NODE_PORT_SUPPORT};

    fn cni(version: Version, env: &[(&str, &str)]) -> CniConfig {
        let mut inputs = CniInputs {
            cli_version: Some(version),
            ..CniInputs::default()
        };
        for (k, v) in env {
            inputs.cli_env.insert((*k).to_owned(), (*v).to_owned());
        }
        CniConfig::resolve(&inputs)
    }

    const SECONDARY: Placement = Placement::SecondaryEni {
        table: HostTable::Eni(Some(2)),
    };
    const OFF_VPC: DestinationFlags = DestinationFlags {
        excluded_from_snat: false,
        external_service: false,
    };

    #[test]
    fn standard_branch_pods_are_snated_only_when_rule_1024_sends_them_to_main() {
        use crate::cni::{ENABLE_POD_ENI, POD_SECURITY_GROUP_ENFORCING_MODE};
        let branch = Placement::Branch {
            mode: SgpMode::Standard,
            table: HostTable::Vlan(Some(107)),
        };
        for (version, env, leaves_main) in [
            (
                Version::new(1, 11, 4),
                &[(NODE_PORT_SUPPORT, "false")][..],
                false,
            ),
            (Version::new(1, 11, 4), &[][..], true),
            (
                Version::new(1, 12, 1),
                &[(NODE_PORT_SUPPORT, "false")][..],
                true,
            ),
            (Version::new(1, 23, 0), &[(EXTERNALSNAT, "true")][..], false),
        ] {
            let mut all = vec![
                (ENABLE_POD_ENI, "true"),
                (POD_SECURITY_GROUP_ENFORCING_MODE, "standard"),
            ];
            all.extend_from_slice(env);
            let config = cni(version, &all);
            let host = HostDatapath::new(&config);
            let mark = host.marked(&branch, OFF_VPC);
            let hit = host.lookup(&branch, OFF_VPC, mark);
            assert_eq!(
                hit.table == HostTable::Main,
                leaves_main,
                "{version} {env:?}"
            );
            assert_eq!(
                host.translated(host.snat(&branch, OFF_VPC), hit.table),
                leaves_main,
                "{version} {env:?}: SNATed exactly when it leaves by main"
            );
        }
    }

    #[test]
    fn rule_1024_needs_node_port_support_before_1_12_1_only() {
        let off = [(NODE_PORT_SUPPORT, "false")];
        assert!(!HostDatapath::new(&cni(Version::new(1, 11, 4), &off)).rule_1024());
        assert!(HostDatapath::new(&cni(Version::new(1, 12, 1), &off)).rule_1024());
        assert!(HostDatapath::new(&cni(Version::new(1, 11, 4), &[])).rule_1024());
        let both_off = [(NODE_PORT_SUPPORT, "false"), (EXTERNALSNAT, "true")];
        assert!(!HostDatapath::new(&cni(Version::new(1, 16, 0), &both_off)).rule_1024());
        assert!(!HostDatapath::new(&cni(Version::new(1, 1, 0), &[])).rule_1024());
    }

    #[test]
    fn secondary_eni_snat_traffic_follows_the_eni_table_when_rule_1024_is_absent() {
        let config = cni(Version::new(1, 10, 0), &[(NODE_PORT_SUPPORT, "false")]);
        let host = HostDatapath::new(&config);
        assert!(host.snat(&SECONDARY, OFF_VPC));
        let hit = host.lookup(&SECONDARY, OFF_VPC, host.marked(&SECONDARY, OFF_VPC));
        assert_eq!(hit.table, HostTable::Eni(Some(2)));
    }

    #[test]
    fn before_1_8_off_vpc_traffic_of_secondary_eni_pods_uses_main() {
        let config = cni(Version::new(1, 7, 10), &[]);
        let host = HostDatapath::new(&config);
        assert_eq!(
            host.lookup(&SECONDARY, OFF_VPC, false).table,
            HostTable::Main
        );
        let excluded = DestinationFlags {
            excluded_from_snat: true,
            ..OFF_VPC
        };
        assert_eq!(
            host.lookup(&SECONDARY, excluded, false).table,
            HostTable::Eni(Some(2))
        );
    }

    #[test]
    fn multi_card_tables_follow_the_base_10000_numbering_from_1_20_3() {
        let host_new = cni(Version::new(1, 20, 3), &[]);
        let host_old = cni(Version::new(1, 20, 1), &[]);
        assert_eq!(
            HostDatapath::new(&host_new).eni_table(1, 1),
            HostTable::Eni(Some(10_101))
        );
        assert_eq!(
            HostDatapath::new(&host_old).eni_table(1, 1),
            HostTable::Eni(None)
        );
        assert_eq!(
            HostDatapath::new(&host_old).eni_table(2, 0),
            HostTable::Eni(Some(3))
        );
    }
}
