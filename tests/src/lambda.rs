//! Support for the tests of the two Lambda functions (`tests/tests/functions_e2e.rs` calls the
//! handlers in-process, `tests/tests/runtime_api.rs` runs the real bootstrap binaries): the
//! sample events of `events/` rewritten for a moto account, an SNS topic with SQS subscribers
//! that show exactly what the functions published, and a collector whose EKS `DescribeAddon`
//! is mocked because moto has no EKS add-on API.
//!
//! The samples name the ids of an imaginary account (`events/README.md`); after
//! [`crate::seed::seed_demo`], [`event_for`] replaces every demo id with moto's
//! ([`SeededDemo::to_moto_ids`]) and sets the envelope's `account` and `region` to the moto
//! account's. Ids the demo does not have (the new node, the new ENI, the pod subnet's route
//! table, the `analytics` peering) stay as they are, so the handler meets objects that do not
//! exist, as it does when an event arrives after the object is gone.
//!
//! [`sample_event`] is that for a sample by name, and [`fresh_account_with_demo_and_vpc_ids`] the
//! account most function tests start from: a new moto account with the demo, whose clusters name
//! their VPC (see below).
//!
//! [`Subscribers`] are two SQS queues on one SNS topic, both with raw message delivery off, so a
//! queue's message body is the SNS envelope (`Type`, `MessageId`, `Subject`, `Message`,
//! `MessageAttributes` as `{"name": {"Type": "String", "Value": …}}`), the same shape moto
//! 5.2.5 and SNS deliver. The second queue has the filter policy
//! `{"severity": ["HIGH", "CRITICAL"]}` a pager would use. moto delivers to SQS while it
//! handles `Publish`, so [`drain`] needs no long polling; it still polls with a wait of one
//! second until it has what it expects, then once more without waiting, so that an extra
//! message is seen too. moto does not check queue policies, so the queues have none.
//! [`Subscribers::publisher`] is podreach's own SNS publisher to the topic, and
//! [`assert_nothing_received`] checks that a queue stays empty (a dry run).
//!
//! [`fresh_context`] gives the handlers an empty in-memory state, so every finding is NEW and
//! published: what the tests of scopes and messages need. The lifecycle itself is tested with
//! moto's DynamoDB in `tests/tests/lifecycle_e2e.rs`.
//!
//! [`sqs_batch`] is the SQS event Lambda hands `on-change` from the debounce queue the change
//! rules feed: the events go through a real (moto) queue, so the records carry moto's message
//! ids, receipt handles and attributes.
//!
//! [`give_clusters_their_vpc_ids`]: EKS always names a cluster's VPC
//! (`resourcesVpcConfig.vpcId`), but `CreateCluster` cannot (EKS derives it from the subnets),
//! and moto 5.2.5 answers `DescribeCluster` with exactly the `resourcesVpcConfig` it was sent,
//! so its clusters have no VPC id. The collector is meant to fall back on the subnets' VPC
//! (`functions_e2e.rs`'s `a_cluster_described_without_its_vpc_id_is_still_audited` checks that);
//! the other tests should not depend on that fallback, so the helper stores the VPC id in moto
//! with `UpdateClusterConfig`, whose JSON body it extends by `vpcId` before signing. moto then
//! answers as EKS does, for the in-process collector and the binaries alike.
//!
//! [`collector`]: EC2 and EKS go to moto, except `DescribeAddon`, which an `aws-smithy-mocks`
//! rule answers ([`mock_describe_addon`]: `RuleMode::MatchAny`, passthrough allowed for
//! everything else): the add-on given for a cluster, or EKS's `ResourceNotFoundException` for a
//! cluster without one, which the collector reads as a self-managed CNI. The collector's rule
//! answers with the modeled error ([`MissingAddon::ModeledError`]) rather than with EKS's HTTP
//! 404, because a rule's HTTP response only reaches the mock HTTP client of `aws-smithy-mocks`,
//! and here requests must reach moto; the request still goes to moto first (harmlessly), then the
//! interceptor replaces its result. The SDK's reading of the real 404 is covered by
//! `crates/aws/tests/mocked.rs`, and by `tests/tests/live_collection.rs`, whose collector sends
//! each EKS request to the mock HTTP client first and so can take [`MissingAddon::Http404`]. Every
//! collector of these tests retries with [`fast_retry_settings`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_eks::operation::describe_addon::{DescribeAddonError, DescribeAddonOutput};
use aws_sdk_eks::types::error::ResourceNotFoundException;
use aws_smithy_mocks::{MockResponse, MockResponseInterceptor, Rule, RuleMode, mock};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::ErrorMetadata;
use podreach_aws::publish::SnsPublisher;
use podreach_aws::{Collector, CollectorSettings};
use podreach_core::{demo, raw};
use serde_json::Value;

