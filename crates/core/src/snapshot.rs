//! Recognises snapshot files by their content and parses them into raw documents.
//!
//! A snapshot is a set of unmodified `aws … describe-*` and `kubectl get … -o json` outputs. File
//! names carry no meaning: each file is identified by its top-level key (`Vpcs`, `RouteTables`,
//! `cluster`, …) or its Kubernetes `kind`. A snapshot of a 5,000-node cluster is ~440 MB of
//! JSON, so the common case is one pass straight into the typed shapes ([`Fast`]): no JSON value
//! tree is built (a Kubernetes list item is held as a value only while it is converted), and a
//! file can be read from a stream instead of from memory ([`Input`]). Only when that pass fails
//! is the file read again the slow way, to name the exact place: first into a JSON value with the
//! path tracked (a truncated or malformed file reports `NetworkInterfaces[3].PrivateIpAddresses`),
//! then into its typed shape with the path tracked again (a wrong type reports the field). The
//! core never touches the file system: callers hand in `(path, text)` pairs or [`Input`]s that
//! open a reader, so the same code serves the CLI, tests and Lambda.

use std::io::{BufRead, Read};

use serde::Deserialize;
use serde::de::{DeserializeOwned, Error as _};
use serde_json::Value;
use thiserror::Error;

use crate::raw;

/// A file of the snapshot: its path relative to the snapshot root and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// A snapshot file the caller can open, possibly more than once: a file whose fast parse fails
/// is opened again to name the place of the error.
pub trait Input {
    /// The path relative to the snapshot root, `/`-separated.
    fn path(&self) -> &str;
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>>;
}

impl Input for SourceFile {
    fn path(&self) -> &str {
        &self.path
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.text.as_bytes()))
    }
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
    PrefixLists(raw::DescribeManagedPrefixLists),
    PrefixListEntries(raw::GetManagedPrefixListEntries),
    SecurityGroups(raw::DescribeSecurityGroups),
    NetworkAcls(raw::DescribeNetworkAcls),
    Cluster(raw::DescribeCluster),
    Addon(raw::DescribeAddon),
    AwsNode(raw::DaemonSet),
    Pods(raw::PodList),
    Nodes(raw::NodeList),
    EniConfigs(raw::EniConfigList),
    /// podreach's own note from a live collection (`podreach-collection.json`).
    Collection(raw::PodreachCollection),
}

impl SnapshotError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            SnapshotError::Syntax { file, .. }
            | SnapshotError::Io { file, .. }
            | SnapshotError::Unreadable { file, .. }
            | SnapshotError::Shape { file, .. } => file,
        }
    }
}

impl Document {
    /// The document as the AWS CLI (or kubectl) prints it: pretty JSON with a 4-space indent.
    pub fn to_json(&self) -> String {
        fn pretty<T: serde::Serialize>(value: &T) -> String {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            // The raw types are plain data (strings, numbers, string-keyed maps): serialising
            // them cannot fail, so an error is a bug worth seeing in the file, not a panic.
            match value.serialize(&mut serializer) {
                Ok(()) => String::from_utf8_lossy(&out).into_owned() + "\n",
                Err(e) => format!("{{\"podreachSerialisationError\": \"{e}\"}}\n"),
            }
        }
        match self {
            Document::Vpcs(d) => pretty(d),
            Document::Subnets(d) => pretty(d),
            Document::RouteTables(d) => pretty(d),
            Document::NetworkInterfaces(d) => pretty(d),
            Document::Instances(d) => pretty(d),
            Document::VpcPeeringConnections(d) => pretty(d),
            Document::TransitGatewayVpcAttachments(d) => pretty(d),
            Document::PrefixLists(d) => pretty(d),
            Document::PrefixListEntries(d) => pretty(d),
            Document::SecurityGroups(d) => pretty(d),
            Document::NetworkAcls(d) => pretty(d),
            Document::Cluster(d) => pretty(d),
            Document::Addon(d) => pretty(d),
            Document::AwsNode(d) => pretty(d),
            Document::Pods(d) => pretty(d),
            Document::Nodes(d) => pretty(d),
            Document::EniConfigs(d) => pretty(d),
            Document::Collection(d) => pretty(d),
        }
    }

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
            Document::PrefixLists(_) => "aws ec2 describe-managed-prefix-lists",
            Document::PrefixListEntries(_) => "aws ec2 get-managed-prefix-list-entries",
            Document::SecurityGroups(_) => "aws ec2 describe-security-groups",
            Document::NetworkAcls(_) => "aws ec2 describe-network-acls",
            Document::Cluster(_) => "aws eks describe-cluster",
            Document::Addon(_) => "aws eks describe-addon",
            Document::AwsNode(_) => "kubectl get daemonset aws-node -o json",
            Document::Pods(_) => "kubectl get pods -A -o json",
            Document::Nodes(_) => "kubectl get nodes -o json",
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
    #[error("{file}: cannot be read: {message}")]
    Io { file: String, message: String },
    /// Not a document at all, with the likely cause (an empty file, saved error text, the AWS
    /// CLI's text or table output).
    #[error("{file}: not read: {cause}")]
    Unreadable { file: String, cause: String },
    #[error("{file}: `{json_path}` in {command} output: {message}")]
    Shape {
        file: String,
        json_path: String,
        command: &'static str,
        message: String,
    },
}

