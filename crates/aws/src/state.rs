//! Where the findings' lifecycle is kept between audits: DynamoDB for the functions, memory for
//! trials and tests, a JSON file for the CLI (built on [`MemoryStore`]).
//!
//! Every store is the [`StateStore`] capability: load the records of some clusters, read one
//! record, and write one record *only if it is still the version that was read*. That last
//! operation is what makes two racing invocations publish a change once: both read version 3,
//! both decide the finding is NEW, the first write makes it version 4 and publishes, the second
//! write is refused, and its invocation re-reads the record and sees a repeat
//! ([`crate::lifecycle`]). In DynamoDB the version is a condition expression on `PutItem`;
//! every read is strongly consistent. Nothing is ever deleted: resolved records expire through
//! the table's TTL.
//!
//! The table's items, one per finding of an account and region (EKS cluster names have no `#`):
//!
//! | attribute | value |
//! | --- | --- |
//! | `pk` (partition key) | `{account}#{region}` |
//! | `sk` (sort key) | `finding#{cluster}#{finding id}`; `digest` (the last digest's time); `context#{cluster}` (the cluster's cached context, [`crate::context`]); `owners#{cluster}` (the ids its nodes own, [`crate::owners`]) |
//! | `version` | incremented by every write |
//! | `expires_at` | resolved records only: `resolved_at` + [`RESOLVED_RETENTION`] (the table's TTL) |
//! | the rest | the fields of [`FindingState`] |
//!
//! One partition per account and region keeps every operation a `Query` or a single-item call
//! (no `Scan`): the state is tens to hundreds of findings, not a hot key.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use podreach_core::lifecycle::{FindingState, Status};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::context::CachedContext;
use crate::error::ApiFailure;
use crate::owners::Owners;

/// How long a resolved finding's record is kept (90 days): a finding that comes back within that
/// time is announced as back, and the table does not grow forever.
pub const RESOLVED_RETENTION: i64 = 90 * 24 * 3600;

/// One account and region: the state of each is kept apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Partition {
    pub account: String,
    pub region: String,
}

impl Partition {
    /// The table's partition key.
    pub fn key(&self) -> String {
        format!("{}#{}", self.account, self.region)
    }
}

/// A finding's record and the version the store holds it at (0: not stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub state: FindingState,
    pub version: u64,
}

/// Which records to load.
#[derive(Debug, Clone, Copy)]
pub enum Clusters<'a> {
    /// Every cluster of the account and region (the scheduled audit reconciles them all).
    All,
    /// These clusters.
    Named(&'a [String]),
}

/// What a conditional write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The record was no longer at the expected version: another invocation wrote it.
    Conflict,
}

/// Why the state could not be read or written.
#[derive(Debug, Error)]
pub enum StateError {
    #[error(transparent)]
    Api(#[from] ApiFailure),
    #[error("state record {key}: {message}")]
    Record { key: String, message: String },
    #[error("state file {path}: {message}")]
    File { path: String, message: String },
    #[error(
        "state record {key}: still changing after {attempts} attempts (other invocations keep writing it)"
    )]
    Contention { key: String, attempts: usize },
}

/// The capability to keep the lifecycle state.
pub trait StateStore {
    /// The records of `clusters`, read consistently.
    fn load(
        &self,
        at: &Partition,
        clusters: Clusters<'_>,
    ) -> impl Future<Output = Result<Vec<Record>, StateError>> + Send;

    /// One record, read consistently.
    fn get(
        &self,
        at: &Partition,
        cluster: &str,
        finding_id: &str,
    ) -> impl Future<Output = Result<Option<Record>, StateError>> + Send;

    /// Writes `state` as version `expected + 1` if the stored version is still `expected`
    /// (0: there must be no record).
    fn put(
        &self,
        at: &Partition,
        state: &FindingState,
        expected: u64,
    ) -> impl Future<Output = Result<Written, StateError>> + Send;

    /// When the last digest went out (Unix seconds).
    fn last_digest(
        &self,
        at: &Partition,
    ) -> impl Future<Output = Result<Option<i64>, StateError>> + Send;

