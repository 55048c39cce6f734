//! The finding-lifecycle sequence both the functions (against moto) and the CLI (`--state`) must
//! follow, step by step, with the messages each step must publish.
//!
//! The demo's `shop` cluster (CNI v1.11.4 with `AWS_VPC_CNI_NODE_PORT_SUPPORT=false`) has one
//! HIGH finding. The steps break, grow, suppress, expire, half-audit, fix and break it again;
//! [`STEPS`] says what each step publishes (its NEW, CHANGED, ONGOING or RESOLVED messages, in
//! that order) so one table drives both runners. The functions' runner adds what only they can
//! do (a deleted cluster, the scheduled reminder and digest, racing invocations).

use podreach_core::SourceFile;
use serde_json::{Value, json};

/// How the `shop` cluster looks in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shop {
    /// The demo as it is: one HIGH finding toward the peered 10.1.0.0/16.
    Broken,
    /// The same cause with one more destination (a peered 10.1.0.0/25): a material change.
    BrokenMore,
    /// `AWS_VPC_CNI_NODE_PORT_SUPPORT` removed: the finding is gone.
    Fixed,
}

/// The suppression document in force during a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    None,
    /// The finding suppressed with a reason, until [`SUPPRESSION_END`].
    Active,
    /// The same entry, expired: for the CLI (which reads the clock) its expiry is in the past;
    /// the functions' runner instead moves its clock past [`SUPPRESSION_END`].
    Expired,
    /// A document with an entry that has no reason: refused as a whole, nothing suppressed.
    Malformed,
}

/// The last day of the suppression.
pub const SUPPRESSION_END: &str = "2030-01-01";
/// A time after it (Unix seconds, 2030-03-17).
pub const AFTER_SUPPRESSION: i64 = 1_900_000_000;

/// One step of the sequence.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub what: &'static str,
    pub shop: Shop,
    /// The collection could not read everything of `shop` (a throttled call): not analysed.
    pub partial: bool,
    pub suppression: Suppression,
    /// The published lifecycle markers, in order.
    pub publishes: &'static [&'static str],
    /// How many times the step runs (a repeat).
    pub times: usize,
}

/// The sequence.
pub const STEPS: &[Step] = &[
    Step {
        what: "the finding appears",
        shop: Shop::Broken,
        partial: false,
        suppression: Suppression::None,
        publishes: &["NEW"],
        times: 1,
    },
    Step {
        what: "it repeats 50 times",
        shop: Shop::Broken,
        partial: false,
        suppression: Suppression::None,
        publishes: &[],
        times: 50,
    },
    Step {
        what: "it grows (a destination added)",
        shop: Shop::BrokenMore,
        partial: false,
        suppression: Suppression::None,
        publishes: &["CHANGED"],
        times: 1,
    },
    Step {
        what: "it is suppressed",
        shop: Shop::BrokenMore,
        partial: false,
        suppression: Suppression::Active,
        publishes: &[],
        times: 2,
    },
    Step {
        what: "the suppression expires",
        shop: Shop::BrokenMore,
        partial: false,
        suppression: Suppression::Expired,
        publishes: &["NEW"],
        times: 1,
    },
    Step {
        what: "a malformed suppression document suppresses nothing",
        shop: Shop::BrokenMore,
        partial: false,
        suppression: Suppression::Malformed,
        publishes: &[],
        times: 1,
    },
    Step {
        what: "a partial audit of the fixed cluster resolves nothing",
        shop: Shop::Fixed,
        partial: true,
        suppression: Suppression::None,
        publishes: &[],
        times: 1,
    },
    Step {
        what: "it is fixed",
        shop: Shop::Fixed,
        partial: false,
        suppression: Suppression::None,
        publishes: &["RESOLVED"],
        times: 1,
    },
    Step {
        what: "it comes back",
        shop: Shop::Broken,
        partial: false,
        suppression: Suppression::None,
        publishes: &["NEW"],
        times: 1,
    },
];

