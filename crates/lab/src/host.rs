//! The node's host state as the Amazon VPC CNI programs it: policy rules, per-ENI tables, pod
//! veths, sysctls and netfilter rules, for the cluster's CNI version and settings.
//!
//! This is the lab's own reading of the CNI source (`aws/amazon-vpc-cni-k8s`, the files and tags
//! cited above each rule group; docs/datapath.md §2-3 summarises them). It is deliberately written as
//! a list of commands, one group per CNI code path, so a reviewer can hold it line by line against
//! the cited function. It does not decide any verdict: it only writes what the CNI would write,
//! and the kernel decides. The output is plain text (`ip -batch` lines, `iptables-restore`
//! input, sysctl pairs) so it can be unit-tested without root and printed for debugging.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use podreach_core::cni::{SgpMode, Version};

use crate::topology::{EniSpec, NodeSpec, PodPort};

/// The configuration of the node namespace and of each pod namespace.
#[derive(Debug, Clone)]
pub struct HostPlan {
    /// `ip -batch` lines for the node namespace (after the links exist).
    pub node_ip: Vec<String>,
    /// `iptables-restore` input for the node namespace (empty tables omitted).
    pub node_iptables: String,
    /// `(sysctl path under /proc/sys, value)` for the node namespace, applied after links exist.
    pub node_sysctls: Vec<(String, String)>,
    pub pods: Vec<PodPlan>,
}

/// One pod namespace.
#[derive(Debug, Clone)]
pub struct PodPlan {
    /// The ENI or branch ENI holding the pod address.
    pub port: PodPort,
    pub pod_ip: Ipv4Addr,
    /// Host end of the veth, `<vethPrefix>` + 11 hex digits (`GenerateHostVethName`), ≤ 15 chars.
    pub host_veth: String,
    pub host_mac: String,
    pub pod_mac: String,
    /// `ip -batch` lines for the pod namespace.
    pub pod_ip_cmds: Vec<String>,
}

const fn v(major: u32, minor: u32, patch: u32) -> Version {
    Version::new(major, minor, patch)
}

fn mark(m: u32) -> String {
    format!("{m:#x}")
}

/// Host veth name: the CNI hashes the pod's namespace/name; the lab hashes the pod address.
fn host_veth_name(prefix: &str, pod_ip: Ipv4Addr) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in pod_ip.octets() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut name = format!("{prefix}{:011x}", hash & 0xfff_ffff_ffff);
    name.truncate(15);
    name
}

/// One pod's namespace: its veth names and MACs, and the pod side of driver.go `setupVeth`
/// (169.254.1.1 scope link, default via it, a static ARP entry for it).
fn pod_plan(port: PodPort, pod_ip: Ipv4Addr, veth_prefix: &str) -> PodPlan {
    let host_veth = host_veth_name(veth_prefix, pod_ip);
    let (kind, index) = match port {
        PodPort::Eni(i) => (0, i),
        PodPort::Branch(i) => (3, i),
    };
    let host_mac = format!("02:00:00:{kind:02x}:{index:02x}:01");
    let pod_mac = format!("02:00:00:{kind:02x}:{index:02x}:02");
    let pod_ip_cmds = vec![
        "link set lo up".to_owned(),
        "link set eth0 up".to_owned(),
        format!("addr add {pod_ip}/32 dev eth0"),
        "route add 169.254.1.1/32 dev eth0 scope link".to_owned(),
        "route add default via 169.254.1.1 dev eth0".to_owned(),
        format!("neigh add 169.254.1.1 lladdr {host_mac} dev eth0 nud permanent"),
    ];
    PodPlan {
        port,
        pod_ip,
        host_veth,
        host_mac,
        pod_mac,
        pod_ip_cmds,
    }
}