    /// Records that a digest went out at `at`.
    fn set_last_digest(
        &self,
        at: &Partition,
        time: i64,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// The cluster's cached context ([`crate::context`]); a store without one has none.
    fn context(
        &self,
        _at: &Partition,
        _cluster: &str,
    ) -> impl Future<Output = Result<Option<CachedContext>, StateError>> + Send {
        async { Ok(None) }
    }

    /// Replaces the cluster's cached context.
    fn put_context(
        &self,
        _at: &Partition,
        _context: &CachedContext,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        async { Ok(()) }
    }

    /// Every cluster's owned ids ([`Owners`]) of the account and region; a store without an
    /// index has none.
    fn owners(
        &self,
        _at: &Partition,
    ) -> impl Future<Output = Result<Vec<Owners>, StateError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Replaces a cluster's owned ids.
    fn put_owners(
        &self,
        _at: &Partition,
        _owners: &Owners,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        async { Ok(()) }
    }
}

/// The state in memory: the CLI's file store and the tests' double, and the functions' store
/// when no table is configured (then it lives as long as the warm process, see the README).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<BTreeMap<Partition, Memory>>,
}

#[derive(Debug, Default, Clone)]
struct Memory {
    records: BTreeMap<(String, String), Record>,
    last_digest: Option<i64>,
    contexts: BTreeMap<String, CachedContext>,
    owners: BTreeMap<String, Owners>,
}

impl MemoryStore {
    /// A store holding `findings` of `at`, each at version 1.
    pub fn with(at: &Partition, findings: Vec<FindingState>, last_digest: Option<i64>) -> Self {
        let records = findings
            .into_iter()
            .map(|state| {
                (
                    (state.cluster.clone(), state.finding_id.clone()),
                    Record { state, version: 1 },
                )
            })
            .collect();
        MemoryStore {
            inner: Mutex::new(BTreeMap::from([(
                at.clone(),
                Memory {
                    records,
                    last_digest,
                    contexts: BTreeMap::new(),
                    owners: BTreeMap::new(),
                },
            )])),
        }
    }

    /// Every record's state of `at`, in (cluster, finding id) order, and the last digest's time.
    pub fn snapshot(&self, at: &Partition) -> (Vec<FindingState>, Option<i64>) {
        self.with_memory(at, |memory| {
            (
                memory.records.values().map(|r| r.state.clone()).collect(),
                memory.last_digest,
            )
        })
    }

    fn with_memory<T>(&self, at: &Partition, f: impl FnOnce(&mut Memory) -> T) -> T {
        // A panic while holding the lock cannot leave a record half written (every change is
        // one insert or removal), so a poisoned lock still guards a consistent state.
        let mut all = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(all.entry(at.clone()).or_default())
    }
}

impl StateStore for MemoryStore {
    async fn load(
        &self,
        at: &Partition,
        clusters: Clusters<'_>,
    ) -> Result<Vec<Record>, StateError> {
        Ok(self.with_memory(at, |memory| {
            memory
                .records
                .values()
                .filter(|r| match clusters {
                    Clusters::All => true,
                    Clusters::Named(names) => names.contains(&r.state.cluster),
                })
                .cloned()
                .collect()
        }))
    }

    async fn get(
        &self,
        at: &Partition,
        cluster: &str,
        finding_id: &str,
    ) -> Result<Option<Record>, StateError> {
        let key = (cluster.to_owned(), finding_id.to_owned());
        Ok(self.with_memory(at, |memory| memory.records.get(&key).cloned()))
    }

    async fn put(
        &self,
        at: &Partition,
        state: &FindingState,
        expected: u64,
    ) -> Result<Written, StateError> {
        let key = (state.cluster.clone(), state.finding_id.clone());
        Ok(self.with_memory(at, |memory| {
            if memory.records.get(&key).map_or(0, |r| r.version) != expected {
                return Written::Conflict;
            }
            memory.records.insert(
                key,
                Record {
                    state: state.clone(),
                    version: expected + 1,
                },
            );
            Written::Yes
        }))
    }