/// The outcome of reading a set of files. Reading never stops at a bad file: every file is tried,
/// so one run names every problem, and what could be read is audited.
#[derive(Debug, Default)]
pub struct Loaded {
    pub documents: Vec<LoadedDocument>,
    /// Files that are not the output of a command podreach reads, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Files that should have been input but could not be read (each error names the file and
    /// the likely cause). What they held is missing from the audit.
    pub unreadable: Vec<SnapshotError>,
    /// Documents used although cut short (they carry `NextToken`), with the reason.
    pub incomplete: Vec<(String, String)>,
}

impl Loaded {
    /// The documents, or the first file that could not be read: for callers (tests, tools) that
    /// want a snapshot to be wholly readable.
    pub fn into_result(mut self) -> Result<Loaded, SnapshotError> {
        if self.unreadable.is_empty() {
            Ok(self)
        } else {
            Err(self.unreadable.swap_remove(0))
        }
    }

    /// What went wrong with the files, without the documents (they go to `Model::build`).
    pub fn problems(&mut self) -> InputProblems {
        InputProblems {
            skipped: std::mem::take(&mut self.skipped),
            unreadable: std::mem::take(&mut self.unreadable),
            incomplete: std::mem::take(&mut self.incomplete),
        }
    }
}

/// The files of a snapshot that were not used, or used although incomplete.
#[derive(Debug, Default)]
pub struct InputProblems {
    pub skipped: Vec<(String, String)>,
    pub unreadable: Vec<SnapshotError>,
    pub incomplete: Vec<(String, String)>,
}

/// Reads every file (see [`Loaded`]).
pub fn load(files: &[SourceFile]) -> Loaded {
    load_inputs(files.iter().map(|f| f as &dyn Input))
}

/// [`load`] for files the caller opens as streams (a large snapshot need not fit in memory).
pub fn load_inputs<'a>(inputs: impl IntoIterator<Item = &'a dyn Input>) -> Loaded {
    let mut loaded = Loaded::default();
    for input in inputs {
        match read(input) {
            Ok(Recognised::Document(document, incomplete)) => {
                if let Some(why) = incomplete {
                    loaded.incomplete.push((input.path().to_owned(), why));
                }
                loaded.documents.push(LoadedDocument {
                    path: input.path().to_owned(),
                    document: *document,
                })
            }
            Ok(Recognised::Skip(why)) => loaded.skipped.push((input.path().to_owned(), why)),
            Ok(Recognised::Empty) => {}
            Err(error) => loaded.unreadable.push(error),
        }
    }
    loaded
}

enum Recognised {
    /// A document, and why it is incomplete when it is.
    Document(Box<Document>, Option<String>),
    Skip(String),
    /// A kubectl list without items: it says there is nothing, which is not worth a word (an
    /// empty `kubectl get eniconfigs` is the normal state of most clusters).
    Empty,
}

/// Why a document that carries `NextToken` is incomplete.
const CUT_SHORT: &str = "the output carries `NextToken`: it was cut short (`--max-items` or \
                         `--no-paginate`), so objects are missing; rerun the command without them";

/// The gzip magic number.
const GZIP: [u8; 2] = [0x1f, 0x8b];

/// Opens `input` decoded: gunzipped when it is gzip, without a UTF-8 byte-order mark. UTF-16
/// (what PowerShell's `>` writes) is decoded whole into UTF-8; it is never large. The caller
/// buffers the stream: the JSON parser reads byte by byte, and those reads must not each go
/// through a trait object.
fn open_decoded(input: &dyn Input) -> Result<Box<dyn Read + '_>, SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io {
        file: input.path().to_owned(),
        message: e.to_string(),
    };
    let mut reader: Box<dyn std::io::BufRead> = Box::new(std::io::BufReader::with_capacity(
        1 << 16,
        input.open().map_err(io)?,
    ));
    if reader.fill_buf().map_err(io)?.starts_with(&GZIP) {
        reader = Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        ));
    }
    let head = reader.fill_buf().map_err(io)?;
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
    } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        let little = head[0] == 0xFF;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(io)?;
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|p| {
                if little {
                    u16::from_le_bytes([p[0], p[1]])
                } else {
                    u16::from_be_bytes([p[0], p[1]])
                }
            })
            .collect();
        let text = String::from_utf16(&units).map_err(|_| SnapshotError::Unreadable {
            file: input.path().to_owned(),
            cause: "it starts with a UTF-16 byte-order mark but is not valid UTF-16".to_owned(),
        })?;
        return Ok(Box::new(std::io::Cursor::new(text.into_bytes())));
    }
    Ok(reader)
}

