//! The slow pass: recognising a file by its top-level keys or its Kubernetes `kind`, and naming
//! the exact place of any error.
//!
//! Reached when the fast pass fails or does not answer (`read`). The text is parsed into a JSON
//! value with the path tracked, so a truncated or malformed file reports the place
//! (`NetworkInterfaces[3].PrivateIpAddresses`), and content after the document (two dumps
//! concatenated, a stray log line) is an error too. The value is then matched on its top-level
//! keys (`Vpcs`, `RouteTables`, `cluster`, …, in a fixed order) or its `kind`, and read into its
//! typed shape with the path tracked again (`ShapeReader`), so a wrong type names the field and
//! the command the file is the output of. A file that is not a document podreach reads is skipped
//! with the reason; an empty kubectl list says there is nothing, which is not worth a word.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::raw;

use super::document::Document;
use super::error::SnapshotError;
use super::input::SourceFile;
use super::recognised::{CUT_SHORT, Recognised};

pub(super) fn recognise(file: &SourceFile) -> Result<Recognised, SnapshotError> {
    let mut de = serde_json::Deserializer::from_str(&file.text);
    let syntax = |json_path: String, inner: serde_json::Error| SnapshotError::Syntax {
        file: file.path.clone(),
        line: inner.line(),
        column: inner.column(),
        json_path,
        message: inner.to_string(),
    };
    let value: Value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(error) => {
            let json_path = error.path().to_string();
            return Err(syntax(json_path, error.into_inner()));
        }
    };
    // Trailing garbage after the document (two dumps concatenated, a stray log line).
    de.end()
        .map_err(|e| syntax("(after the document)".to_owned(), e))?;
    recognise_value(&file.path, value)
}

/// Recognises a parsed document (JSON or YAML) by its top-level keys or `kind`.
pub(super) fn recognise_value(path: &str, value: Value) -> Result<Recognised, SnapshotError> {
    let Some(object) = value.as_object() else {
        return Ok(Recognised::Skip(
            "the top level is not a JSON object".to_owned(),
        ));
    };
    let has = |key: &str| object.contains_key(key);
    let kind = object.get("kind").and_then(Value::as_str);
    let shape = |command| ShapeReader {
        file: path,
        command,
    };
    let incomplete = has("NextToken").then(|| CUT_SHORT.to_owned());
    let document = if has("podreachCollection") {
        Document::Collection(shape("podreach snapshot --live").read(value)?)
    } else if has("Vpcs") {
        Document::Vpcs(shape("aws ec2 describe-vpcs").read(value)?)
    } else if has("Subnets") {
        Document::Subnets(shape("aws ec2 describe-subnets").read(value)?)
    } else if has("RouteTables") {
        Document::RouteTables(shape("aws ec2 describe-route-tables").read(value)?)
    } else if has("NetworkInterfaces") {
        Document::NetworkInterfaces(shape("aws ec2 describe-network-interfaces").read(value)?)
    } else if has("Reservations") {
        Document::Instances(shape("aws ec2 describe-instances").read(value)?)
    } else if has("VpcPeeringConnections") {
        Document::VpcPeeringConnections(
            shape("aws ec2 describe-vpc-peering-connections").read(value)?,
        )
    } else if has("TransitGatewayVpcAttachments") {
        Document::TransitGatewayVpcAttachments(
            shape("aws ec2 describe-transit-gateway-vpc-attachments").read(value)?,
        )
    } else if has("TransitGateways") {
        Document::TransitGateways(shape("aws ec2 describe-transit-gateways").read(value)?)
    } else if has("TransitGatewayRouteTables") {
        Document::TransitGatewayRouteTables(
            shape("aws ec2 describe-transit-gateway-route-tables").read(value)?,
        )
    } else if has("TransitGatewayRouteTablePropagations") {
        Document::TransitGatewayRouteTablePropagations(
            shape("aws ec2 get-transit-gateway-route-table-propagations").read(value)?,
        )
    } else if has("Associations") {
        Document::TransitGatewayRouteTableAssociations(
            shape("aws ec2 get-transit-gateway-route-table-associations").read(value)?,
        )
    } else if has("Routes") {
        Document::TransitGatewayRoutes(shape("aws ec2 search-transit-gateway-routes").read(value)?)
    } else if has("PrefixLists") {
        Document::PrefixLists(shape("aws ec2 describe-managed-prefix-lists").read(value)?)
    } else if has("Entries") {
        Document::PrefixListEntries(shape("aws ec2 get-managed-prefix-list-entries").read(value)?)
    } else if has("SecurityGroups") {
        Document::SecurityGroups(shape("aws ec2 describe-security-groups").read(value)?)
    } else if has("NetworkAcls") {
        Document::NetworkAcls(shape("aws ec2 describe-network-acls").read(value)?)
    } else if has("cluster") {
        Document::Cluster(shape("aws eks describe-cluster").read(value)?)
    } else if has("addon") {
        let addon: raw::DescribeAddon = shape("aws eks describe-addon").read(value)?;
        if addon.addon.addon_name != "vpc-cni" {
            return Ok(Recognised::Skip(format!(
                "EKS add-on `{}` is not vpc-cni",
                addon.addon.addon_name
            )));
        }
        Document::Addon(addon)
    } else if kind == Some("DaemonSet") {
        let daemonset: raw::DaemonSet = shape("kubectl get daemonset -o json").read(value)?;
        if daemonset.metadata.name != "aws-node" {
            return Ok(Recognised::Skip(format!(
                "DaemonSet `{}` is not aws-node",
                daemonset.metadata.name
            )));
        }
        Document::AwsNode(daemonset)
    } else if let Some(kind) = kind.filter(|k| k.ends_with("List")) {
        let first_kind = object
            .get("items")
            .and_then(Value::as_array)
            .and_then(|items| items.first())
            .and_then(|item| item.get("kind"))
            .and_then(Value::as_str)
            .or(match kind {
                "PodList" => Some("Pod"),
                "NodeList" => Some("Node"),
                "ENIConfigList" => Some("ENIConfig"),
                "DaemonSetList" => Some("DaemonSet"),
                _ => None,
            });
        match first_kind {
            Some("Pod") => Document::Pods(shape("kubectl get pods -A -o json").read(value)?),
            Some("Node") => Document::Nodes(shape("kubectl get nodes -o json").read(value)?),
            Some("ENIConfig") => {
                Document::EniConfigs(shape("kubectl get eniconfigs -o json").read(value)?)
            }
            Some("DaemonSet") => {
                let list: DaemonSetList = shape("kubectl get daemonsets -o json").read(value)?;
                match list
                    .items
                    .into_iter()
                    .find(|d| d.metadata.name == "aws-node")
                {
                    Some(daemonset) => Document::AwsNode(daemonset),
                    None => {
                        return Ok(Recognised::Skip(
                            "a DaemonSet list without aws-node".to_owned(),
                        ));
                    }
                }
            }
            Some(other) => {
                return Ok(Recognised::Skip(format!(
                    "a kubectl list of `{other}`, which podreach does not read"
                )));
            }
            None => return Ok(Recognised::Empty),
        }
    } else {
        let keys: Vec<&str> = object.keys().map(String::as_str).take(4).collect();
        return Ok(Recognised::Skip(format!(
            "not the output of a command podreach reads (top-level keys: {})",
            keys.join(", ")
        )));
    };
    Ok(Recognised::Document(Box::new(document), incomplete))
}

