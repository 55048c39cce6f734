//! Recognises snapshot files by their content and parses them into raw documents.
//!
//! A snapshot is a set of unmodified `aws … describe-*` and `kubectl get … -o json` outputs. File
//! names carry no meaning: each file is identified by its top-level key (`Vpcs`, `RouteTables`,
//! `cluster`, …) or its Kubernetes `kind`. Parsing is two-step so errors can name the exact place:
//! the text is first read into a JSON value with the path tracked (a truncated or malformed file
//! reports `NetworkInterfaces[3].PrivateIpAddresses`), then the value is read into its typed shape
//! with the path tracked again (a wrong type reports the field). The core never touches the file
//! system: callers hand in `(path, text)` pairs, so the same code serves the CLI, tests and Lambda.

use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

use crate::raw;

/// A file of the snapshot: its path relative to the snapshot root and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// A document recognised by content.
#[derive(Debug, Clone)]
pub enum Document {
    Vpcs(raw::DescribeVpcs),
    Subnets(raw::DescribeSubnets),
    RouteTables(raw::DescribeRouteTables),
    NetworkInterfaces(raw::DescribeNetworkInterfaces),
    Instances(raw::DescribeInstances),
    VpcPeeringConnections(raw::DescribeVpcPeeringConnections),
    TransitGatewayVpcAttachments(raw::DescribeTransitGatewayVpcAttachments),
    Cluster(raw::DescribeCluster),
    Addon(raw::DescribeAddon),
    AwsNode(raw::DaemonSet),
    Pods(raw::PodList),
    EniConfigs(raw::EniConfigList),
    /// podreach's own note from a live collection (`podreach-collection.json`).
    Collection(raw::PodreachCollection),
}

impl Document {
    /// The command whose output this is, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Document::Vpcs(_) => "aws ec2 describe-vpcs",
            Document::Subnets(_) => "aws ec2 describe-subnets",
            Document::RouteTables(_) => "aws ec2 describe-route-tables",
            Document::NetworkInterfaces(_) => "aws ec2 describe-network-interfaces",
            Document::Instances(_) => "aws ec2 describe-instances",
            Document::VpcPeeringConnections(_) => "aws ec2 describe-vpc-peering-connections",
            Document::TransitGatewayVpcAttachments(_) => {
                "aws ec2 describe-transit-gateway-vpc-attachments"
            }
            Document::Cluster(_) => "aws eks describe-cluster",
            Document::Addon(_) => "aws eks describe-addon",
            Document::AwsNode(_) => "kubectl get daemonset aws-node -o json",
            Document::Pods(_) => "kubectl get pods -A -o json",
            Document::EniConfigs(_) => "kubectl get eniconfigs -o json",
            Document::Collection(_) => "podreach snapshot --live",
        }
    }
}

/// A recognised document and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedDocument {
    pub path: String,
    pub document: Document,
}

/// Why a snapshot file could not be read. Every variant names the file.
#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error(
        "{file}: not valid JSON at line {line}, column {column} (inside `{json_path}`): {message}"
    )]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        json_path: String,
        message: String,
    },
    #[error("{file}: `{json_path}` in {command} output: {message}")]
    Shape {
        file: String,
        json_path: String,
        command: &'static str,
        message: String,
    },
}

/// The outcome of reading a set of files: the documents, and files skipped with the reason.
#[derive(Debug, Default)]
pub struct Loaded {
    pub documents: Vec<LoadedDocument>,
    pub skipped: Vec<(String, String)>,
}

/// Reads every file; fails on the first malformed file (naming it), skips unrecognised ones.
pub fn load(files: &[SourceFile]) -> Result<Loaded, SnapshotError> {
    let mut loaded = Loaded::default();
    for file in files {
        match recognise(file)? {
            Recognised::Document(document) => loaded.documents.push(LoadedDocument {
                path: file.path.clone(),
                document: *document,
            }),
            Recognised::Skip(why) => loaded.skipped.push((file.path.clone(), why)),
        }
    }
    Ok(loaded)
}

enum Recognised {
    Document(Box<Document>),
    Skip(String),
}

fn recognise(file: &SourceFile) -> Result<Recognised, SnapshotError> {
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
    let Some(object) = value.as_object() else {
        return Ok(Recognised::Skip(
            "the top level is not a JSON object".to_owned(),
        ));
    };
    let has = |key: &str| object.contains_key(key);
    let kind = object.get("kind").and_then(Value::as_str);
    let shape = |command| ShapeReader {
        file: &file.path,
        command,
    };
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
                "ENIConfigList" => Some("ENIConfig"),
                _ => None,
            });
        match first_kind {
            Some("Pod") => Document::Pods(shape("kubectl get pods -A -o json").read(value)?),
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
            None => {
                return Ok(Recognised::Skip(
                    "an empty kubectl list: its kind cannot be told".to_owned(),
                ));
            }
        }
    } else {
        let keys: Vec<&str> = object.keys().map(String::as_str).take(4).collect();
        return Ok(Recognised::Skip(format!(
            "not the output of a command podreach reads (top-level keys: {})",
            keys.join(", ")
        )));
    };
    Ok(Recognised::Document(Box::new(document)))
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
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    #[test]
    fn files_are_recognised_by_content_not_name() {
        let loaded = load(&[
            file("a.json", r#"{"Subnets": []}"#),
            file(
                "subnets.json",
                r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}]}"#,
            ),
        ])
        .expect("valid files");
        assert!(matches!(loaded.documents[0].document, Document::Subnets(_)));
        assert!(matches!(loaded.documents[1].document, Document::Vpcs(_)));
    }

    #[test]
    fn a_truncated_file_names_the_file_the_line_and_the_json_path() {
        let text = "{\"NetworkInterfaces\": [{\"NetworkInterfaceId\": \"eni-1\", \"PrivateIpAddresses\": [{\"Priv";
        let error = load(&[file("enis.json", text)]).expect_err("truncated");
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
        let error = load(&[file("x/enis.json", text)]).expect_err("wrong type");
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
            file("sg.json", r#"{"SecurityGroups": []}"#),
            file(
                "empty.json",
                r#"{"apiVersion": "v1", "items": [], "kind": "List"}"#,
            ),
            file("arr.json", "[]"),
        ])
        .expect("valid JSON");
        assert!(loaded.documents.is_empty());
        assert_eq!(loaded.skipped.len(), 3);
        assert!(loaded.skipped[0].1.contains("SecurityGroups"));
    }

    #[test]
    fn unknown_fields_are_ignored_because_aws_adds_fields() {
        let text = r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "BrandNewField": {"x": 1}}]}"#;
        assert!(load(&[file("v.json", text)]).is_ok());
    }
}