/// Builds the host plan for the node.
pub fn plan(spec: &NodeSpec) -> HostPlan {
    let cni = &spec.cni;
    let ver = cni.version;
    let e = cni.external_snat;
    let n = cni.node_port_support;
    let m = cni.connmark;
    let primary = spec.primary();
    let mut ip = vec!["link set lo up".to_owned()];

    // --- ENIs ---------------------------------------------------------------------------------
    for eni in &spec.enis {
        ip.push(format!("link set {} up", eni.ifname));
        ip.push(format!(
            "addr add {}/{} dev {}",
            eni.primary_ip,
            eni.subnet.prefix_len(),
            eni.ifname
        ));
        match eni.table {
            // Primary ENI: configured by the OS (DHCP): subnet route and default route in main.
            None => ip.push(format!(
                "route add default via {} dev {}",
                eni.gateway, eni.ifname
            )),
            // network.go setupENINetwork: gw/32 scope link + default via gw in T(e); main subnet route deleted.
            Some(table) => {
                ip.push(format!(
                    "route del {} dev {} table main",
                    eni.subnet, eni.ifname
                ));
                ip.push(format!(
                    "route add {}/32 dev {} scope link table {table}",
                    eni.gateway, eni.ifname
                ));
                ip.push(format!(
                    "route add default via {} dev {} table {table}",
                    eni.gateway, eni.ifname
                ));
            }
        }
    }
    // network.go setupENINetwork (v1.20.0+): rule 32765 `from <ENI primary IP> lookup T(e)` per secondary ENI.
    if ver >= v(1, 20, 0) {
        for eni in spec.enis.iter().filter(|e| e.table.is_some()) {
            ip.push(format!(
                "rule add from {}/32 lookup {} prio 32765",
                eni.primary_ip,
                table_name(eni)
            ));
        }
    }

    // --- Host-wide policy rules -----------------------------------------------------------------
    // network.go SetupHostNetwork v1.0.0-v1.2.1: hostRule `not to <primary VPC CIDR> lookup main` at 1024 when !E.
    if ver < v(1, 3, 0) && !e {
        ip.push(format!(
            "rule add not to {} lookup main prio 1024",
            spec.vpc_cidrs[0]
        ));
    }
    // network.go SetupHostNetwork: mainENIRule `fwmark M/M lookup main` at 1024; v1.2.0-v1.12.0 when N,
    // v1.12.1+ when N || !E (PR #2026).
    let rule_1024 = if ver >= v(1, 12, 1) {
        n || !e
    } else {
        ver >= v(1, 2, 0) && n
    };
    if rule_1024 {
        ip.push(format!(
            "rule add fwmark {}/{} lookup main prio 1024",
            mark(m),
            mark(m)
        ));
    }
    // network.go UpdateExternalServiceIpRules (v1.12.6+): `to <ES cidr> lookup main` at 1535.
    if ver >= v(1, 12, 6) {
        for cidr in &cni.external_service_cidrs {
            ip.push(format!("rule add to {cidr} lookup main prio 1535"));
        }
    }

    // --- Pods ------------------------------------------------------------------------------------
    let mut pods = Vec::new();
    for (index, eni) in spec.enis.iter().enumerate() {
        let Some(pod_ip) = eni.pod_ip else { continue };
        let pod = pod_plan(PodPort::Eni(index), pod_ip, &cni.veth_prefix);
        let host_veth = &pod.host_veth;
        // driver.go setupVeth/setupNS: host side `p/32 dev <veth> scope link` in main.
        ip.push(format!("link set {host_veth} up"));
        ip.push(format!("route add {pod_ip}/32 dev {host_veth} scope link"));
        // driver.go addContainerRule (toContainer): `to p/32 lookup main` at 512.
        ip.push(format!("rule add to {pod_ip}/32 lookup main prio 512"));
        if let Some(table) = eni.table {
            if ver >= v(1, 8, 0) || e || ver < v(1, 3, 0) {
                // driver.go setupNS (≤v1.7 with E, and v1.0-v1.2) / networkutils setupIPBasedContainerRouteRules (v1.8+):
                // `from p/32 lookup T(e)` at 1536.
                ip.push(format!(
                    "rule add from {pod_ip}/32 lookup {table} prio 1536"
                ));
            } else {
                // driver.go setupNS v1.3-v1.7 with !E: `from p to <each VPC CIDR> lookup T(e)` at 1536;
                // from v1.6.0 the exclude-SNAT CIDRs ride along (rpc_handler.go appends GetExcludeSNATCIDRs()).
                let mut cidrs = spec.vpc_cidrs.clone();
                if ver >= v(1, 6, 0) {
                    cidrs.extend(cni.exclude_snat_cidrs.iter().copied());
                }
                for cidr in cidrs {
                    ip.push(format!(
                        "rule add from {pod_ip}/32 to {cidr} lookup {table} prio 1536"
                    ));
                }
            }
        }
        pods.push(pod);
    }

    // --- Branch ENIs (security groups for pods) ----------------------------------------------------
    // tests/data/cni-sgp-rules.json holds, per tag, the rules below with the CNI's file:line and
    // the unit test asserting each; `lab_host_plan_is_the_cni_tests` checks this plan against it.
    let strict = ver < v(1, 11, 0) || cni.sgp_mode == SgpMode::Strict;
    // network.go SetupHostNetwork: with ENABLE_POD_ENI the `local` rule moves from 0 to 20, so the
    // `iif` rules at 10 come first (v1.7.10 network.go:282-299); from v1.11.0 only in strict mode
    // (v1.11.4 network.go:351-370, v1.23.0 network.go:359).
    if cni.pod_eni && ver >= v(1, 7, 0) && strict {
        ip.push("rule add lookup local prio 20".to_owned());
        ip.push("rule del prio 0 lookup local".to_owned());
    }
    for (index, branch) in spec.branches.iter().enumerate() {
        let port = &branch.port;
        let Some(pod_ip) = port.pod_ip else { continue };
        let table = branch.vlan_id + 100;
        let vlan = &port.ifname;
        let gw = port.gateway;
        // cni.go cmdAdd (`if r.PodVlanId != 0`): the host veth prefix is `vlan` (v1.7.10
        // cni.go:184-185), from v1.11.0 sgpp.BuildHostVethNamePrefix: `vlan` in strict mode,
        // `<vethPrefix>` in standard mode.
        let prefix = if strict {
            "vlan"
        } else {
            cni.veth_prefix.as_str()
        };
        let pod = pod_plan(PodPort::Branch(index), pod_ip, prefix);
        let host_veth = &pod.host_veth;
        // driver.go setupVlan / buildRoutesForVlan (v1.11.4 driver.go:431-460, 606-624): the VLAN
        // link `vlan.eth.V` with the branch ENI's MAC (created with the links: `fabric::links`)
        // is brought up; table 100+V gets `GW/32 scope link` and `default via GW`.
        ip.push(format!("link set {vlan} up"));
        ip.push(format!(
            "route add {gw}/32 dev {vlan} scope link table {table}"
        ));
        ip.push(format!(
            "route add default via {gw} dev {vlan} table {table}"
        ));
        ip.push(format!("link set {host_veth} up"));
        if strict {
            // driver.go setupIIFBasedContainerRouteRules (v1.11.4 driver.go:557-590; v1.7.10
            // SetupPodENINetwork driver.go:356-383): `P dev <veth> scope link` in table 100+V,
            // `iif vlan.eth.V lookup 100+V` and `iif <veth> lookup 100+V` at 10.
            ip.push(format!(
                "route add {pod_ip}/32 dev {host_veth} scope link table {table}"
            ));
            ip.push(format!("rule add iif {vlan} lookup {table} prio 10"));
            ip.push(format!("rule add iif {host_veth} lookup {table} prio 10"));
        } else {
            // driver.go setupIPBasedContainerRouteRules (v1.11.4 driver.go:476-512): `P dev <veth>
            // scope link` in main, `to P lookup main` at 512, `from P lookup 100+V` at 1536.
            ip.push(format!("route add {pod_ip}/32 dev {host_veth} scope link"));
            ip.push(format!("rule add to {pod_ip}/32 lookup main prio 512"));
            ip.push(format!(
                "rule add from {pod_ip}/32 lookup {table} prio 1536"
            ));
        }
        pods.push(pod);
    }

    // --- sysctls ---------------------------------------------------------------------------------
    // The kubelet host forwards; aws-vpc-cni-init (cmd/aws-vpc-cni-init/main.go configureSystemParams)
    // writes rp_filter=2 on the primary interface; the model's resolved value is used here, and the
    // other interfaces get the OS default the lab was told (effective mode = max(all, if); all = 0).
    let mut sysctls = vec![
        ("net/ipv4/ip_forward".to_owned(), "1".to_owned()),
        ("net/ipv4/conf/all/rp_filter".to_owned(), "0".to_owned()),
        (
            "net/ipv4/conf/default/rp_filter".to_owned(),
            cni.rp_filter_secondary.to_string(),
        ),
        (
            "net/ipv4/conf/all/src_valid_mark".to_owned(),
            "0".to_owned(),
        ),
    ];
    for eni in &spec.enis {
        let mode = if eni.primary {
            cni.rp_filter_primary
        } else {
            cni.rp_filter_secondary
        };
        sysctls.push((
            format!("net/ipv4/conf/{}/rp_filter", eni.ifname),
            mode.to_string(),
        ));
    }
    for branch in &spec.branches {
        sysctls.push((
            format!("net/ipv4/conf/{}/rp_filter", branch.port.ifname),
            cni.rp_filter_secondary.to_string(),
        ));
    }
    for pod in &pods {
        sysctls.push((
            format!("net/ipv4/conf/{}/rp_filter", pod.host_veth),
            cni.rp_filter_secondary.to_string(),
        ));
    }

    HostPlan {
        node_ip: ip,
        node_iptables: iptables(spec, primary),
        node_sysctls: sysctls,
        pods,
    }
}