use crate::moto::Account;
use crate::seed::SeededDemo;

/// The filter policy of [`Subscribers::high`].
pub const HIGH_SEVERITY_POLICY: &str = r#"{"severity":["HIGH","CRITICAL"]}"#;

/// How long [`drain`] waits for the messages it expects.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// `<repo>/events`.
pub fn events_dir() -> PathBuf {
    crate::infra::repo_root().join("events")
}

/// The file names of every sample event directly in `events/` (not `invalid/`), sorted.
pub fn sample_names() -> Vec<String> {
    let dir = events_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| unreadable(&dir, &e))
        .map(|entry| entry.expect("a directory entry of events/").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 file name")
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

/// The text of `events/<name>` (`name` may be `invalid/…`).
pub fn sample_text(name: &str) -> String {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| unreadable(&path, &e))
}

#[allow(
    clippy::panic,
    reason = "test support: the samples are part of the repository"
)]
fn unreadable(path: &Path, error: &std::io::Error) -> ! {
    panic!("cannot read {}: {error}", path.display())
}

/// `text` (a sample event) for `account`: demo ids replaced by moto's, the envelope's `account`
/// and `region` set to the moto account's.
pub fn event_for(text: &str, seeded: &SeededDemo, account: &Account) -> Value {
    let mut event: Value = serde_json::from_str(&seeded.to_moto_ids(text))
        .expect("a sample event is JSON, also after the id rewrite");
    let object = event
        .as_object_mut()
        .expect("a sample event is a JSON object");
    object.insert("account".to_owned(), Value::String(account.id.clone()));
    object.insert("region".to_owned(), Value::String(region(account)));
    event
}

/// The sample `events/<name>` for `account`: [`event_for`] of its [`sample_text`].
pub fn sample_event(name: &str, seeded: &SeededDemo, account: &Account) -> Value {
    event_for(&sample_text(name), seeded, account)
}

/// The region of `account`.
pub fn region(account: &Account) -> String {
    account
        .config
        .region()
        .map(ToString::to_string)
        .expect("a moto account has a region")
}

/// Adds `resourcesVpcConfig.vpcId` to the JSON body of the one request it is attached to.
#[derive(Debug)]
struct AddVpcId(String);

impl Intercept for AddVpcId {
    fn name(&self) -> &'static str {
        "podreach-tests::AddVpcId"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let body = request
            .body()
            .bytes()
            .ok_or("UpdateClusterConfig has a buffered body")?;
        let mut json: Value = serde_json::from_slice(body)?;
        json["resourcesVpcConfig"]["vpcId"] = Value::String(self.0.clone());
        let bytes = serde_json::to_vec(&json)?;
        request
            .headers_mut()
            .insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        Ok(())
    }
}