/// The suppression document of a step, for the finding `finding_id`.
pub fn suppression_document(suppression: Suppression, finding_id: &str) -> String {
    let entry = |expires: &str| json!({"finding_id": finding_id, "reason": "the peer is decommissioned in January", "expires": expires});
    let suppressions = match suppression {
        Suppression::None => json!([]),
        Suppression::Active => json!([entry(SUPPRESSION_END)]),
        Suppression::Expired => json!([entry("2026-01-01")]),
        Suppression::Malformed => json!([{"finding_id": finding_id}]),
    };
    json!({ "suppressions": suppressions }).to_string()
}

/// The snapshot of a step: the demo's EC2 documents and `shop` (no `legacy`), plus, when
/// `partial`, the collection note that says `shop`'s inputs are incomplete.
pub fn files(shop: Shop, partial: bool) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = podreach_core::demo::FILES
        .iter()
        .filter(|(path, _)| !path.starts_with("legacy/"))
        .map(|(path, text)| {
            let mut value: Value = serde_json::from_str(text).expect("demo files are JSON");
            match (*path, shop) {
                ("ec2/route-tables.json", Shop::BrokenMore) => add_peered_route(&mut value),
                ("shop/aws-node.json", Shop::Fixed) => remove_node_port_setting(&mut value),
                _ => {}
            }
            SourceFile {
                path: (*path).to_owned(),
                text: serde_json::to_string_pretty(&value).expect("JSON"),
            }
        })
        .collect();
    if partial {
        let note = podreach_core::raw::PodreachCollection {
            podreach_collection: podreach_core::raw::CollectionNotes {
                schema: podreach_core::raw::COLLECTION_SCHEMA.to_owned(),
                incomplete_clusters: vec![podreach_core::raw::IncompleteCluster {
                    name: "shop".to_owned(),
                    reason: "ec2:DescribeRouteTables was still throttled after the SDK's retries"
                        .to_owned(),
                }],
                ..Default::default()
            },
        };
        files.push(SourceFile {
            path: "podreach-collection.json".to_owned(),
            text: serde_json::to_string_pretty(&note).expect("JSON"),
        });
    }
    files
}

fn add_peered_route(tables: &mut Value) {
    for table in tables["RouteTables"].as_array_mut().into_iter().flatten() {
        if table["RouteTableId"] == "rtb-0a1e2d3c4b5a69701"
            && let Some(routes) = table["Routes"].as_array_mut()
        {
            routes.push(json!({"DestinationCidrBlock": "10.1.0.0/25", "Origin": "CreateRoute", "State": "active", "VpcPeeringConnectionId": "pcx-0ab15c2d3e4f50801"}));
        }
    }
}

fn remove_node_port_setting(daemonset: &mut Value) {
    if let Some(env) = daemonset["spec"]["template"]["spec"]["containers"][0]["env"].as_array_mut()
    {
        env.retain(|e| e["name"] != "AWS_VPC_CNI_NODE_PORT_SUPPORT");
    }
}

/// Creates the table with the key schema and attribute definitions of `StateTable` in
/// `infra/template.yaml`, so the test meets the table the stack deploys.
pub async fn create_table_as_the_template_does(dynamo: &aws_sdk_dynamodb::Client, table: &str) {
    let template = crate::infra::load_template();
    let properties = &template["Resources"]["StateTable"]["Properties"];
    let mut request = dynamo
        .create_table()
        .table_name(table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest);
    for definition in properties["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        request = request.attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name(definition["AttributeName"].as_str().unwrap_or_default())
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::from(
                    definition["AttributeType"].as_str().unwrap_or_default(),
                ))
                .build()
                .expect("an attribute definition"),
        );
    }
    for key in properties["KeySchema"].as_array().into_iter().flatten() {
        request = request.key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name(key["AttributeName"].as_str().unwrap_or_default())
                .key_type(aws_sdk_dynamodb::types::KeyType::from(
                    key["KeyType"].as_str().unwrap_or_default(),
                ))
                .build()
                .expect("a key schema element"),
        );
    }
    request.send().await.expect("moto creates the table");
}
