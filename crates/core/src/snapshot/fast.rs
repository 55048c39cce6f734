//! The fast pass: one read of a file straight into the typed shapes, without a JSON value tree.
//!
//! A snapshot of a 5,000-node cluster is ~440 MB of JSON. [`Fast`] names every top-level key
//! podreach reads, typed, so serde builds the raw structs as it reads and skips every other key
//! unparsed; the items of a Kubernetes list are typed by their own `kind` (`KubeItem`), each held
//! as a JSON value only while it is converted. The pass answers only for a file it can take as it
//! is: exactly one shape podreach reads, needing no judgement. An add-on that is not vpc-cni, a
//! DaemonSet that is not aws-node, several shapes in one file or a parse error send the file to
//! the slow pass (`recognise`), which decides and words any error.

use serde::Deserialize;
use serde::de::Error as _;
use serde_json::Value;

use crate::raw;

use super::document::Document;
use super::recognised::{CUT_SHORT, Recognised};

/// Every top-level key podreach reads, typed; anything else is skipped without being built.
#[derive(Deserialize)]
pub(super) struct Fast {
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
    #[serde(rename = "podreachCollection")]
    collection: Option<raw::CollectionNotes>,
    #[serde(rename = "Vpcs")]
    vpcs: Option<Vec<raw::Vpc>>,
    #[serde(rename = "Subnets")]
    subnets: Option<Vec<raw::Subnet>>,
    #[serde(rename = "RouteTables")]
    route_tables: Option<Vec<raw::RouteTable>>,
    #[serde(rename = "NetworkInterfaces")]
    network_interfaces: Option<Vec<raw::NetworkInterface>>,
    #[serde(rename = "Reservations")]
    reservations: Option<Vec<raw::Reservation>>,
    #[serde(rename = "VpcPeeringConnections")]
    vpc_peering_connections: Option<Vec<raw::VpcPeeringConnection>>,
    #[serde(rename = "TransitGatewayVpcAttachments")]
    transit_gateway_vpc_attachments: Option<Vec<raw::TransitGatewayVpcAttachment>>,
    #[serde(rename = "TransitGateways")]
    transit_gateways: Option<Vec<raw::TransitGateway>>,
    #[serde(rename = "PrefixLists")]
    prefix_lists: Option<Vec<raw::ManagedPrefixList>>,
    #[serde(rename = "Entries")]
    prefix_list_entries: Option<Vec<raw::PrefixListEntry>>,
    #[serde(rename = "PrefixListId")]
    prefix_list_id: Option<String>,
    #[serde(rename = "SecurityGroups")]
    security_groups: Option<Vec<raw::SecurityGroup>>,
    #[serde(rename = "NetworkAcls")]
    network_acls: Option<Vec<raw::NetworkAcl>>,
    cluster: Option<raw::Cluster>,
    addon: Option<raw::Addon>,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<raw::ObjectMeta>,
    spec: Option<raw::DaemonSetSpec>,
    items: Option<Vec<KubeItem>>,
}

/// One item of a Kubernetes list, typed by its own `kind`; held as a value only meanwhile.
enum KubeItem {
    Pod(raw::Pod),
    Node(raw::Node),
    EniConfig(raw::EniConfig),
    DaemonSet(raw::DaemonSet),
}

impl<'de> Deserialize<'de> for KubeItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let item = match value.get("kind").and_then(Value::as_str) {
            Some("Pod") => serde_json::from_value(value).map(KubeItem::Pod),
            Some("Node") => serde_json::from_value(value).map(KubeItem::Node),
            Some("ENIConfig") => serde_json::from_value(value).map(KubeItem::EniConfig),
            Some("DaemonSet") => serde_json::from_value(value).map(KubeItem::DaemonSet),
            // Left to the slow pass, which says what it is.
            _ => return Err(D::Error::custom("an item podreach does not read")),
        };
        item.map_err(D::Error::custom)
    }
}