/// Makes moto's `DescribeCluster` name each cluster's VPC, as EKS does (see the module
/// documentation): the VPC of the cluster's first subnet, stored with `UpdateClusterConfig`.
pub async fn give_clusters_their_vpc_ids(account: &Account) -> Result<(), String> {
    let eks = aws_sdk_eks::Client::new(&account.config);
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    let names = eks
        .list_clusters()
        .send()
        .await
        .map_err(|e| format!("ListClusters: {e}"))?
        .clusters()
        .to_vec();
    for name in names {
        let described = eks
            .describe_cluster()
            .name(&name)
            .send()
            .await
            .map_err(|e| format!("DescribeCluster {name}: {e}"))?;
        let config = described
            .cluster()
            .and_then(|c| c.resources_vpc_config())
            .ok_or_else(|| format!("{name}: no resourcesVpcConfig"))?;
        if config.vpc_id().is_some() {
            continue;
        }
        let subnet = config
            .subnet_ids()
            .first()
            .ok_or_else(|| format!("{name}: no subnets"))?;
        let vpc = ec2
            .describe_subnets()
            .subnet_ids(subnet)
            .send()
            .await
            .map_err(|e| format!("DescribeSubnets {subnet}: {e}"))?
            .subnets()
            .first()
            .and_then(|s| s.vpc_id())
            .ok_or_else(|| format!("{subnet}: no VPC"))?
            .to_owned();
        let request = aws_sdk_eks::types::VpcConfigRequest::builder()
            .set_subnet_ids(Some(config.subnet_ids().to_vec()))
            .set_security_group_ids(
                (!config.security_group_ids().is_empty())
                    .then(|| config.security_group_ids().to_vec()),
            )
            .endpoint_public_access(config.endpoint_public_access())
            .endpoint_private_access(config.endpoint_private_access())
            .build();
        eks.update_cluster_config()
            .name(&name)
            .resources_vpc_config(request)
            .customize()
            .interceptor(AddVpcId(vpc.clone()))
            .send()
            .await
            .map_err(|e| format!("UpdateClusterConfig {name}: {e}"))?;
        let now = eks
            .describe_cluster()
            .name(&name)
            .send()
            .await
            .map_err(|e| format!("DescribeCluster {name}: {e}"))?;
        let stored = now
            .cluster()
            .and_then(|c| c.resources_vpc_config())
            .and_then(|c| c.vpc_id());
        if stored != Some(vpc.as_str()) {
            return Err(format!(
                "{name}: moto did not keep vpcId {vpc} (DescribeCluster says {stored:?})"
            ));
        }
    }
    Ok(())
}

/// A fresh moto account with the demo ([`crate::seed::fresh_account_with_demo`]) whose clusters
/// name their VPC, as EKS's do ([`give_clusters_their_vpc_ids`]).
pub async fn fresh_account_with_demo_and_vpc_ids() -> (Account, SeededDemo) {
    let (account, seeded) = crate::seed::fresh_account_with_demo().await;
    give_clusters_their_vpc_ids(&account)
        .await
        .expect("moto's clusters name their VPC");
    (account, seeded)
}

/// The demo's kubectl dumps: not AWS resources, so a collector without the Kubernetes API
/// never sees them (a live audit gets them as extra files, the CLI's `--with DIR`).
pub const KUBECTL_DUMPS: [&str; 5] = [
    "shop/aws-node.json",
    "shop/pods.json",
    "shop/nodes.json",
    "legacy/pods.json",
    "legacy/nodes.json",
];

/// The demo's `vpc-cni` add-ons by cluster name (`legacy/addon.json`); `shop` has none.
pub fn demo_addons() -> BTreeMap<String, raw::Addon> {
    demo::FILES
        .iter()
        .filter(|(path, _)| path.ends_with("/addon.json"))
        .map(|(_, text)| {
            let addon = serde_json::from_str::<raw::DescribeAddon>(text)
                .expect("the demo's addon.json is `aws eks describe-addon` output")
                .addon;
            (addon.cluster_name.clone(), addon)
        })
        .collect()
}

/// The SDK shape of a demo add-on, as EKS would answer it.
pub fn sdk_addon(addon: &raw::Addon) -> aws_sdk_eks::types::Addon {
    aws_sdk_eks::types::Addon::builder()
        .addon_name(&addon.addon_name)
        .cluster_name(&addon.cluster_name)
        .set_addon_version(addon.addon_version.clone())
        .set_status(
            addon
                .status
                .as_deref()
                .map(aws_sdk_eks::types::AddonStatus::from),
        )
        .set_configuration_values(addon.configuration_values.clone())
        .build()
}

