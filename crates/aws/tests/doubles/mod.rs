//! The test doubles of the handlers' capabilities, shared by the handler tests: a collector
//! that answers every scope with the bundled demo snapshot (clusters `shop` and `legacy`), a
//! publisher that records (or refuses) messages, and a context over a fresh in-memory state.
#![allow(dead_code)]

use std::sync::Mutex;

use podreach_aws::Scope;
use podreach_aws::collect::{Collect, Collection};
use podreach_aws::error::{ApiFailure, CollectError};
use podreach_aws::function::{Context, FunctionConfig};
use podreach_aws::publish::{Message, Publish};
use podreach_aws::state::MemoryStore;
use podreach_aws::suppressions::SuppressionSource;
use podreach_core::raw::{self, CollectionNotes};
use podreach_core::snapshot::Document;
use podreach_core::{SourceFile, demo};
use serde_json::Value;

/// Answers every scope with the demo snapshot and records the scopes asked for.
#[derive(Default)]
pub struct DemoCollector {
    pub scopes: Mutex<Vec<Scope>>,
    /// A cluster whose inputs the collection reports incomplete.
    pub incomplete: Option<&'static str>,
    /// Fail as a Region whose clusters cannot be listed (an opt-in Region not enabled).
    pub unreachable: bool,
    /// ENIs that exist besides the demo's (someone else's: a Lambda's, an ECS task's), for
    /// [`Collect::look_up_enis`]; `None`: this double cannot look ENIs up.
    pub foreign: Option<Vec<raw::NetworkInterface>>,
    /// The ENI ids looked up, one entry per call.
    pub lookups: Mutex<Vec<Vec<String>>>,
    /// A cluster deleted since: EKS lists only the others, and says this one does not exist.
    pub deleted: Mutex<Option<&'static str>>,
}

/// The demo snapshot's documents.
pub fn demo_documents() -> Vec<podreach_core::snapshot::LoadedDocument> {
    let files: Vec<SourceFile> = demo::files()
        .into_iter()
        .map(|f| SourceFile {
            path: format!("clusters/{}", f.path),
            text: f.text,
        })
        .collect();
    podreach_core::snapshot::load(&files)
        .into_result()
        .expect("the demo is valid")
        .documents
}

impl Collect for DemoCollector {
    async fn collect(&self, scope: &Scope) -> Result<Collection, CollectError> {
        self.scopes
            .lock()
            .expect("not poisoned")
            .push(scope.clone());
        if self.unreachable {
            return Err(CollectError::ListClusters(ApiFailure {
                action: "eks:ListClusters",
                kind: podreach_aws::FailureKind::AccessDenied,
                code: Some("UnrecognizedClientException".to_owned()),
                message: "The security token included in the request is invalid".to_owned(),
            }));
        }
        let deleted = *self.deleted.lock().expect("not poisoned");
        let documents: Vec<_> = demo_documents()
            .into_iter()
            .filter(|d| {
                deleted.is_none_or(|gone| !d.path.starts_with(&format!("clusters/{gone}/")))
            })
            .collect();
        let mut notes = CollectionNotes::default();
        if let Some(name) = self.incomplete {
            notes
                .incomplete_clusters
                .push(podreach_core::raw::IncompleteCluster {
                    name: name.to_owned(),
                    reason: "ec2:DescribeRouteTables was still throttled after the SDK's retries"
                        .to_owned(),
                });
        }
        let names: Vec<String> = ["legacy", "shop"]
            .into_iter()
            .filter(|c| deleted != Some(*c))
            .map(str::to_owned)
            .collect();
        Ok(Collection {
            documents,
            notes,
            listed_clusters: deleted.map(|_| names.clone()),
            cluster_names: names,
            missing_clusters: deleted.map(str::to_owned).into_iter().collect(),
        })
    }

    async fn look_up_enis(
        &self,
        ids: &[String],
    ) -> Result<Option<Vec<raw::NetworkInterface>>, CollectError> {
        let Some(foreign) = &self.foreign else {
            return Ok(None);
        };
        self.lookups
            .lock()
            .expect("not poisoned")
            .push(ids.to_vec());
        let demo = demo_documents().into_iter().flat_map(|d| match d.document {
            Document::NetworkInterfaces(list) => list.network_interfaces,
            _ => Vec::new(),
        });
        Ok(Some(
            demo.chain(foreign.iter().cloned())
                .filter(|e| ids.contains(&e.network_interface_id))
                .collect(),
        ))
    }
}

/// Records messages (and Security Hub imports); fails those whose subject contains `fail_on`.
#[derive(Default)]
pub struct RecordingPublisher {
    pub sent: Mutex<Vec<Message>>,
    pub fail_on: Option<&'static str>,
    /// Each import: the Region and its findings.
    pub imported: Mutex<Vec<(String, Vec<podreach_core::asff::AsffFinding>)>>,
}

impl Publish for RecordingPublisher {
    async fn import(
        &self,
        region: &str,
        findings: Vec<podreach_core::asff::AsffFinding>,
    ) -> Option<podreach_aws::securityhub::Imported> {
        let accepted = findings.len();
        self.imported
            .lock()
            .expect("not poisoned")
            .push((region.to_owned(), findings));
        Some(podreach_aws::securityhub::Imported {
            accepted,
            ..Default::default()
        })
    }

    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        if self.fail_on.is_some_and(|f| message.subject.contains(f)) {
            return Err(ApiFailure {
                action: "sns:Publish",
                kind: podreach_aws::FailureKind::Throttled,
                code: Some("Throttling".to_owned()),
                message: "Rate exceeded".to_owned(),
            });
        }
        self.sent
            .lock()
            .expect("not poisoned")
            .push(message.clone());
        Ok(())
    }
}

pub fn config() -> FunctionConfig {
    FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:podreach".to_owned()),
        "MIN_SEVERITY" => Some("LOW".to_owned()),
        _ => None,
    })
    .expect("a valid configuration")
}

pub static NO_SUPPRESSIONS: SuppressionSource = SuppressionSource::None;

/// The handlers' context with a fresh, empty state: every finding is NEW.
pub fn context<'a, C, P>(
    config: &'a FunctionConfig,
    collector: &'a C,
    publisher: &'a P,
) -> Context<'a, C, P, MemoryStore> {
    Context {
        config,
        region: "eu-west-1",
        collector,
        others: &[],
        publisher,
        store: Box::leak(Box::new(MemoryStore::default())),
        suppressions: &NO_SUPPRESSIONS,
        now: None,
        deadline: None,
    }
}

pub fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the sample exists"))
        .expect("the sample is JSON")
}