fn table_name(eni: &EniSpec) -> String {
    eni.table
        .map_or_else(|| "main".to_owned(), |t| t.to_string())
}

/// A chain's rules in `iptables-restore` syntax.
#[derive(Default)]
struct Table {
    chains: Vec<String>,
    rules: Vec<String>,
}

impl Table {
    fn chain(&mut self, name: &str) {
        self.chains.push(name.to_owned());
    }
    fn rule(&mut self, rule: String) {
        self.rules.push(rule);
    }
    fn render(&self, name: &str, builtins: &[&str], out: &mut String) {
        if self.rules.is_empty() {
            return;
        }
        let _ = writeln!(out, "*{name}");
        for chain in builtins {
            let _ = writeln!(out, ":{chain} ACCEPT [0:0]");
        }
        for chain in &self.chains {
            let _ = writeln!(out, ":{chain} - [0:0]");
        }
        for rule in &self.rules {
            let _ = writeln!(out, "{rule}");
        }
        let _ = writeln!(out, "COMMIT");
    }
}

fn iptables(spec: &NodeSpec, primary: &EniSpec) -> String {
    let cni = &spec.cni;
    let ver = cni.version;
    let e = cni.external_snat;
    let n = cni.node_port_support;
    let m = mark(cni.connmark);
    let n0 = spec.node_ip;
    let eth0 = &primary.ifname;
    // Before v1.8.0 the restore rule matched a hard-coded `eni+`; from v1.8.0 `<vethPrefix>+`.
    let veth = if ver >= v(1, 8, 0) {
        format!("{}+", cni.veth_prefix)
    } else {
        "eni+".to_owned()
    };
    let mut nat = Table::default();
    let mut mangle = Table::default();

    // Exempt CIDRs: VPC CIDRs then (v1.6.0+) AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS, as buildIptablesSNATRules lists them.
    let mut exempt: Vec<(String, bool)> = spec
        .vpc_cidrs
        .iter()
        .map(|c| (c.to_string(), false))
        .collect();
    if ver >= v(1, 6, 0) {
        exempt.extend(cni.exclude_snat_cidrs.iter().map(|c| (c.to_string(), true)));
    }
    let random = match (ver >= v(1, 4, 0), cni.randomize_snat.as_str()) {
        (false, _) | (true, "none") => "",
        (true, "hashrandom") => " --random",
        (true, _) => " --random-fully",
    };
    // `! -o vlan+` on the SNAT rule from v1.7.0 (security groups for pods).
    let not_vlan = if ver >= v(1, 7, 0) { "! -o vlan+ " } else { "" };
    let snat_rule = format!(
        "{not_vlan}-m comment --comment \"AWS, SNAT\" -m addrtype ! --dst-type LOCAL -j SNAT --to-source {n0}{random}"
    );

    if !e {
        if ver < v(1, 3, 0) {
            // network.go SetupHostNetwork v1.0.0-v1.2.1: one POSTROUTING rule `! -d <primary VPC CIDR> … -j SNAT`.
            nat.rule(format!(
                "-A POSTROUTING ! -d {} -m comment --comment \"AWS, SNAT\" -m addrtype ! --dst-type LOCAL -j SNAT --to-source {n0}",
                spec.vpc_cidrs[0]
            ));
        } else if ver < v(1, 16, 2) {
            // network.go SetupHostNetwork v1.3.0-v1.16.1: chained AWS-SNAT-CHAIN-i `! -d cidr -j AWS-SNAT-CHAIN-(i+1)`, SNAT last.
            for i in 0..=exempt.len() {
                nat.chain(&format!("AWS-SNAT-CHAIN-{i}"));
            }
            nat.rule(
                "-A POSTROUTING -m comment --comment \"AWS SNAT CHAIN\" -j AWS-SNAT-CHAIN-0"
                    .to_owned(),
            );
            for (i, (cidr, exclusion)) in exempt.iter().enumerate() {
                let comment = if *exclusion {
                    "AWS SNAT CHAIN EXCLUSION"
                } else {
                    "AWS SNAT CHAIN"
                };
                nat.rule(format!("-A AWS-SNAT-CHAIN-{i} ! -d {cidr} -m comment --comment \"{comment}\" -j AWS-SNAT-CHAIN-{}", i + 1));
            }
            nat.rule(format!("-A AWS-SNAT-CHAIN-{} {snat_rule}", exempt.len()));
        } else {
            // network.go buildIptablesSNATRules (v1.16.2+, HEAD): AWS-SNAT-CHAIN-0 with RETURN per CIDR, then SNAT.
            nat.chain("AWS-SNAT-CHAIN-0");
            nat.rule(
                "-A POSTROUTING -m comment --comment \"AWS SNAT CHAIN\" -j AWS-SNAT-CHAIN-0"
                    .to_owned(),
            );
            for (cidr, exclusion) in &exempt {
                let comment = if *exclusion {
                    "AWS SNAT CHAIN EXCLUSION"
                } else {
                    "AWS SNAT CHAIN"
                };
                // X = 0.0.0.0/0 is written without `-d` (the kernel strips it anyway).
                let dst = if cidr == "0.0.0.0/0" {
                    String::new()
                } else {
                    format!("-d {cidr} ")
                };
                nat.rule(format!(
                    "-A AWS-SNAT-CHAIN-0 {dst}-m comment --comment \"{comment}\" -j RETURN"
                ));
            }
            nat.rule(format!("-A AWS-SNAT-CHAIN-0 {snat_rule}"));
        }

        if ver >= v(1, 8, 0) {
            // Connmark chain: network.go buildIptablesConnmarkRules v1.8.0-v1.16.1 (chained, jump with
            // `-m state --state NEW` until v1.12.1); iptables_connmark.go buildRules (HEAD: single chain with RETURNs).
            let state = if ver < v(1, 12, 1) {
                "-m state --state NEW "
            } else {
                ""
            };
            nat.rule(format!(
                "-A PREROUTING -i {veth} -m comment --comment \"AWS, outbound connections\" {state}-j AWS-CONNMARK-CHAIN-0"
            ));
            if ver < v(1, 16, 2) {
                for i in 0..=exempt.len() {
                    nat.chain(&format!("AWS-CONNMARK-CHAIN-{i}"));
                }
                for (i, (cidr, exclusion)) in exempt.iter().enumerate() {
                    let comment = if *exclusion {
                        "AWS CONNMARK CHAIN, EXCLUDED CIDR"
                    } else {
                        "AWS CONNMARK CHAIN, VPC CIDR"
                    };
                    nat.rule(format!(
                        "-A AWS-CONNMARK-CHAIN-{i} ! -d {cidr} -m comment --comment \"{comment}\" -j AWS-CONNMARK-CHAIN-{}",
                        i + 1
                    ));
                }
                nat.rule(format!(
                    "-A AWS-CONNMARK-CHAIN-{} -m comment --comment \"AWS, CONNMARK\" -j CONNMARK --set-xmark {m}/{m}",
                    exempt.len()
                ));
            } else {
                nat.chain("AWS-CONNMARK-CHAIN-0");
                for (cidr, _) in &exempt {
                    let dst = if cidr == "0.0.0.0/0" {
                        String::new()
                    } else {
                        format!("-d {cidr} ")
                    };
                    nat.rule(format!("-A AWS-CONNMARK-CHAIN-0 {dst}-m comment --comment \"AWS CONNMARK CHAIN\" -j RETURN"));
                }
                nat.rule(format!("-A AWS-CONNMARK-CHAIN-0 -m comment --comment \"AWS, CONNMARK\" -j CONNMARK --set-xmark {m}/{m}"));
            }
            // Restore rule, appended after the jump: `-m comment "AWS, CONNMARK" -j CONNMARK --restore-mark --mask M`.
            nat.rule(format!("-A PREROUTING -m comment --comment \"AWS, CONNMARK\" -j CONNMARK --restore-mark --mask {m}"));
        }
    }

    if ver >= v(1, 2, 0) {
        // network.go SetupHostNetwork / buildIptablesSNATRules: mangle "AWS, primary ENI" rules.
        // Set-mark on the primary interface: N.
        if n {
            mangle.rule(format!(
                "-A PREROUTING -m comment --comment \"AWS, primary ENI\" -i {eth0} -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-mark {m}/{m}"
            ));
        }
        // Veth restore: N before v1.12.1; N || !E from v1.12.1 (PR #2026).
        let veth_restore = if ver >= v(1, 12, 1) { n || !e } else { n };
        if veth_restore {
            mangle.rule(format!(
                "-A PREROUTING -m comment --comment \"AWS, primary ENI\" -i {veth} -j CONNMARK --restore-mark --mask {m}"
            ));
        }
        // vlan restore (security groups for pods), v1.7.0+: N.
        if n && ver >= v(1, 7, 0) {
            mangle.rule(format!(
                "-A PREROUTING -m comment --comment \"AWS, primary ENI\" -i vlan+ -j CONNMARK --restore-mark --mask {m}"
            ));
        }
    }

    let mut out = String::new();
    mangle.render(
        "mangle",
        &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        &mut out,
    );
    nat.render(
        "nat",
        &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{CniSettings, EniSpec, NodeSpec};
    use ipnet::Ipv4Net;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test CIDR")
    }

    fn eni(position: usize, subnet: &str, primary_ip: &str, pod: &str) -> EniSpec {
        let subnet = net(subnet);
        let primary_ip: Ipv4Addr = primary_ip.parse().expect("ip");
        EniSpec {
            id: format!("eni-{position}"),
            ifname: format!("eth{position}"),
            fabric_ifname: format!("n{position}"),
            device_index: u32::try_from(position).expect("small"),
            network_card_index: 0,
            primary: position == 0,
            subnet_id: "subnet-1".into(),
            subnet,
            gateway: crate::topology::gateway_of(subnet),
            primary_ip,
            owned: vec![Ipv4Net::from(primary_ip)],
            table: crate::topology::host_table(u32::try_from(position).expect("small"), 0),
            pod_ip: Some(pod.parse().expect("ip")),
            route_table: None,
            groups: vec![],
            filters: crate::filters::FilterSpec::default(),
        }
    }

    fn spec(version: Version, external_snat: bool, node_port_support: bool) -> NodeSpec {
        NodeSpec {
            cluster: "c".into(),
            instance_id: "i-1".into(),
            cni: CniSettings {
                version,
                external_snat,
                exclude_snat_cidrs: vec![net("10.9.0.0/16")],
                external_service_cidrs: vec![net("10.8.0.0/16")],
                node_port_support,
                connmark: 0x80,
                randomize_snat: "prng".into(),
                veth_prefix: "eni".into(),
                rp_filter_primary: 2,
                rp_filter_secondary: 0,
                pod_eni: false,
                sgp_mode: podreach_core::cni::SgpMode::Strict,
            },
            vpc_cidrs: vec![net("10.0.0.0/16"), net("100.64.0.0/16")],
            node_ip: "10.0.1.10".parse().expect("ip"),
            enis: vec![
                eni(0, "10.0.1.0/24", "10.0.1.10", "10.0.1.11"),
                eni(1, "100.64.0.0/19", "100.64.0.10", "100.64.0.11"),
            ],
            branches: vec![],
            route_tables: vec![],
            remotes: vec![],
            destinations: vec![],
            notes: vec![],
        }
    }

    fn has(lines: &[String], needle: &str) -> bool {
        lines.iter().any(|l| l == needle)
    }

    #[test]
    fn before_1_8_secondary_eni_pods_only_route_vpc_and_excluded_cidrs_by_their_table() {
        let p = plan(&spec(Version::new(1, 7, 10), false, true));
        assert!(has(
            &p.node_ip,
            "rule add from 100.64.0.11/32 to 10.0.0.0/16 lookup 2 prio 1536"
        ));
        assert!(has(
            &p.node_ip,
            "rule add from 100.64.0.11/32 to 10.9.0.0/16 lookup 2 prio 1536"
        ));
        assert!(
            !p.node_ip
                .iter()
                .any(|l| l.starts_with("rule add from 100.64.0.11/32 lookup"))
        );
        assert!(!p.node_iptables.contains("CONNMARK-CHAIN"));
        assert!(p.node_iptables.contains("-A AWS-SNAT-CHAIN-3 ! -o vlan+"));
    }

    #[test]
    fn node_port_support_gates_rule_1024_only_before_1_12_1() {
        let old = plan(&spec(Version::new(1, 10, 0), false, false));
        assert!(!old.node_ip.iter().any(|l| l.contains("fwmark")));
        assert!(
            !old.node_iptables.contains("*mangle"),
            "{}",
            old.node_iptables
        );
        assert!(old.node_iptables.contains("--state NEW"));
        let new = plan(&spec(Version::new(1, 12, 1), false, false));
        assert!(has(
            &new.node_ip,
            "rule add fwmark 0x80/0x80 lookup main prio 1024"
        ));
        assert!(
            new.node_iptables
                .contains("-i eni+ -j CONNMARK --restore-mark --mask 0x80")
        );
        assert!(!new.node_iptables.contains("--state NEW"));
    }

    #[test]
    fn external_snat_removes_nat_rules_and_uses_the_pod_table_for_everything() {
        let p = plan(&spec(Version::new(1, 18, 0), true, false));
        assert!(!p.node_iptables.contains("*nat"));
        assert!(has(
            &p.node_ip,
            "rule add from 100.64.0.11/32 lookup 2 prio 1536"
        ));
        assert!(!p.node_ip.iter().any(|l| l.contains("fwmark")));
        assert!(has(
            &p.node_ip,
            "rule add to 10.8.0.0/16 lookup main prio 1535"
        ));
    }

    #[test]
    fn rule_32765_and_external_service_rules_follow_their_versions() {
        let old = plan(&spec(Version::new(1, 12, 5), false, true));
        assert!(
            !old.node_ip
                .iter()
                .any(|l| l.contains("prio 1535") || l.contains("prio 32765"))
        );
        let new = plan(&spec(Version::new(1, 20, 0), false, true));
        assert!(has(
            &new.node_ip,
            "rule add from 100.64.0.10/32 lookup 2 prio 32765"
        ));
        assert!(new.node_iptables.contains("-A AWS-SNAT-CHAIN-0 -d 10.9.0.0/16 -m comment --comment \"AWS SNAT CHAIN EXCLUSION\" -j RETURN"));
    }

    #[test]
    fn host_veth_names_carry_the_prefix_and_fit_an_interface_name() {
        let name = host_veth_name("eni", "10.0.1.11".parse().expect("ip"));
        assert!(name.starts_with("eni") && name.len() == 14, "{name}");
        assert_eq!(
            host_veth_name("averyveryverylongprefix", "10.0.1.11".parse().expect("ip")).len(),
            15
        );
    }
}