/// How [`mock_describe_addon`] answers for a cluster without the add-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingAddon {
    /// EKS's `ResourceNotFoundException` as the SDK models it: the answer for a client whose
    /// requests reach moto through its real HTTP client ([`collector`]).
    ModeledError,
    /// EKS's HTTP 404 with its restJson1 error body, which the SDK's own deserialiser turns into
    /// `ResourceNotFoundException`: a rule's HTTP response reaches only the mock HTTP client of
    /// `aws-smithy-mocks`, so the client must send its requests there first.
    Http404,
}

/// EKS's answer for a cluster without the add-on, as the SDK models it.
fn addon_not_found(cluster: &str, addon: &str) -> DescribeAddonError {
    let message = format!("No addon: {addon} found in cluster: {cluster}");
    DescribeAddonError::ResourceNotFoundException(
        ResourceNotFoundException::builder()
            .cluster_name(cluster)
            .addon_name(addon)
            .message(&message)
            .meta(
                ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message(&message)
                    .build(),
            )
            .build(),
    )
}

/// EKS's answer for a cluster without the add-on as it comes over the wire: HTTP 404 with a
/// restJson1 error body.
fn addon_not_found_response(cluster: &str, addon: &str) -> aws_smithy_runtime_api::http::Response {
    let body = serde_json::json!({
        "clusterName": cluster,
        "addonName": addon,
        "message": format!("No addon: {addon} found in cluster: {cluster}"),
    });
    let mut response = aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(404).expect("404 is a status"),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", "ResourceNotFoundException");
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}

/// The rule answering `DescribeAddon` from `addons` (by cluster and add-on name), and as
/// `missing` says for any other cluster or add-on.
fn describe_addon_rule(addons: BTreeMap<String, raw::Addon>, missing: MissingAddon) -> Rule {
    mock!(aws_sdk_eks::Client::describe_addon).then_compute_response(move |req| {
        let cluster = req.cluster_name().unwrap_or_default();
        let name = req.addon_name().unwrap_or_default();
        match addons.get(cluster).filter(|a| a.addon_name == name) {
            Some(addon) => MockResponse::Output(
                DescribeAddonOutput::builder()
                    .addon(sdk_addon(addon))
                    .build(),
            ),
            None => match missing {
                MissingAddon::ModeledError => MockResponse::Error(addon_not_found(cluster, name)),
                MissingAddon::Http404 => {
                    MockResponse::Http(addon_not_found_response(cluster, name))
                }
            },
        }
    })
}

/// The interceptor for an EKS client that mocks `DescribeAddon` alone: the add-ons of `addons`
/// (by cluster and add-on name), `missing` for any other; every other request passes through.
/// moto has no EKS add-on API (`/clusters/<name>/addons` is not a moto route), so without it
/// every cluster would look add-on-less for a reason that has nothing to do with the cluster.
pub fn mock_describe_addon(
    addons: BTreeMap<String, raw::Addon>,
    missing: MissingAddon,
) -> MockResponseInterceptor {
    MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(&describe_addon_rule(addons, missing))
        .allow_passthrough()
}

/// The collector's default settings, but retries back off from 50 ms: the tests' collectors
/// talk to local servers.
pub fn fast_retry_settings() -> CollectorSettings {
    CollectorSettings {
        initial_backoff: Duration::from_millis(50),
        ..CollectorSettings::default()
    }
}

/// A collector of `account`: everything on moto except EKS `DescribeAddon`, answered from
/// `addons` (see the module documentation).
pub fn collector(account: &Account, addons: BTreeMap<String, raw::Addon>) -> Collector {
    Collector::from_builders(
        aws_sdk_ec2::config::Builder::from(&account.config),
        aws_sdk_eks::config::Builder::from(&account.config)
            .interceptor(mock_describe_addon(addons, MissingAddon::ModeledError)),
        &fast_retry_settings(),
    )
}

