//! The lab's host plan held against what the CNI's own code and unit tests say about security
//! groups for pods, tag by tag.
//!
//! `tests/data/cni-sgp-rules.json` records, for each tag from v1.7.10 to v1.23.0, each enforcing
//! mode and each `AWS_VPC_CNI_NODE_PORT_SUPPORT` × `AWS_VPC_K8S_CNI_EXTERNALSNAT`, the policy
//! rules, VLAN-table routes, host veth prefix, SNAT rule and connmark rules the CNI installs for a
//! branch-ENI pod, each with the file, line and test case asserting it. `crates/lab/src/host.rs`
//! writes its own reading of the CNI as `ip` and `iptables-restore` lines; this test translates
//! the table's notation into those lines and requires each listed rule to be there and each rule
//! of those kinds that is not listed to be absent. The model is held to the same table by
//! `crates/core/tests/cni_sgp_table.rs`; the kernel decides between them in the differential.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use podreach_core::cni::{SgpMode, Version};
use podreach_lab::filters::FilterSpec;
use podreach_lab::host::{self, HostPlan};
use podreach_lab::topology::{
    BranchSpec, CniSettings, EniSpec, NodeSpec, PodPort, gateway_of, host_table,
};
use serde_json::Value;

const TABLE: &str = include_str!("../../../tests/data/cni-sgp-rules.json");

/// The table's `V`: the CNI's tests use 7 from v1.11.0 (1 before); any id exercises the same code.
const VLAN: u32 = 7;
const POD: &str = "10.0.2.30";

fn net(s: &str) -> Ipv4Net {
    s.parse().expect("test CIDR")
}

fn eni(position: u32, id: &str, ifname: &str, subnet: &str, ip: &str) -> EniSpec {
    let subnet = net(subnet);
    let primary_ip: Ipv4Addr = ip.parse().expect("ip");
    EniSpec {
        id: id.to_owned(),
        ifname: ifname.to_owned(),
        fabric_ifname: format!("n{position}"),
        device_index: position,
        network_card_index: 0,
        primary: position == 0,
        subnet_id: format!("subnet-{position}"),
        subnet,
        gateway: gateway_of(subnet),
        primary_ip,
        owned: vec![Ipv4Net::from(primary_ip)],
        table: host_table(position, 0),
        pod_ip: None,
        route_table: None,
        groups: vec![],
        filters: FilterSpec::default(),
    }
}

/// A node with a primary ENI, a trunk ENI at device 1 and one branch ENI on VLAN 7.
fn node(version: Version, mode: SgpMode, node_port_support: bool, external_snat: bool) -> NodeSpec {
    let mut branch = eni(0, "eni-branch", "vlan.eth.7", "10.0.2.0/24", POD);
    branch.fabric_ifname = "b0".to_owned();
    branch.primary = false;
    branch.table = Some(VLAN + 100);
    branch.pod_ip = Some(POD.parse().expect("ip"));
    NodeSpec {
        cluster: "c".into(),
        instance_id: "i-1".into(),
        cni: CniSettings {
            version,
            external_snat,
            exclude_snat_cidrs: vec![],
            external_service_cidrs: vec![],
            node_port_support,
            connmark: 0x80,
            randomize_snat: "prng".into(),
            veth_prefix: "eni".into(),
            rp_filter_primary: 2,
            rp_filter_secondary: 1,
            pod_eni: true,
            sgp_mode: mode,
        },
        vpc_cidrs: vec![net("10.0.0.0/16")],
        node_ip: "10.0.1.10".parse().expect("ip"),
        enis: vec![
            eni(0, "eni-primary", "eth0", "10.0.1.0/24", "10.0.1.10"),
            eni(1, "eni-trunk", "eth1", "10.0.2.0/24", "10.0.2.5"),
        ],
        branches: vec![BranchSpec {
            port: branch,
            vlan_id: VLAN,
            trunk: 1,
        }],
        route_tables: vec![],
        remotes: vec![],
        destinations: vec![],
        notes: vec![],
    }
}

/// The branch pod's host veth in the plan.
fn branch_veth(plan: &HostPlan) -> &str {
    plan.pods
        .iter()
        .find(|p| p.port == PodPort::Branch(0))
        .map(|p| p.host_veth.as_str())
        .expect("the plan has the branch pod")
}

