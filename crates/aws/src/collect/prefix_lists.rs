//! Managed prefix lists: the entries of each list a collected route or security group rule
//! names, so those become destinations and peers like any CIDR.
//!
//! Routes to a managed prefix list are common with transit gateways, and a security group rule
//! may name one as its peer; the route tables and groups say only the list's id. This phase runs
//! twice: after the cluster VPCs, for the lists their routes use (the transit gateways' routes are
//! searched for the entries), and after the far side, for the lists the far routes and the
//! security groups name; a list is asked for once. GetManagedPrefixListEntries, one paginated
//! call per list, the lists in parallel under the same permits. A route whose target is no
//! private object beyond the VPC (an S3 gateway endpoint's list) costs no call. A list that
//! cannot be read leaves its routes unanalysed, and
//! a gap of every cluster says so.

use std::collections::{BTreeMap, BTreeSet};

use podreach_core::raw::{CollectionGap, CollectionNotes};
use tokio::task::JoinSet;

use super::Collector;
use super::pages::paginate;
use super::vpc::Ec2Inputs;
use crate::convert;

impl Collector {
    /// The entries of every managed prefix list a collected route leads to, one paginated call
    /// per list. A list that cannot be read leaves its routes as gaps of every cluster.
    pub(super) async fn prefix_list_entries(
        &self,
        inputs: &mut Ec2Inputs,
        by_vpc: &BTreeMap<String, Vec<String>>,
        notes: &mut CollectionNotes,
    ) {
        let mut set = JoinSet::new();
        // Called twice (the routes' lists first, the security groups' once they are read):
        // a list is asked for once.
        let ids: Vec<String> = prefix_list_ids(inputs)
            .into_iter()
            .filter(|id| inputs.prefix_lists_asked.insert(id.clone()))
            .collect();
        for id in ids {
            let this = self.clone();
            set.spawn(async move {
                let pages = paginate!(
                    this,
                    "ec2:GetManagedPrefixListEntries",
                    this.ec2
                        .get_managed_prefix_list_entries()
                        .prefix_list_id(&id)
                        .max_results(100),
                    entries,
                    convert::prefix_list_entry
                );
                (id, pages)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((id, pages)) = joined else {
                continue;
            };
            if let Some(failure) = &pages.failure {
                for name in by_vpc.values().flatten() {
                    notes.gaps.push(CollectionGap {
                        cluster: Some(name.clone()),
                        action: Some(failure.action.to_owned()),
                        message: format!(
                            "the entries of prefix list {id} could not be read, so routes to it are \
                             not analysed: {failure}"
                        ),
                    });
                }
                continue;
            }
            inputs.prefix_lists.insert(id, pages.items);
        }
    }
}

/// The lists the collected routes and security group rules name.
fn prefix_list_ids(inputs: &Ec2Inputs) -> BTreeSet<String> {
    // Only lists behind private objects beyond the VPC: a route to an S3 gateway endpoint's
    // list (`vpce-`) is no destination podreach audits, and costs no call.
    let mut ids: BTreeSet<String> = inputs
        .route_tables
        .values()
        .flat_map(|t| &t.routes)
        .filter(|r| {
            r.vpc_peering_connection_id.is_some()
                || r.transit_gateway_id.is_some()
                || r.local_gateway_id.is_some()
                || r.gateway_id
                    .as_deref()
                    .is_some_and(|g| g.starts_with("vgw-"))
        })
        .filter_map(|r| r.destination_prefix_list_id.clone())
        .collect();
    // Security group rules may name prefix lists too.
    ids.extend(
        inputs
            .security_groups
            .iter()
            .flat_map(|g| g.values())
            .flat_map(|g| g.ip_permissions.iter().chain(&g.ip_permissions_egress))
            .flat_map(|p| &p.prefix_list_ids)
            .map(|l| l.prefix_list_id.clone()),
    );
    ids
}