/// An SNS topic and two SQS queues subscribed to it.
#[derive(Debug, Clone)]
pub struct Subscribers {
    pub topic_arn: String,
    /// Receives every message (raw message delivery off).
    pub all: String,
    /// Receives only what passes [`HIGH_SEVERITY_POLICY`].
    pub high: String,
    pub sqs: aws_sdk_sqs::Client,
    /// The SNS client of the topic's account.
    pub sns: aws_sdk_sns::Client,
}

impl Subscribers {
    /// podreach's SNS publisher to this topic.
    pub fn publisher(&self) -> SnsPublisher {
        SnsPublisher::new(self.sns.clone(), &self.topic_arn)
    }
}

/// Creates the SQS queue `name` in the account of `sqs`; returns its URL and ARN.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;

    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("SQS CreateQueue on moto")
        .queue_url()
        .expect("CreateQueue returns the queue URL")
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("SQS GetQueueAttributes on moto")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("GetQueueAttributes returns the queue ARN")
        .clone();
    (url, arn)
}

/// Creates the topic `podreach-findings` and its two subscribed queues in `account`.
pub async fn subscribers(account: &Account) -> Subscribers {
    let sns = aws_sdk_sns::Client::new(&account.config);
    let sqs = aws_sdk_sqs::Client::new(&account.config);
    let topic_arn = sns
        .create_topic()
        .name("podreach-findings")
        .send()
        .await
        .expect("SNS CreateTopic on moto")
        .topic_arn()
        .expect("CreateTopic returns the topic ARN")
        .to_owned();
    let mut urls = Vec::new();
    for (name, policy) in [("all", None), ("high", Some(HIGH_SEVERITY_POLICY))] {
        let (url, arn) = create_queue(&sqs, &format!("podreach-{name}")).await;
        let mut subscribe = sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "false");
        if let Some(policy) = policy {
            subscribe = subscribe.attributes("FilterPolicy", policy);
        }
        subscribe.send().await.expect("SNS Subscribe on moto");
        urls.push(url);
    }
    let [all, high]: [String; 2] = urls.try_into().expect("two queues");
    Subscribers {
        topic_arn,
        all,
        high,
        sqs,
        sns,
    }
}

/// The SQS event Lambda's event source mapping hands `on-change` for `bodies` (EventBridge
/// events as the change rules deliver them to the debounce queue): each body is sent to the new
/// queue `queue` of `account` and received back, so `messageId`, `receiptHandle`, `md5OfBody`
/// and the system attributes are moto's. Returns the event and the message ids, in `bodies`'
/// order.
pub async fn sqs_batch(account: &Account, queue: &str, bodies: &[String]) -> (Value, Vec<String>) {
    use aws_sdk_sqs::types::MessageSystemAttributeName;

    let sqs = aws_sdk_sqs::Client::new(&account.config);
    let (url, arn) = create_queue(&sqs, queue).await;
    let mut sent = Vec::new();
    for body in bodies {
        let id = sqs
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .expect("SQS SendMessage on moto")
            .message_id()
            .expect("SendMessage returns the message id")
            .to_owned();
        sent.push(id);
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut records = BTreeMap::new();
    while records.len() < bodies.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} messages back from {url}",
            records.len(),
            bodies.len()
        );
        let answer = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("SQS ReceiveMessage on moto");
        for message in answer.messages() {
            let id = message.message_id().expect("a message id").to_owned();
            let attributes: serde_json::Map<String, Value> = message
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            let record = serde_json::json!({
                "messageId": id,
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region(account),
            });
            records.insert(id, record);
        }
    }
    let ordered: Vec<Value> = sent
        .iter()
        .map(|id| records.remove(id).expect("every sent message was received"))
        .collect();
    (serde_json::json!({ "Records": ordered }), sent)
}

/// One SNS notification as an SQS subscriber with raw message delivery off receives it.
#[derive(Debug, Clone)]
pub struct Notification {
    pub message_id: String,
    pub subject: Option<String>,
    /// The published message body.
    pub message: String,
    /// String attributes by name.
    pub attributes: BTreeMap<String, String>,
    /// The whole envelope.
    pub envelope: Value,
}