/// The table's rule, in the lab's `ip rule add` syntax.
fn ip_rule(rule: &Value, veth: &str) -> String {
    let priority = rule["priority"].as_u64().expect("priority");
    let table = match rule["table"].as_str().expect("table") {
        "vlan" => (VLAN + 100).to_string(),
        other => other.to_owned(),
    };
    let selector = match rule["selector"].as_str().expect("selector") {
        "iif vlan.eth.V" => format!("iif vlan.eth.{VLAN} "),
        "iif vlanXXX" => format!("iif {veth} "),
        "to P" => format!("to {POD}/32 "),
        "from P" => format!("from {POD}/32 "),
        "all" => String::new(),
        other => format!("{other} "),
    };
    format!("rule add {selector}lookup {table} prio {priority}")
}

/// The table's VLAN-table or main route, in the lab's `ip route add` syntax.
fn ip_route(route: &Value, veth: &str, gateway: Ipv4Addr) -> String {
    let text = route["route"]
        .as_str()
        .expect("route")
        .replace("<subnet GW>", &gateway.to_string())
        .replace("vlan.eth.V", &format!("vlan.eth.{VLAN}"))
        .replace("P dev vlanXXX", &format!("{POD}/32 dev {veth}"))
        .replace("P dev <vethPrefix>XXX", &format!("{POD}/32 dev {veth}"));
    match route["table"].as_str().expect("table") {
        "main" => format!("route add {text}"),
        _ => format!("route add {text} table {}", VLAN + 100),
    }
}

/// The rules of the plan this test speaks about: policy rules at the priorities the branch-pod
/// set-up uses, for the branch pod or host-wide.
fn branch_rules(plan: &HostPlan, veth: &str) -> Vec<String> {
    plan.node_ip
        .iter()
        .filter(|l| l.starts_with("rule add"))
        .filter(|l| {
            l.ends_with(" prio 10")
                || l.ends_with(" prio 20")
                || l.ends_with(" prio 1024")
                || (l.contains(POD) && (l.ends_with(" prio 512") || l.ends_with(" prio 1536")))
                || l.contains(veth)
        })
        .cloned()
        .collect()
}

/// The connmark rule kinds of the table, as the lab writes them (`iptables-restore` lines).
fn connmark_kinds(version: Version) -> [(&'static str, String); 4] {
    let state = if version < Version::new(1, 12, 1) {
        "-m state --state NEW "
    } else {
        ""
    };
    [
        (
            "mangle PREROUTING -i <primary if>",
            "-i eth0 -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-mark 0x80/0x80"
                .to_owned(),
        ),
        (
            "mangle PREROUTING -i eni+|<vethPrefix>+",
            "-i eni+ -j CONNMARK --restore-mark --mask 0x80".to_owned(),
        ),
        (
            "mangle PREROUTING -i vlan+",
            "-i vlan+ -j CONNMARK --restore-mark --mask 0x80".to_owned(),
        ),
        (
            "nat PREROUTING -i <vethPrefix>+",
            format!(
                "-A PREROUTING -i eni+ -m comment --comment \"AWS, outbound connections\" {state}-j AWS-CONNMARK-CHAIN-0"
            ),
        ),
    ]
}

/// Which of [`connmark_kinds`] a rule of the table is.
fn connmark_kind_of(rule: &str) -> Option<usize> {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| rule.starts_with(p));
    if starts(&["mangle PREROUTING -i <primary if>"]) {
        Some(0)
    } else if starts(&[
        "mangle PREROUTING -i eni+",
        "mangle PREROUTING -i <vethPrefix>+",
    ]) {
        Some(1)
    } else if starts(&["mangle PREROUTING -i vlan+"]) {
        Some(2)
    } else if starts(&["nat PREROUTING -i <vethPrefix>+", "nat PREROUTING -i eni+"]) {
        Some(3)
    } else {
        None
    }
}

