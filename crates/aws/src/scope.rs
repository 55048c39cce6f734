//! What an event asks to audit: a [`Scope`], the question the collector answers with clusters
//! (`crate::collect`) and the ownership step narrows (`crate::function`).
//!
//! Pure and free of the AWS SDK, like [`crate::trigger`] that makes it from an event, so the two
//! compile alone: the fuzz target of event parsing (`fuzz/fuzz_targets/event.rs`) builds these
//! very files without the SDK.

/// Which clusters to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every cluster of the region (`eks:ListClusters`).
    AllClusters,
    /// The named clusters.
    Clusters(Vec<String>),
    /// The clusters in these VPCs (a CIDR or peering change names the VPCs).
    Vpcs(Vec<String>),
    /// The clusters of these ENIs: their cluster tag, else their instance's tags.
    Enis(Vec<String>),
    /// The clusters these instances are nodes of, by their cluster tags.
    Instances(Vec<String>),
    /// The clusters in the VPCs of these route tables.
    RouteTables(Vec<String>),
    /// The clusters in the VPCs on either side of these peering connections.
    Peerings(Vec<String>),
    /// The clusters whose nodes had these ENIs, which no longer exist (`DeleteNetworkInterface`).
    DeletedEnis(Vec<String>),
    /// The clusters whose nodes' ENIs had these attachments (`DetachNetworkInterface` names only
    /// the attachment id).
    Attachments(Vec<String>),
    /// The clusters whose VPC's route tables had these associations (`DisassociateRouteTable`
    /// names only the association id).
    Associations(Vec<String>),
    /// The clusters whose verdicts read these objects: security groups, network ACLs and their
    /// associations, VPCs and their CIDR associations, managed prefix lists, transit gateways,
    /// their attachments and route tables (ids as the change event names them).
    Inputs(Vec<String>),
    /// Everything any of these scopes covers (a batch of events, audited once).
    Union(Vec<Scope>),
}

impl Scope {
    /// The union of `scopes`, flattened; `AllClusters` absorbs everything.
    pub fn union(scopes: Vec<Scope>) -> Scope {
        let mut flat = Vec::new();
        for scope in scopes {
            match scope {
                Scope::AllClusters => return Scope::AllClusters,
                Scope::Union(inner) => match Scope::union(inner) {
                    Scope::AllClusters => return Scope::AllClusters,
                    Scope::Union(inner) => flat.extend(inner),
                    other => flat.push(other),
                },
                other => flat.push(other),
            }
        }
        let mut unique: Vec<Scope> = Vec::with_capacity(flat.len());
        for scope in flat {
            if !unique.contains(&scope) {
                unique.push(scope);
            }
        }
        let mut flat = unique;
        match flat.len() {
            1 => flat.remove(0),
            _ => Scope::Union(flat),
        }
    }
}
