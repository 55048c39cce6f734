//! The model held against what the CNI's own code and unit tests say about security groups for
//! pods, tag by tag: `tests/data/cni-sgp-rules.json` records, for each tag from v1.7.10 to
//! v1.23.0, each enforcing mode and each `AWS_VPC_CNI_NODE_PORT_SUPPORT` × `EXTERNALSNAT`, the
//! rules the CNI installs (with the file, line and test case that assert them) and where a branch
//! pod's first packet to a destination beyond the VPC leaves, and whether it is SNATed. A later
//! change to the model that departs from the CNI's assertions fails here.

use podreach_core::cni::{CniConfig, CniInputs, SgpMode, Version};
use podreach_core::datapath::{DestinationFlags, HostDatapath, HostTable, Placement};
use serde_json::Value;

const TABLE: &str = include_str!("../../../tests/data/cni-sgp-rules.json");

fn config(version: Version, mode: &str, node_port: bool, external: bool) -> CniConfig {
    let env = [
        ("ENABLE_POD_ENI", "true".to_owned()),
        ("POD_SECURITY_GROUP_ENFORCING_MODE", mode.to_owned()),
        ("AWS_VPC_CNI_NODE_PORT_SUPPORT", node_port.to_string()),
        ("AWS_VPC_K8S_CNI_EXTERNALSNAT", external.to_string()),
    ];
    CniConfig::resolve(&CniInputs {
        cli_version: Some(version),
        cli_env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        ..CniInputs::default()
    })
}

#[test]
fn the_models_branch_pod_egress_is_the_cni_tests_at_every_tag() {
    let table: Value = serde_json::from_str(TABLE).expect("the table is JSON");
    let tags = table["tags"].as_object().expect("tags");
    let mut checked = 0;
    for (tag, facts) in tags {
        let version: Version = tag.parse().expect("a tag is a version");
        for mode in ["strict", "standard"] {
            let Some(cases) = facts["modes"][mode].as_object() else {
                // "not in this release": standard mode came in v1.11.0.
                assert!(
                    mode == "standard" && version < Version::new(1, 11, 0),
                    "{tag} {mode}"
                );
                continue;
            };
            for (case, expected) in cases
                .iter()
                .filter(|(k, _)| k.starts_with("node_port_support="))
            {
                let node_port = case.contains("node_port_support=true");
                let external = case.contains("external_snat=true");
                let cni = config(version, mode, node_port, external);
                let host = HostDatapath::new(&cni);
                let what = format!("{tag} {mode} {case}");
                assert_eq!(
                    host.rule_1024(),
                    expected["rule_1024"].as_bool().expect("rule_1024"),
                    "{what}: rule 1024"
                );
                let egress = &expected["egress_off_vpc"];
                let by_vlan = egress["egress_interface"]
                    .as_str()
                    .expect("egress_interface")
                    .starts_with("vlan.eth");
                let snat = egress["snat"].as_bool().expect("snat");
                let sgp = if mode == "strict" {
                    SgpMode::Strict
                } else {
                    SgpMode::Standard
                };
                assert_eq!(cni.sgp_mode, sgp, "{what}");
                let placement = Placement::Branch {
                    mode: sgp,
                    table: HostTable::Vlan(Some(107)),
                };
                let off_vpc = DestinationFlags::default();
                let eligible = host.snat(&placement, off_vpc);
                let table = match sgp {
                    // Strict: rule 10 `iif vlan…` decides before anything else (the procedure
                    // never asks the lookup; docs/datapath.md §3).
                    SgpMode::Strict => placement.table(),
                    SgpMode::Standard => {
                        let mark = eligible && host.marked(&placement, off_vpc);
                        host.lookup(&placement, off_vpc, mark).table
                    }
                };
                assert_eq!(
                    matches!(table, HostTable::Vlan(_)),
                    by_vlan,
                    "{what}: leaves by {}",
                    egress["egress_interface"]
                );
                assert_eq!(host.translated(eligible, table), snat, "{what}: SNAT");
                checked += 1;
            }
        }
    }
    assert!(checked >= 80, "every tag's cases were checked ({checked})");
}