#[test]
fn the_labs_host_plan_installs_what_the_cni_tests_assert_at_every_tag() {
    let table: Value = serde_json::from_str(TABLE).expect("the table is JSON");
    let tags = table["tags"].as_object().expect("tags");
    let mut checked = 0;
    for (tag, facts) in tags {
        let version: Version = tag.parse().expect("a tag is a version");
        for (mode_name, mode) in [("strict", SgpMode::Strict), ("standard", SgpMode::Standard)] {
            let Some(cases) = facts["modes"][mode_name].as_object() else {
                assert!(
                    mode == SgpMode::Standard && version < Version::new(1, 11, 0),
                    "{tag} {mode_name} missing"
                );
                continue;
            };
            let routes = cases["routes"].as_array().expect("routes");
            for (case, expected) in cases
                .iter()
                .filter(|(k, _)| k.starts_with("node_port_support="))
            {
                let node_port = case.contains("node_port_support=true");
                let external = case.contains("external_snat=true");
                let what = format!("{tag} {mode_name} {case}");
                let spec = node(version, mode, node_port, external);
                let plan = host::plan(&spec);
                let veth = branch_veth(&plan);
                let gateway = spec.branches[0].port.gateway;

                // The host veth prefix.
                let prefix = expected["host_veth_prefix"].as_str().expect("prefix");
                let prefix = if prefix.starts_with("<vethPrefix>") {
                    "eni"
                } else {
                    prefix
                };
                assert!(
                    veth.starts_with(prefix) && veth != format!("vlan.eth.{VLAN}"),
                    "{what}: host veth {veth}, the CNI's prefix is {prefix}"
                );

                // Policy rules: every listed one, and no other of those priorities.
                let mut want: Vec<String> = expected["ip_rules"]
                    .as_array()
                    .expect("ip_rules")
                    .iter()
                    .map(|r| ip_rule(r, veth))
                    .collect();
                let mut have = branch_rules(&plan, veth);
                want.sort();
                have.sort();
                assert_eq!(have, want, "{what}: policy rules");
                if want.iter().any(|r| r.ends_with("lookup local prio 20")) {
                    assert!(
                        plan.node_ip
                            .iter()
                            .any(|l| l == "rule del prio 0 lookup local"),
                        "{what}: the local rule moves, it is not doubled"
                    );
                }
                assert_eq!(
                    plan.node_ip
                        .iter()
                        .any(|l| l.starts_with("rule add fwmark")),
                    expected["rule_1024"].as_bool().expect("rule_1024"),
                    "{what}: rule 1024"
                );

                // Routes of the VLAN table and the pod route.
                for route in routes {
                    let line = ip_route(route, veth, gateway);
                    assert!(
                        plan.node_ip.contains(&line),
                        "{what}: `{line}` missing from\n{}",
                        plan.node_ip.join("\n")
                    );
                }

                // The SNAT rule, with `! -o vlan+`.
                match expected["snat_rule"].as_str() {
                    None => assert!(
                        !plan.node_iptables.contains("-j SNAT"),
                        "{what}: no SNAT rule with EXTERNALSNAT"
                    ),
                    Some(rule) => {
                        let chain = rule
                            .split_whitespace()
                            .nth(1)
                            .expect("chain")
                            .replace("<k>", "1");
                        let line = format!(
                            "-A {chain} ! -o vlan+ -m comment --comment \"AWS, SNAT\" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 10.0.1.10"
                        );
                        assert!(
                            plan.node_iptables.contains(&line),
                            "{what}: `{line}` missing from\n{}",
                            plan.node_iptables
                        );
                    }
                }

                // Connmark rules: the listed kinds present, the others absent.
                let listed: Result<Vec<usize>, &str> = expected["connmark_rules"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(|r| {
                        let rule = r["rule"].as_str().unwrap_or_default();
                        connmark_kind_of(rule).ok_or(rule)
                    })
                    .collect();
                assert!(
                    listed.is_ok(),
                    "{what}: a connmark rule this test cannot read: {listed:?}"
                );
                let listed = listed.unwrap_or_default();
                for (kind, (name, line)) in connmark_kinds(version).iter().enumerate() {
                    assert_eq!(
                        plan.node_iptables.contains(line.as_str()),
                        listed.contains(&kind),
                        "{what}: {name} (`{line}`) in\n{}",
                        plan.node_iptables
                    );
                }
                checked += 1;
            }
        }
    }
    // 12 tags × 4 cases in strict mode, 8 tags from v1.11.0 × 4 in standard mode.
    assert!(checked >= 70, "only {checked} cases checked");
}