impl Fast {
    /// The document, when exactly one shape podreach reads is present and it needs no further
    /// judgement; otherwise `None`, and the slow pass decides (and words any error).
    pub(super) fn recognise(self) -> Option<Recognised> {
        let incomplete = self.next_token.is_some().then(|| CUT_SHORT.to_owned());
        let mut found: Vec<Document> = Vec::new();
        if let Some(notes) = self.collection {
            found.push(Document::Collection(raw::PodreachCollection {
                podreach_collection: notes,
            }));
        }
        if let Some(vpcs) = self.vpcs {
            found.push(Document::Vpcs(raw::DescribeVpcs { vpcs }));
        }
        if let Some(subnets) = self.subnets {
            found.push(Document::Subnets(raw::DescribeSubnets { subnets }));
        }
        if let Some(route_tables) = self.route_tables {
            found.push(Document::RouteTables(raw::DescribeRouteTables {
                route_tables,
            }));
        }
        if let Some(network_interfaces) = self.network_interfaces {
            found.push(Document::NetworkInterfaces(
                raw::DescribeNetworkInterfaces { network_interfaces },
            ));
        }
        if let Some(reservations) = self.reservations {
            found.push(Document::Instances(raw::DescribeInstances { reservations }));
        }
        if let Some(vpc_peering_connections) = self.vpc_peering_connections {
            found.push(Document::VpcPeeringConnections(
                raw::DescribeVpcPeeringConnections {
                    vpc_peering_connections,
                },
            ));
        }
        if let Some(transit_gateway_vpc_attachments) = self.transit_gateway_vpc_attachments {
            found.push(Document::TransitGatewayVpcAttachments(
                raw::DescribeTransitGatewayVpcAttachments {
                    transit_gateway_vpc_attachments,
                },
            ));
        }
        if let Some(transit_gateways) = self.transit_gateways {
            found.push(Document::TransitGateways(raw::DescribeTransitGateways {
                transit_gateways,
            }));
        }
        if let Some(prefix_lists) = self.prefix_lists {
            found.push(Document::PrefixLists(raw::DescribeManagedPrefixLists {
                prefix_lists,
            }));
        }
        if let Some(entries) = self.prefix_list_entries {
            found.push(Document::PrefixListEntries(
                raw::GetManagedPrefixListEntries {
                    prefix_list_id: self.prefix_list_id,
                    entries,
                },
            ));
        }
        if let Some(security_groups) = self.security_groups {
            found.push(Document::SecurityGroups(raw::DescribeSecurityGroups {
                security_groups,
            }));
        }
        if let Some(network_acls) = self.network_acls {
            found.push(Document::NetworkAcls(raw::DescribeNetworkAcls {
                network_acls,
            }));
        }
        if let Some(cluster) = self.cluster {
            found.push(Document::Cluster(raw::DescribeCluster { cluster }));
        }
        if let Some(addon) = self.addon {
            if addon.addon_name != "vpc-cni" {
                return None;
            }
            found.push(Document::Addon(raw::DescribeAddon { addon }));
        }
        let api_version = self.api_version.unwrap_or_default();
        match (self.kind.as_deref(), self.items, self.metadata, self.spec) {
            (Some("DaemonSet"), None, Some(metadata), Some(spec))
                if metadata.name == "aws-node" =>
            {
                found.push(Document::AwsNode(raw::DaemonSet {
                    api_version,
                    kind: "DaemonSet".to_owned(),
                    metadata,
                    spec,
                }));
            }
            (Some("List"), Some(items), _, _) if items.is_empty() => {
                return found.is_empty().then_some(Recognised::Empty);
            }
            (Some(kind), Some(items), _, _) if kind.ends_with("List") => {
                let kind = kind.to_owned();
                if items.iter().all(|i| matches!(i, KubeItem::Pod(_))) {
                    let items = items
                        .into_iter()
                        .filter_map(|i| match i {
                            KubeItem::Pod(pod) => Some(pod),
                            _ => None,
                        })
                        .collect();
                    found.push(Document::Pods(raw::PodList {
                        api_version,
                        kind,
                        items,
                    }));
                } else if items.iter().all(|i| matches!(i, KubeItem::Node(_))) {
                    let items = items
                        .into_iter()
                        .filter_map(|i| match i {
                            KubeItem::Node(node) => Some(node),
                            _ => None,
                        })
                        .collect();
                    found.push(Document::Nodes(raw::NodeList {
                        api_version,
                        kind,
                        items,
                    }));
                } else if items.iter().all(|i| matches!(i, KubeItem::EniConfig(_))) {
                    let items = items
                        .into_iter()
                        .filter_map(|i| match i {
                            KubeItem::EniConfig(config) => Some(config),
                            _ => None,
                        })
                        .collect();
                    found.push(Document::EniConfigs(raw::EniConfigList {
                        api_version,
                        kind,
                        items,
                    }));
                } else {
                    let aws_node = items.into_iter().find_map(|i| match i {
                        KubeItem::DaemonSet(d) if d.metadata.name == "aws-node" => Some(d),
                        _ => None,
                    })?;
                    found.push(Document::AwsNode(aws_node));
                }
            }
            (None, None, _, _) => {}
            _ => return None,
        }
        match found.len() {
            1 => found
                .pop()
                .map(|d| Recognised::Document(Box::new(d), incomplete)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{load, test_file as file};

    #[test]
    fn files_are_recognised_by_content_not_name() {
        let loaded = load(&[
            file("a.json", r#"{"Subnets": []}"#),
            file(
                "subnets.json",
                r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}]}"#,
            ),
        ])
        .into_result()
        .expect("valid files");
        assert!(matches!(loaded.documents[0].document, Document::Subnets(_)));
        assert!(matches!(loaded.documents[1].document, Document::Vpcs(_)));
    }

    #[test]
    fn unknown_fields_are_ignored_because_aws_adds_fields() {
        let text = r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "BrandNewField": {"x": 1}}]}"#;
        // The one pass itself reads past the new field: the slow pass is not what accepts it.
        let fast = match serde_json::from_str::<Fast>(text).map(Fast::recognise) {
            Ok(Some(Recognised::Document(document, None))) => Some(*document),
            _ => None,
        };
        assert!(
            matches!(fast, Some(Document::Vpcs(_))),
            "the fast pass did not read the VPCs"
        );
        // Read and kept: nothing set aside, one document, the VPC as written.
        let loaded = load(&[file("v.json", text)]);
        let problems = &loaded.problems;
        assert!(problems.unreadable.is_empty(), "{:?}", problems.unreadable);
        assert!(problems.skipped.is_empty(), "{:?}", problems.skipped);
        assert!(problems.incomplete.is_empty(), "{:?}", problems.incomplete);
        assert_eq!(loaded.documents.len(), 1, "{:?}", loaded.documents);
        assert_eq!(loaded.documents[0].path, "v.json");
        let vpcs: Vec<(&str, &str)> = loaded
            .documents
            .iter()
            .filter_map(|d| match &d.document {
                Document::Vpcs(vpcs) => Some(vpcs),
                _ => None,
            })
            .flat_map(|vpcs| &vpcs.vpcs)
            .map(|vpc| (vpc.vpc_id.as_str(), vpc.cidr_block.as_str()))
            .collect();
        assert_eq!(vpcs, [("vpc-1", "10.0.0.0/16")], "{:?}", loaded.documents);
    }
}