impl Notification {
    fn from_body(body: &str) -> Notification {
        let envelope: Value = serde_json::from_str(body)
            .expect("an SQS body of an SNS subscription without raw delivery is the JSON envelope");
        assert_eq!(
            envelope["Type"], "Notification",
            "an SNS notification envelope: {envelope}"
        );
        let attributes = envelope["MessageAttributes"]
            .as_object()
            .map(|attributes| {
                attributes
                    .iter()
                    .map(|(name, value)| {
                        assert_eq!(value["Type"], "String", "attribute {name}: {value}");
                        let text = value["Value"]
                            .as_str()
                            .expect("a String attribute has a string Value");
                        (name.clone(), text.to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Notification {
            message_id: envelope["MessageId"]
                .as_str()
                .expect("the envelope has a MessageId")
                .to_owned(),
            subject: envelope["Subject"].as_str().map(str::to_owned),
            message: envelope["Message"]
                .as_str()
                .expect("the envelope has the Message")
                .to_owned(),
            attributes,
            envelope,
        }
    }

    /// The message body as JSON.
    pub fn body(&self) -> Value {
        serde_json::from_str(&self.message).expect("podreach publishes JSON bodies")
    }

    /// The string attribute `name`.
    pub fn attribute(&self, name: &str) -> &str {
        self.attributes
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| missing_attribute(name, &self.envelope))
    }
}

#[allow(
    clippy::panic,
    reason = "test support: a missing attribute fails the test"
)]
fn missing_attribute(name: &str, envelope: &Value) -> ! {
    panic!("message attribute `{name}` is missing: {envelope:#}")
}

/// Receives and deletes every message of `queue_url`: polls (waiting up to a second) until
/// `expected` messages arrived, then once more without waiting, and returns all it received.
pub async fn drain(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
) -> Vec<Notification> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut received = Vec::new();
    loop {
        let enough = received.len() >= expected;
        let answer = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(if enough { 0 } else { 1 })
            .message_attribute_names("All")
            .send()
            .await
            .expect("SQS ReceiveMessage on moto");
        let messages = answer.messages();
        if messages.is_empty() && enough {
            return received;
        }
        for message in messages {
            received.push(Notification::from_body(
                message.body().expect("an SQS message has a body"),
            ));
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("SQS DeleteMessage on moto");
            }
        }
        assert!(
            Instant::now() < deadline,
            "{queue_url}: {} of {expected} expected message(s) within {} s",
            received.len(),
            DRAIN_TIMEOUT.as_secs()
        );
    }
}

/// Asserts that `queue_url` receives no message within a second (one long poll); `why` says
/// why none may come (`a dry run publishes nothing`).
pub async fn assert_nothing_received(sqs: &aws_sdk_sqs::Client, queue_url: &str, why: &str) {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("SQS ReceiveMessage on moto");
    assert!(
        received.messages().is_empty(),
        "{why}: {:?}",
        received.messages()
    );
}

static NO_SUPPRESSIONS: podreach_aws::suppressions::SuppressionSource =
    podreach_aws::suppressions::SuppressionSource::None;

/// The handlers' context with a fresh, empty state (every finding is NEW) and no suppressions.
pub fn fresh_context<'a, C, P>(
    config: &'a podreach_aws::function::FunctionConfig,
    region: &'a str,
    collector: &'a C,
    publisher: &'a P,
) -> podreach_aws::function::Context<'a, C, P, podreach_aws::state::MemoryStore> {
    podreach_aws::function::Context {
        config,
        region,
        collector,
        others: &[],
        publisher,
        // Leaked: a few bytes per test call, and the context may borrow it for any lifetime.
        store: Box::leak(Box::new(podreach_aws::state::MemoryStore::default())),
        suppressions: &NO_SUPPRESSIONS,
        now: None,
        deadline: None,
    }
}