    async fn owners(&self, at: &Partition) -> Result<Vec<Owners>, StateError> {
        Ok(self.with_memory(at, |memory| memory.owners.values().cloned().collect()))
    }

    async fn put_owners(&self, at: &Partition, owners: &Owners) -> Result<(), StateError> {
        self.with_memory(at, |memory| {
            memory.owners.insert(owners.cluster.clone(), owners.clone())
        });
        Ok(())
    }

    async fn last_digest(&self, at: &Partition) -> Result<Option<i64>, StateError> {
        Ok(self.with_memory(at, |memory| memory.last_digest))
    }

    async fn set_last_digest(&self, at: &Partition, time: i64) -> Result<(), StateError> {
        self.with_memory(at, |memory| memory.last_digest = Some(time));
        Ok(())
    }

    async fn context(
        &self,
        at: &Partition,
        cluster: &str,
    ) -> Result<Option<CachedContext>, StateError> {
        Ok(self.with_memory(at, |memory| memory.contexts.get(cluster).cloned()))
    }

    async fn put_context(&self, at: &Partition, context: &CachedContext) -> Result<(), StateError> {
        self.with_memory(at, |memory| {
            memory
                .contexts
                .insert(context.cluster.clone(), context.clone())
        });
        Ok(())
    }
}

/// The state in one DynamoDB table (`STATE_TABLE`).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// One item of the table, as serde_dynamo maps it.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    pk: String,
    sk: String,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(flatten)]
    state: FindingState,
}

#[derive(Debug, Serialize, Deserialize)]
struct DigestItem {
    pk: String,
    sk: String,
    at: i64,
}

const DIGEST_KEY: &str = "digest";

fn finding_key(cluster: &str, finding_id: &str) -> String {
    format!("finding#{cluster}#{finding_id}")
}

type Attributes = std::collections::HashMap<String, AttributeValue>;

impl DynamoStore {
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        Self::from_client(aws_sdk_dynamodb::Client::new(config), table)
    }

    pub fn from_client(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        DynamoStore {
            client,
            table: table.to_owned(),
        }
    }

    pub(crate) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    fn key(at: &Partition, sk: String) -> Attributes {
        Attributes::from([
            ("pk".to_owned(), AttributeValue::S(at.key())),
            ("sk".to_owned(), AttributeValue::S(sk)),
        ])
    }

    fn record(&self, at: &Partition, item: Attributes) -> Result<Record, StateError> {
        let key = match item.get("sk") {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => "(no sort key)".to_owned(),
        };
        let item: Item = serde_dynamo::from_item(item).map_err(|e| StateError::Record {
            key: format!("{} {} {key}", self.table, at.key()),
            message: e.to_string(),
        })?;
        Ok(Record {
            state: item.state,
            version: item.version,
        })
    }

    /// Every finding record under the partition whose sort key starts with `prefix`.
    async fn query(&self, at: &Partition, prefix: &str) -> Result<Vec<Record>, StateError> {
        self.items(at, prefix)
            .await?
            .into_iter()
            .map(|item| self.record(at, item))
            .collect()
    }

    /// Every item under the partition whose sort key starts with `prefix`, all pages.
    async fn items(&self, at: &Partition, prefix: &str) -> Result<Vec<Attributes>, StateError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let answer = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(at.key()))
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_QUERY, e))?;
            items.extend(answer.items().iter().cloned());
            match answer.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    async fn get_item(&self, at: &Partition, sk: String) -> Result<Option<Attributes>, StateError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .set_key(Some(Self::key(at, sk)))
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_GET, e))?;
        Ok(answer.item)
    }
}