/// One pass into the typed shape; on any failure, the slow pass that names the place.
fn read(input: &dyn Input) -> Result<Recognised, SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io {
        file: input.path().to_owned(),
        message: e.to_string(),
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, open_decoded(input)?);
    let first = reader
        .fill_buf()
        .map_err(io)?
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        if let Ok(fast) = serde_json::from_reader::<_, Fast>(reader)
            && let Some(recognised) = fast.recognise()
        {
            return Ok(recognised);
        }
    } else {
        drop(reader);
    }
    let mut bytes = Vec::new();
    open_decoded(input)?.read_to_end(&mut bytes).map_err(io)?;
    let file = input.path();
    let unreadable = |cause: String| SnapshotError::Unreadable {
        file: file.to_owned(),
        cause,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unreadable(if bytes.is_empty() {
            "the file is empty (0 bytes): the command that wrote it probably failed; \
             rerun it and keep its output only when it succeeds"
                .to_owned()
        } else {
            "the file holds only white space: the command that wrote it probably failed".to_owned()
        }));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Recognised::Skip(
            "binary content: not JSON or YAML text".to_owned(),
        ));
    };
    if matches!(first, Some(b'{' | b'[')) {
        return recognise(&SourceFile {
            path: file.to_owned(),
            text,
        });
    }
    if let Some(cause) = not_json_output(&text) {
        return Err(unreadable(cause));
    }
    let value: Value = match serde_yaml_ng::from_str(&text) {
        Ok(value) => value,
        Err(error) => {
            return Ok(Recognised::Skip(format!(
                "neither JSON nor YAML ({})",
                error.to_string().lines().next().unwrap_or_default()
            )));
        }
    };
    recognise_value(file, value)
}

/// The likely cause when `text` (which is not JSON) is what a failed command or the wrong
/// `--output` printed, rather than a document: error text saved with `2>&1`, or the AWS CLI's
/// text and table formats.
fn not_json_output(text: &str) -> Option<String> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let shown: String = first.chars().take(160).collect();
    const FAILED: &[&str] = &[
        "An error occurred (",
        "aws: error:",
        "usage: aws",
        "Unable to locate credentials",
        "Could not connect to the endpoint URL",
        "You must specify a region",
        "Parameter validation failed",
        "Error from server",
        "error: ",
        "Error: ",
        "The connection to the server",
        "Unable to connect to the server",
    ];
    if FAILED.iter().any(|p| first.starts_with(p)) || text.contains("\nAn error occurred (") {
        return Some(format!(
            "it holds an error message, not the command's output (`{shown}`): the command \
             failed; fix it and rerun"
        ));
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let table = first.starts_with("---") && lines.any(|l| l.trim_start().starts_with('|'));
    if table {
        return Some(
            "AWS CLI `--output table` output: podreach reads `--output json`; rerun the command \
             with --output json"
                .to_owned(),
        );
    }
    let word = first.split('\t').next().unwrap_or_default();
    if first.contains('\t') && !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase()) {
        return Some(
            "AWS CLI `--output text` output: podreach reads `--output json`; rerun the command \
             with --output json"
                .to_owned(),
        );
    }
    None
}

/// Every top-level key podreach reads, typed; anything else is skipped without being built.
#[derive(Deserialize)]
struct Fast {
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
    fn recognise(self) -> Option<Recognised> {
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
    recognise_value(&file.path, value)
}

/// Recognises a parsed document (JSON or YAML) by its top-level keys or `kind`.
fn recognise_value(path: &str, value: Value) -> Result<Recognised, SnapshotError> {
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
        .into_result()
        .expect("valid files");
        assert!(matches!(loaded.documents[0].document, Document::Subnets(_)));
        assert!(matches!(loaded.documents[1].document, Document::Vpcs(_)));
    }

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
        assert_eq!(loaded.skipped.len(), 2, "{:?}", loaded.skipped);
        assert!(loaded.skipped[0].1.contains("LoadBalancerDescriptions"));
    }

    #[test]
    fn unknown_fields_are_ignored_because_aws_adds_fields() {
        let text = r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "BrandNewField": {"x": 1}}]}"#;
        assert!(load(&[file("v.json", text)]).unreadable.is_empty());
    }
}