#[derive(Debug, serde::Deserialize)]
struct DaemonSetList {
    items: Vec<raw::DaemonSet>,
}

struct ShapeReader<'a> {
    file: &'a str,
    command: &'static str,
}

impl ShapeReader<'_> {
    fn read<T: DeserializeOwned>(&self, value: Value) -> Result<T, SnapshotError> {
        serde_path_to_error::deserialize(value).map_err(|error| SnapshotError::Shape {
            file: self.file.to_owned(),
            json_path: error.path().to_string(),
            command: self.command,
            message: error.into_inner().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::snapshot::{load, test_file as file};

    #[test]
    fn a_truncated_file_names_the_file_the_line_and_the_json_path() {
        let text = "{\"NetworkInterfaces\": [{\"NetworkInterfaceId\": \"eni-1\", \"PrivateIpAddresses\": [{\"Priv";
        let error = load(&[file("enis.json", text)])
            .into_result()
            .expect_err("truncated");
        let message = error.to_string();
        assert!(
            message.starts_with("enis.json: not valid JSON at line 1"),
            "{message}"
        );
        assert!(
            message.contains("NetworkInterfaces[0].PrivateIpAddresses[0]"),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let text = r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1",
            "VpcId": "vpc-1", "Attachment": {"DeviceIndex": "one"}}]}"#;
        let error = load(&[file("x/enis.json", text)])
            .into_result()
            .expect_err("wrong type");
        let message = error.to_string();
        assert!(message.contains("x/enis.json"), "{message}");
        assert!(
            message.contains("NetworkInterfaces[0].Attachment.DeviceIndex"),
            "{message}"
        );
        assert!(
            message.contains("aws ec2 describe-network-interfaces"),
            "{message}"
        );
    }

    #[test]
    fn unknown_documents_are_skipped_with_a_reason() {
        let loaded = load(&[
            file("lb.json", r#"{"LoadBalancerDescriptions": []}"#),
            file(
                "empty.json",
                r#"{"apiVersion": "v1", "items": [], "kind": "List"}"#,
            ),
            file("arr.json", "[]"),
        ])
        .into_result()
        .expect("valid JSON");
        assert!(loaded.documents.is_empty());
        // An empty kubectl list says there is nothing: not worth a word.
        assert_eq!(
            loaded.problems.skipped.len(),
            2,
            "{:?}",
            loaded.problems.skipped
        );
        assert!(
            loaded.problems.skipped[0]
                .1
                .contains("LoadBalancerDescriptions")
        );
    }
}