fn to_item<T: Serialize>(value: &T, key: &str) -> Result<Attributes, StateError> {
    serde_dynamo::to_item(value).map_err(|e| StateError::Record {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

impl StateStore for DynamoStore {
    async fn load(
        &self,
        at: &Partition,
        clusters: Clusters<'_>,
    ) -> Result<Vec<Record>, StateError> {
        match clusters {
            Clusters::All => self.query(at, "finding#").await,
            Clusters::Named(names) => {
                let mut records = Vec::new();
                for name in names {
                    records.extend(self.query(at, &format!("finding#{name}#")).await?);
                }
                Ok(records)
            }
        }
    }

    async fn get(
        &self,
        at: &Partition,
        cluster: &str,
        finding_id: &str,
    ) -> Result<Option<Record>, StateError> {
        self.get_item(at, finding_key(cluster, finding_id))
            .await?
            .map(|item| self.record(at, item))
            .transpose()
    }

    async fn put(
        &self,
        at: &Partition,
        state: &FindingState,
        expected: u64,
    ) -> Result<Written, StateError> {
        let sk = finding_key(&state.cluster, &state.finding_id);
        let item = to_item(
            &Item {
                pk: at.key(),
                sk: sk.clone(),
                version: expected + 1,
                expires_at: (state.status == Status::Resolved)
                    .then(|| state.resolved_at.map(|at| at + RESOLVED_RETENTION))
                    .flatten(),
                state: state.clone(),
            },
            &sk,
        )?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if expected == 0 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
        };
        conditional(request.send().await, crate::iam::STATE_PUT)
    }

    async fn owners(&self, at: &Partition) -> Result<Vec<Owners>, StateError> {
        let mut owners = Vec::new();
        for item in self.items(at, OWNERS_PREFIX).await? {
            let key = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => continue,
            };
            let bad = |message: &str| StateError::Record {
                key: key.clone(),
                message: message.to_owned(),
            };
            let cluster = key.strip_prefix(OWNERS_PREFIX).unwrap_or_default();
            let collected_at = match item.get("collected_at") {
                Some(AttributeValue::N(n)) => n
                    .parse()
                    .map_err(|_| bad("`collected_at` is not a number"))?,
                _ => return Err(bad("no `collected_at`")),
            };
            let read = match item.get("fingerprints") {
                Some(AttributeValue::B(blob)) => {
                    Owners::from_bytes(cluster, collected_at, blob.as_ref())
                }
                _ => None,
            };
            owners.push(read.ok_or_else(|| bad("no `fingerprints` (binary, 4 bytes each)"))?);
        }
        Ok(owners)
    }

    async fn put_owners(&self, at: &Partition, owners: &Owners) -> Result<(), StateError> {
        let mut item = Self::key(at, format!("{OWNERS_PREFIX}{}", owners.cluster));
        item.insert(
            "fingerprints".to_owned(),
            AttributeValue::B(aws_smithy_types::Blob::new(owners.to_bytes())),
        );
        item.insert(
            "collected_at".to_owned(),
            AttributeValue::N(owners.collected_at.to_string()),
        );
        item.insert(
            "expires_at".to_owned(),
            AttributeValue::N((owners.collected_at + CONTEXT_RETENTION).to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_PUT, e).into())
    }

    async fn last_digest(&self, at: &Partition) -> Result<Option<i64>, StateError> {
        let Some(item) = self.get_item(at, DIGEST_KEY.to_owned()).await? else {
            return Ok(None);
        };
        let item: DigestItem = serde_dynamo::from_item(item).map_err(|e| StateError::Record {
            key: DIGEST_KEY.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Some(item.at))
    }

    async fn set_last_digest(&self, at: &Partition, time: i64) -> Result<(), StateError> {
        let item = to_item(
            &DigestItem {
                pk: at.key(),
                sk: DIGEST_KEY.to_owned(),
                at: time,
            },
            DIGEST_KEY,
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_PUT, e).into())
    }

    async fn context(
        &self,
        at: &Partition,
        cluster: &str,
    ) -> Result<Option<CachedContext>, StateError> {
        let Some(item) = self.get_item(at, context_key(cluster)).await? else {
            return Ok(None);
        };
        let bad = |message: &str| StateError::Record {
            key: context_key(cluster),
            message: message.to_owned(),
        };
        let documents = match item.get("documents") {
            Some(AttributeValue::B(blob)) => blob.clone().into_inner(),
            _ => return Err(bad("no `documents` (binary)")),
        };
        let collected_at = match item.get("collected_at") {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| bad("`collected_at` is not a number"))?,
            _ => return Err(bad("no `collected_at`")),
        };
        Ok(Some(CachedContext {
            cluster: cluster.to_owned(),
            collected_at,
            documents,
        }))
    }

    async fn put_context(&self, at: &Partition, context: &CachedContext) -> Result<(), StateError> {
        let mut item = Self::key(at, context_key(&context.cluster));
        item.insert(
            "documents".to_owned(),
            AttributeValue::B(aws_smithy_types::Blob::new(context.documents.clone())),
        );
        item.insert(
            "collected_at".to_owned(),
            AttributeValue::N(context.collected_at.to_string()),
        );
        item.insert(
            "expires_at".to_owned(),
            AttributeValue::N((context.collected_at + CONTEXT_RETENTION).to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_PUT, e).into())
    }
}

