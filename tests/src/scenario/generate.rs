//! The scenarios the differential test runs: a fixed walk over every value of every axis, then
//! draws from fixed-seed generators.
//!
//! The walk comes first so even a short run covers every axis value; the scenarios with security
//! groups for pods follow at fixed ids (12 to 19), across the versions where that set-up changed,
//! and the rest are drawn at random. The axes added later (the filters, security groups for
//! pods) each draw from a generator of their own, so adding them left every earlier axis of every
//! scenario as it was: scenario `n` is the same configuration on every run and in every failure
//! report. The test that every value of every axis is generated lives here, beside the walk.

use super::{
    Exclude, Filters, PeerReturn, Scenario, SecondarySubnet, Sgp, SgpMode, TgwTable, VERSIONS,
};

/// splitmix64: a tiny deterministic generator, so scenario `n` is the same on every run.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let len = u64::try_from(items.len()).unwrap_or(1);
        items[usize::try_from(self.next() % len).unwrap_or(0)]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `count` scenarios. The first ones walk every value of every axis (so even a short run covers
/// them all); the rest are drawn at random with a fixed seed.
pub fn generate(count: usize) -> Vec<Scenario> {
    let mut rng = Rng(0x0005_eed0_f90d_2eac);
    // The filter axis has its own generator: adding it left every other axis of every
    // scenario as it was.
    let mut filter_rng = Rng(0x0f11_7e25_5eed_0001);
    // So has security groups for pods (drawn for every scenario, used from CNI v1.7.0).
    let mut sgp_rng = Rng(0x05a9_b4a1_c4e5_0019);
    // And the transit gateway's route table (issue 21): half the time routing, else broken.
    let mut tgw_rng = Rng(0x0769_7ab1_e5ee_d021);
    (0..count)
        .map(|id| {
            let mut s = Scenario {
                id,
                version: rng.pick(VERSIONS),
                external_snat: rng.chance(35),
                exclude: rng.pick(&Exclude::ALL),
                external_service: rng.chance(30),
                node_port_support: rng.chance(60),
                rp_filter_primary: if rng.chance(35) { 1 } else { 2 },
                rp_filter_secondary: rng.pick(&[None, Some(1), Some(2)]),
                secondary_subnet: rng.pick(&SecondarySubnet::ALL),
                peer_return: rng.pick(&PeerReturn::ALL),
                prefix_delegation: rng.chance(25),
                peering_inactive: rng.chance(5),
                via_prefix_list: rng.chance(25),
                via_tgw: if rng.chance(20) {
                    Some(rng.chance(50))
                } else {
                    None
                },
                tgw_table: if tgw_rng.chance(50) {
                    TgwTable::Routing
                } else {
                    tgw_rng.pick(&TgwTable::ALL)
                },
                filters: filter_rng.pick(&Filters::ALL),
                sgp: None,
            };
            let sgp = Sgp {
                mode: sgp_rng.pick(&[SgpMode::Strict, SgpMode::Standard]),
                in_pod_subnet: sgp_rng.chance(40),
                branch_admits_peer: sgp_rng.chance(75),
            };
            let with_sgp = sgp_rng.chance(50);
            if id < 12 {
                // Walk each axis deterministically first.
                s.version = VERSIONS[id % VERSIONS.len()];
                s.exclude = Exclude::ALL[id % Exclude::ALL.len()];
                s.secondary_subnet = SecondarySubnet::ALL[id % SecondarySubnet::ALL.len()];
                s.peer_return = PeerReturn::ALL[(id / 2) % PeerReturn::ALL.len()];
                s.external_snat = id % 2 == 1;
                s.node_port_support = id % 4 < 2;
                s.rp_filter_primary = if id % 3 == 0 { 1 } else { 2 };
                s.rp_filter_secondary = [None, Some(1), Some(2)][id % 3];
                s.external_service = id % 5 == 0;
                s.prefix_delegation = id % 6 == 5;
                s.peering_inactive = id == 11;
                s.via_prefix_list = id % 4 == 3;
                s.via_tgw = match id {
                    2 => Some(true),
                    7 => Some(false),
                    _ => None,
                };
                s.filters = Filters::ALL[id % Filters::ALL.len()];
                if id == 7 {
                    // Everything else lets the traffic through: only the AZ rule can stop it.
                    s.peer_return = PeerReturn::NodeAndPodSubnets;
                    s.external_snat = false;
                    s.tgw_table = TgwTable::Routing;
                }
            } else if id < 20 {
                // Then security groups for pods: each mode with node port support on and off,
                // SNAT on and off, across the versions where the set-up changed (strict only
                // before v1.11.0; rule 1024 gated by node port support alone until v1.12.1).
                let (version, mode, n, e) = [
                    ("v1.12.0", SgpMode::Standard, false, false),
                    ("v1.12.0", SgpMode::Standard, true, false),
                    ("v1.12.0", SgpMode::Strict, false, false),
                    ("v1.23.0", SgpMode::Standard, false, false),
                    ("v1.23.0", SgpMode::Strict, true, true),
                    ("v1.10.4", SgpMode::Standard, true, false),
                    ("v1.12.5", SgpMode::Standard, true, true),
                    ("v1.7.10", SgpMode::Strict, false, false),
                ][id - 12];
                s.version = version;
                s.node_port_support = n;
                s.external_snat = e;
                s.via_tgw = None;
                s.peering_inactive = false;
                if id == 12 {
                    // Issue 19's case with nothing else in the way: the kernel sends the pod's
                    // own address out of the branch ENI, and the peer routes it back.
                    s.exclude = Exclude::None;
                    s.peer_return = PeerReturn::NodeAndPodSubnets;
                    s.filters = Filters::Open;
                }
                s.sgp = Some(Sgp {
                    mode,
                    in_pod_subnet: id % 3 == 1,
                    branch_admits_peer: id != 15,
                });
            }
            if (20..24).contains(&id) {
                // Security-group references over a transit gateway (issue 21): a node group
                // admitting only itself, and a peer rule naming the node group for another port,
                // decide the verdict whether references cross or not; over a peering connection
                // too, for contrast.
                s.via_tgw = if id < 22 { Some(true) } else { None };
                s.filters = [
                    Filters::NodeGroupAdmitsItself,
                    Filters::PeerAdmitsNodeGroupOnOtherPort,
                ][id % 2];
                s.peer_return = PeerReturn::NodeAndPodSubnets;
                s.exclude = Exclude::None;
                s.peering_inactive = false;
                s.tgw_table = TgwTable::Routing;
            }
            if (24..30).contains(&id) {
                // Each transit gateway route table once with everything else open, SNAT off so
                // the pods' own addresses meet the table on the way back (issue 21).
                s.via_tgw = Some(true);
                s.tgw_table = TgwTable::ALL[id - 24];
                s.peer_return = PeerReturn::NodeAndPodSubnets;
                s.exclude = Exclude::None;
                s.external_snat = id % 2 == 0;
                s.peering_inactive = false;
                s.filters = Filters::Open;
            }
            if !(12..24).contains(&id) && with_sgp && s.has_pod_eni_support() {
                s.sgp = Some(sgp);
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a scenario has one value of an axis.
    type Axis = fn(&Scenario, bool) -> bool;

    #[test]
    fn every_value_of_every_axis_is_generated() {
        let scenarios = generate(200);
        for v in VERSIONS {
            assert!(scenarios.iter().any(|s| s.version == *v), "{v}");
        }
        for x in Exclude::ALL {
            assert!(scenarios.iter().any(|s| s.exclude == x), "{x:?}");
        }
        for s2 in SecondarySubnet::ALL {
            assert!(scenarios.iter().any(|s| s.secondary_subnet == s2), "{s2:?}");
        }
        for r in PeerReturn::ALL {
            assert!(scenarios.iter().any(|s| s.peer_return == r), "{r:?}");
        }
        // Every filter variant, with SNAT on and off (EXTERNALSNAT), and with the secondary
        // ENI in the node subnet and in a pod subnet.
        for f in Filters::ALL {
            for snat_off in [true, false] {
                assert!(
                    scenarios
                        .iter()
                        .any(|s| s.filters == f && s.external_snat == snat_off),
                    "{f:?} with EXTERNALSNAT={snat_off}"
                );
            }
            for in_node_subnet in [true, false] {
                assert!(
                    scenarios.iter().any(|s| s.filters == f
                        && (s.secondary_subnet == SecondarySubnet::NodeSubnet) == in_node_subnet),
                    "{f:?} with the secondary ENI in the node subnet: {in_node_subnet}"
                );
            }
        }
        // Security groups for pods: each mode with node port support on and off and with SNAT
        // on and off, in both subnets; and the case standard mode got wrong before v1.12.1.
        for mode in [SgpMode::Strict, SgpMode::Standard] {
            for flag in [true, false] {
                let axes: [(&str, Axis); 4] = [
                    ("NODE_PORT_SUPPORT", |s: &Scenario, f| {
                        s.node_port_support == f
                    }),
                    ("EXTERNALSNAT", |s: &Scenario, f| s.external_snat == f),
                    ("in the pod subnet", |s: &Scenario, f| {
                        s.sgp.is_some_and(|g| g.in_pod_subnet == f)
                    }),
                    ("the branch group admitting the peer", |s: &Scenario, f| {
                        s.sgp.is_some_and(|g| g.branch_admits_peer == f)
                    }),
                ];
                for (what, has) in axes {
                    assert!(
                        scenarios
                            .iter()
                            .any(|s| s.sgp.is_some_and(|g| g.mode == mode) && has(s, flag)),
                        "{mode:?} with {what} {flag}"
                    );
                }
            }
        }
        assert!(scenarios.iter().any(|s| s.version == "v1.12.0"
            && s.sgp.is_some_and(|g| g.mode == SgpMode::Standard)
            && !s.node_port_support
            && !s.external_snat));
        assert!(
            scenarios
                .iter()
                .filter(|s| s.sgp.is_some())
                .all(Scenario::has_pod_eni_support)
        );
        for f in [
            Filters::NodeGroupAdmitsItself,
            Filters::PeerAdmitsNodeGroupOnOtherPort,
        ] {
            for via_tgw in [true, false] {
                assert!(
                    scenarios
                        .iter()
                        .any(|s| s.filters == f && s.via_tgw.is_some() == via_tgw),
                    "{f:?} over a transit gateway: {via_tgw}"
                );
            }
        }
        assert!(scenarios.iter().any(|s| s.via_prefix_list));
        for t in TgwTable::ALL {
            assert!(
                scenarios
                    .iter()
                    .any(|s| s.via_tgw == Some(true) && s.tgw_table == t),
                "{t:?}"
            );
        }
        assert!(scenarios.iter().any(|s| s.via_tgw == Some(true)));
        assert!(scenarios.iter().any(|s| s.via_tgw == Some(false)));
        for flag in [true, false] {
            assert!(scenarios.iter().any(|s| s.external_snat == flag));
            assert!(scenarios.iter().any(|s| s.node_port_support == flag));
            assert!(scenarios.iter().any(|s| s.external_service == flag));
            assert!(scenarios.iter().any(|s| (s.rp_filter_primary == 1) == flag));
            assert!(
                scenarios
                    .iter()
                    .any(|s| (s.rp_filter_secondary == Some(1)) == flag)
            );
        }
        assert_eq!(
            generate(30)[17].to_string(),
            scenarios[17].to_string(),
            "deterministic"
        );
    }
}
