//! The far end of a filtered path: which far endpoints (ENIs of a peered VPC, or hosts beyond
//! a transit gateway, VPN or Direct Connect) a block holds, the groups and ACL they sit behind,
//! and whether security-group references can cross to them (docs/datapath.md §5.7). The far
//! forward and reply checks run here on the same security-group and ACL steps as the near end.

use super::acls::far_acl_of;
use super::*;

impl<'a> ClusterContext<'a> {
    /// The far end of `block`, reached over `object` toward `remote`.
    pub(super) fn far_end(
        &self,
        block: Ipv4Net,
        object: Option<&Target>,
        remote: Option<&Remote>,
    ) -> FarEnd<'a> {
        match remote {
            Some(Remote::Vpc(vpc)) => {
                let acl = match self.vpc.remote_subnet(vpc, block) {
                    Some(subnet) => self.acl_of(&subnet.id).map(|a| (subnet.id.as_str(), a)),
                    None => Err(format!("no subnet of {vpc} in the snapshot holds {block}")),
                };
                let endpoints = if self.vpcs_with_enis.contains(vpc.as_str()) {
                    let mut sets: Vec<(Vec<String>, &'a str)> = Vec::new();
                    let start = self
                        .far_enis
                        .partition_point(|(ip, _)| *ip < block.network());
                    for (ip, eni) in &self.far_enis[start..] {
                        if !block.contains(ip) {
                            break;
                        }
                        if eni.vpc_id != *vpc {
                            continue; // another VPC with the same addresses
                        }
                        let mut groups = eni.groups.clone();
                        groups.sort();
                        if !sets.iter().any(|(g, _)| *g == groups) {
                            sets.push((groups, eni.id.as_str()));
                        }
                    }
                    sets.sort();
                    Ok(sets)
                } else {
                    Err(format!(
                        "the ENIs of {vpc} are not in the snapshot (aws ec2 describe-network-interfaces --filters Name=vpc-id,Values={vpc})"
                    ))
                };
                let references = match object {
                    Some(Target::Peering(id)) => {
                        let crosses = self
                            .net
                            .peerings
                            .as_ref()
                            .and_then(|p| p.get(id))
                            .is_some_and(|p| p.same_region() && p.status == "active");
                        HopRefs::across(if crosses { Refs::Cross } else { Refs::Never })
                    }
                    Some(Target::TransitGateway(id)) => HopRefs {
                        refs: self.tgw_references(id, vpc),
                        inbound_only: true,
                    },
                    _ => HopRefs::across(Refs::Never),
                };
                FarEnd::Vpc {
                    vpc: vpc.clone(),
                    acl,
                    endpoints,
                    references,
                }
            }
            Some(Remote::OnPremises(object)) => FarEnd::Outside(object.clone()),
            Some(Remote::NotInSnapshot(_)) | None => FarEnd::Unreadable,
        }
    }

    /// Whether an inbound reference crosses transit gateway `id` between the cluster VPC and
    /// `vpc` (docs/datapath.md §5.7): the gateway's option (`describe-transit-gateways`) and both
    /// VPC attachments' (`describe-transit-gateway-vpc-attachments`) must all say `enable`; one
    /// `disable` stops it; anything the snapshot does not show leaves it unknown.
    fn tgw_references(&self, id: &str, vpc: &str) -> Refs {
        let gateway = self.net.tgw_sg_referencing.get(id).copied();
        let attachment = |of: &str| {
            self.net
                .tgw_attachments
                .iter()
                .flatten()
                .find(|a| a.tgw_id == id && a.vpc_id == of)
                .and_then(|a| a.sg_referencing)
        };
        let settings = [gateway, attachment(&self.cluster.vpc_id), attachment(vpc)];
        if settings.contains(&Some(false)) {
            return Refs::Never;
        }
        if settings.iter().all(|s| *s == Some(true)) {
            return Refs::Cross;
        }
        let mut unread = Vec::new();
        if gateway.is_none() {
            unread.push(format!("the gateway's own option (aws ec2 describe-transit-gateways --transit-gateway-ids {id})"));
        }
        if settings[1..].contains(&None) {
            unread.push("the option of both VPC attachments (aws ec2 describe-transit-gateway-vpc-attachments)".to_owned());
        }
        Refs::Unknown(format!(
            "{id} passes security-group references (in inbound rules) only when SecurityGroupReferencingSupport is enabled on it and on both VPC attachments, and the snapshot does not show {}",
            unread.join(" or ")
        ))
    }