/// A cached context is removed by the table's TTL a day after it was collected (it is not used
/// after `CONTEXT_MAX_AGE_MINUTES` anyway).
const CONTEXT_RETENTION: i64 = 24 * 3600;

/// The sort key prefix of the clusters' owned ids (`owners#{cluster}`).
const OWNERS_PREFIX: &str = "owners#";

fn context_key(cluster: &str) -> String {
    format!("context#{cluster}")
}

/// A conditional write's answer: done, refused by its condition, or failed.
fn conditional<T, E>(
    answer: Result<T, aws_sdk_dynamodb::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
    action: &'static str,
) -> Result<Written, StateError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Ok(_) => Ok(Written::Yes),
        Err(error)
            if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&error)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(Written::Conflict)
        }
        Err(error) => Err(ApiFailure::from_sdk(action, error).into()),
    }
}

/// The store a function runs with: its table when `STATE_TABLE` is set, else memory.
#[derive(Debug)]
pub enum ConfiguredStore {
    Dynamo(DynamoStore),
    Memory(MemoryStore),
}

impl StateStore for ConfiguredStore {
    async fn load(
        &self,
        at: &Partition,
        clusters: Clusters<'_>,
    ) -> Result<Vec<Record>, StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.load(at, clusters).await,
            ConfiguredStore::Memory(s) => s.load(at, clusters).await,
        }
    }

    async fn get(
        &self,
        at: &Partition,
        cluster: &str,
        finding_id: &str,
    ) -> Result<Option<Record>, StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.get(at, cluster, finding_id).await,
            ConfiguredStore::Memory(s) => s.get(at, cluster, finding_id).await,
        }
    }

    async fn put(
        &self,
        at: &Partition,
        state: &FindingState,
        expected: u64,
    ) -> Result<Written, StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.put(at, state, expected).await,
            ConfiguredStore::Memory(s) => s.put(at, state, expected).await,
        }
    }

    async fn owners(&self, at: &Partition) -> Result<Vec<Owners>, StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.owners(at).await,
            ConfiguredStore::Memory(s) => s.owners(at).await,
        }
    }

    async fn put_owners(&self, at: &Partition, owners: &Owners) -> Result<(), StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.put_owners(at, owners).await,
            ConfiguredStore::Memory(s) => s.put_owners(at, owners).await,
        }
    }

    async fn last_digest(&self, at: &Partition) -> Result<Option<i64>, StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.last_digest(at).await,
            ConfiguredStore::Memory(s) => s.last_digest(at).await,
        }
    }

    async fn set_last_digest(&self, at: &Partition, time: i64) -> Result<(), StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.set_last_digest(at, time).await,
            ConfiguredStore::Memory(s) => s.set_last_digest(at, time).await,
        }
    }

    async fn context(
        &self,
        at: &Partition,
        cluster: &str,
    ) -> Result<Option<CachedContext>, StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.context(at, cluster).await,
            ConfiguredStore::Memory(s) => s.context(at, cluster).await,
        }
    }

    async fn put_context(&self, at: &Partition, context: &CachedContext) -> Result<(), StateError> {
        match self {
            ConfiguredStore::Dynamo(s) => s.put_context(at, context).await,
            ConfiguredStore::Memory(s) => s.put_context(at, context).await,
        }
    }
}
