//! The network ACL checks of docs/datapath.md §5.7: a subnet's ACL for the request (to the
//! destination port) or the reply (to the client's ephemeral range), near or far. ACLs are
//! stateless, so both directions are read; no ACL output at all is an assumption, an ACL the
//! snapshot lacks for one subnet an unknown hop.

use super::*;

/// One network ACL check: the ACL (the subnet as texts name it) or why it is unknown, which way,
/// the other end, and whether the packet is the request or the reply to `reply`'s ports.
pub(super) struct AclCheck<'c> {
    pub(super) at: &'static str,
    pub(super) acl: Result<(SubnetName<'c>, &'c NetworkAcl), String>,
    pub(super) way: Way,
    pub(super) peer: Ipv4Net,
    pub(super) peer_label: &'c dyn fmt::Display,
    /// The CIDR a fix admits.
    pub(super) fix_cidr: Ipv4Net,
    /// `Some(ephemeral range)` for a reply.
    pub(super) reply: Option<(u16, u16)>,
}

impl<'a> ClusterContext<'a> {
    /// The network ACL of a subnet, or why it is unknown.
    pub(super) fn acl_of(&self, subnet: &str) -> Result<&'a NetworkAcl, String> {
        self.net.acl_of_subnet(subnet).ok_or_else(|| {
            let vpc = self
                .net
                .subnets
                .get(subnet)
                .map_or("its VPC", |s| s.vpc_id.as_str());
            format!(
                "the network ACL of {subnet} is not in the snapshot (aws ec2 describe-network-acls --filters Name=vpc-id,Values={vpc})"
            )
        })
    }

    /// A network ACL check (near or far): the request to the destination port, or the reply to
    /// the client's ephemeral range. No ACL output at all is an assumption; an ACL the snapshot
    /// lacks for this subnet, an unknown hop.
    pub(super) fn acl_step(&self, run: &mut Run<'_>, check: AclCheck<'_>) {
        let AclCheck {
            at,
            acl,
            way,
            peer,
            peer_label,
            fix_cidr,
            reply,
        } = check;
        if self.net.network_acls.is_none() {
            run.trace.assume(ACL_ASSUMPTION);
            return;
        }
        let (subnet, acl) = match acl {
            Ok(found) => found,
            Err(why) => {
                run.trace.unknown(at, Cause::MissingInput, why);
                return;
            }
        };
        let verdict = filters::acl_admits(acl, way, peer);
        let entries = match way {
            Way::Inbound => &acl.inbound,
            Way::Outbound => &acl.outbound,
        };
        let dir = way.as_str();
        let deciding = |ports: &PortSet, what: &str| -> String {
            match verdict.first_deny(ports) {
                Some(Some(n)) => entries
                    .iter()
                    .find(|e| e.rule_number == n)
                    .map_or_else(|| format!("rule {n}"), |e| e.describe()),
                _ => format!("the final * deny (no rule allows {what})"),
            }
        };
        let fix = |ports: &PortSet, deny: Option<u32>| FilterFix::Acl {
            acl_id: acl.id.clone(),
            way,
            cidr: fix_cidr,
            ports: ports.clone(),
            rule_numbers: filters::free_rule_numbers(entries, deny, ports.ranges().len()),
        };
        let id = &acl.id;
        match reply {
            None => run.forward(
                at,
                // The cluster side's ACL, or the far side's (docs/datapath.md §5.5).
                if at == "peer" {
                    Cause::PeerNacl
                } else {
                    Cause::NaclLocal
                },
                &verdict.allowed,
                |ports| format!("network ACL {id} of {subnet} allows {dir} {ports} {peer_label}"),
                |missing| {
                    format!(
                        "network ACL {id} of {subnet} denies {dir} {missing} {peer_label}: {} decides first",
                        deciding(missing, "it")
                    )
                },
                |ports| fix(ports, verdict.first_deny(ports).flatten()),
            ),
            Some(range) => {
                let needed = PortSet::range(range.0, range.1);
                let deny = verdict.first_deny(&needed).flatten();
                run.reply(
                    at,
                    &verdict.allowed,
                    range,
                    || format!("network ACL {id} of {subnet} allows the reply {dir} to ephemeral ports {needed} {peer_label} (stateless: the reply needs its own rule)"),
                    |missing| format!("network ACL {id} of {subnet} denies the reply {dir} to ephemeral ports {missing} {peer_label}: {} decides first (stateless: the reply needs its own rule for {needed})", deciding(&needed, "them")),
                    |ports| fix(ports, deny),
                );
            }
        }
    }

    /// The network ACL of a cluster subnet, as an [`AclCheck`] reads it.
    pub(super) fn near_acl<'s>(
        &self,
        subnet: &'s str,
    ) -> Result<(SubnetName<'s>, &'a NetworkAcl), String> {
        self.acl_of(subnet)
            .map(|acl| (SubnetName::Near(subnet), acl))
    }
}

/// The far subnet's ACL as an [`AclCheck`] reads it: named with its VPC.
pub(super) fn far_acl_of<'a>(
    vpc: &'a str,
    acl: &Result<(&'a str, &'a NetworkAcl), String>,
) -> Result<(SubnetName<'a>, &'a NetworkAcl), String> {
    match acl {
        Ok((subnet, acl)) => Ok((SubnetName::Far { subnet, vpc }, *acl)),
        Err(why) => Err(why.clone()),
    }
}