    pub(super) fn far_end_of(
        &self,
        class: &ClassKey,
        block: &Block,
        out_primary: bool,
    ) -> FarEnd<'a> {
        let subnet = if out_primary {
            &class.node_subnet
        } else {
            &class.eni_subnet
        };
        let mut scratch = Trace::scratch();
        let outbound = self.vpc.outbound(subnet, block.block, &mut scratch);
        if outbound.object.is_some() {
            return self.far_end(
                block.block,
                outbound.object.as_ref(),
                outbound.remote.as_ref(),
            );
        }
        let (object, remote) = self.object_towards(class, block.block);
        self.far_end(block.block, object.as_ref(), remote.as_ref())
    }

    /// The far subnet's ACL and the far ENIs' groups for a forward packet whose near end is
    /// `near` (as the far side sees it): inbound when the pod initiated, outbound when the far
    /// host did.
    pub(super) fn far_forward(
        &self,
        run: &mut Run<'_>,
        far: &FarEnd<'a>,
        near_end: &NearEnd<'_>,
        near_groups: Option<Vec<String>>,
        way: Way,
    ) {
        let (near, near_label, fix_cidr) =
            (near_end.address, near_end.label, near_end.address_subnet);
        let (vpc, acl, endpoints, references) = match far {
            FarEnd::Vpc {
                vpc,
                acl,
                endpoints,
                references,
            } => (vpc, acl, endpoints, references),
            FarEnd::Outside(object) => {
                run.trace.assume(format!(
                    "filters beyond {object} (on-premises firewalls) are not visible to podreach: assumed to admit the flow"
                ));
                return;
            }
            FarEnd::Unreadable => return, // the path is already unknown (UNKNOWN_REMOTE)
        };
        let to_from = if way == Way::Inbound { "from" } else { "to" };
        let near_text = near_text(near_label, fix_cidr);
        // A packet leaving the far host crosses its ENI's groups, then its subnet's ACL; one
        // arriving crosses the ACL first.
        let peer_label = Lazy(|f: &mut fmt::Formatter<'_>| write!(f, "{to_from} {near_text}"));
        let far_acl = |run: &mut Run<'_>| {
            self.acl_step(
                run,
                AclCheck {
                    at: "peer",
                    acl: far_acl_of(vpc, acl),
                    way,
                    peer: near,
                    peer_label: &peer_label,
                    fix_cidr,
                    reply: None,
                },
            );
        };
        if way == Way::Inbound {
            far_acl(run);
        }
        if self.groups().is_none() {
            run.trace.assume(SG_ASSUMPTION);
        } else {
            match endpoints {
                Err(why) => run.trace.unknown("peer", Cause::MissingInput, why.clone()),
                Ok(e) if e.is_empty() => run.trace.assume(format!(
                    "no ENI of {vpc} holds an address of the destination block, so nothing answers there now; its security groups are not evaluated"
                )),
                Ok(endpoints) => {
                    let peers = match references.for_rules(way) {
                        Refs::Cross => PeerGroups {
                            sets: vec![near_groups],
                            undecided: None,
                        },
                        Refs::Never => PeerGroups {
                            sets: vec![None],
                            undecided: None,
                        },
                        Refs::Unknown(why) => PeerGroups {
                            sets: vec![None],
                            undecided: Some((why, Some(vec![near_groups]))),
                        },
                    };
                    let code = Cause::PeerSg;
                    for (groups, example) in endpoints {
                        self.sg_step(
                            run,
                            SgCheck {
                                at: "peer",
                                code,
                                eni: &format_args!("{example} in {vpc}"),
                                groups,
                                way,
                                block: near,
                                peers: &peers,
                                peer_label: &near_text,
                                fix_cidr,
                            },
                        );
                    }
                }
            }
        }
        if way == Way::Outbound {
            far_acl(run);
        }
    }

    /// The far subnet's ACL for a reply packet.
    pub(super) fn far_reply(
        &self,
        run: &mut Run<'_>,
        far: &FarEnd<'a>,
        near_end: &NearEnd<'_>,
        way: Way,
        range: (u16, u16),
    ) {
        let FarEnd::Vpc { vpc, acl, .. } = far else {
            return;
        };
        let to_from = if way == Way::Inbound { "from" } else { "to" };
        self.acl_step(
            run,
            AclCheck {
                at: "peer",
                acl: far_acl_of(vpc, acl),
                way,
                peer: near_end.address,
                peer_label: &format_args!(
                    "{to_from} {}",
                    near_text(near_end.label, near_end.address_subnet)
                ),
                fix_cidr: near_end.address_subnet,
                reply: Some(range),
            },
        );
    }
}

/// The group sets a near ENI's rules of `way` may see on the far end: one per far endpoint
/// when references cross, else `None`; and, when that cannot be told (the far ENIs are not in
/// the snapshot, or a transit gateway's referencing support is unknown), why, with the sets
/// they would see if references crossed when the far ENIs are known.
pub(super) fn far_peers(far: &FarEnd<'_>, way: Way) -> PeerGroups {
    let never = |undecided| PeerGroups {
        sets: vec![None],
        undecided,
    };
    match far {
        FarEnd::Vpc {
            endpoints,
            references,
            ..
        } => match (references.for_rules(way), endpoints) {
            // With the far VPC's ENIs read and none holding an address of the block, no ENI
            // there carries a group a reference could match, whatever crosses.
            (_, Ok(e)) if e.is_empty() => never(None),
            (Refs::Cross, Ok(e)) => PeerGroups {
                sets: e.iter().map(|(g, _)| Some(g.clone())).collect(),
                undecided: None,
            },
            (Refs::Never, _) => never(None),
            (Refs::Cross, Err(why)) => never(Some((why.clone(), None))),
            (Refs::Unknown(why), Err(_)) => never(Some((why, None))),
            (Refs::Unknown(why), Ok(e)) => {
                let crossing = e.iter().map(|(g, _)| Some(g.clone())).collect();
                never(Some((why, Some(crossing))))
            }
        },
        FarEnd::Outside(_) | FarEnd::Unreadable => never(None),
    }
}
