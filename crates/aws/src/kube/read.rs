//! The requests: one GET per document or page, parsed straight into the `raw` types.
//!
//! Lists are read in pages (`limit`, `continue`), each page parsed into its items before the next
//! is asked for, so a 150,000-pod cluster holds one page of JSON at a time plus the compact pod
//! store. Finished pods are not asked for (`fieldSelector=status.phase!=Succeeded,…`): they hold
//! no address. A `continue` token that expired (410, the list changed faster than it was read)
//! restarts the list once; a second expiry is a blind spot. A missing `aws-node` DaemonSet or
//! ENIConfig CRD (404) is an answer, not a failure.

use std::time::Instant;

use podreach_core::raw;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::blind::{Failure, Situation};
use super::{ClusterRead, KubeSettings, Reach, percent_encode as encode};
use crate::stats::CallStats;

const DAEMONSET: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node";
const PODS: &str = "/api/v1/pods";
const NODES: &str = "/api/v1/nodes";
const ENICONFIGS: &str = "/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs";
/// Finished pods keep `status.podIP` but hold no address.
const LIVE_PODS: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// Reads what `reach` asks for. The reads of one cluster run together.
pub async fn cluster(
    client: &kube::Client,
    settings: &KubeSettings,
    reach: &Reach,
    stats: &CallStats,
    situation: &Situation,
) -> ClusterRead {
    let api = Api {
        client,
        stats,
        page_size: settings.page_size,
        tally: std::sync::Mutex::new(std::collections::BTreeMap::new()),
    };
    let mut read = ClusterRead::default();
    let mut failures: Vec<(&'static str, Failure)> = Vec::new();
    match reach {
        Reach::Cluster => {
            let (daemonset, pods, nodes, eniconfigs) = tokio::join!(
                api.daemonset(),
                api.list::<raw::Pods>("k8s:list pods", PODS, Some(LIVE_PODS)),
                api.list::<Vec<raw::Node>>("k8s:list nodes", NODES, None),
                api.list::<Vec<raw::EniConfig>>("k8s:list eniconfigs", ENICONFIGS, None),
            );
            keep_daemonset(&mut read, &mut failures, daemonset);
            match pods {
                Ok(Some(items)) => read.pods = Some(pod_list(items)),
                Ok(None) => failures.push(("pods", Failure::NotServed("pods".to_owned()))),
                Err(f) => failures.push(("pods", f)),
            }
            match nodes {
                Ok(Some(items)) => {
                    read.nodes = Some(raw::NodeList {
                        api_version: "v1".to_owned(),
                        kind: "List".to_owned(),
                        items,
                    })
                }
                Ok(None) => failures.push(("nodes", Failure::NotServed("nodes".to_owned()))),
                Err(f) => failures.push(("nodes", f)),
            }
            match eniconfigs {
                Ok(Some(items)) => {
                    read.eniconfigs = Some(raw::EniConfigList {
                        api_version: "crd.k8s.amazonaws.com/v1alpha1".to_owned(),
                        kind: "List".to_owned(),
                        items,
                    })
                }
                // The CRD is installed with custom networking (or by the CNI's manifest); without
                // it there are no ENIConfigs.
                Ok(None) => read.notes.push(
                    "the ENIConfig CRD (crd.k8s.amazonaws.com) is not installed: no ENIConfigs"
                        .to_owned(),
                ),
                Err(f) => failures.push(("ENIConfigs", f)),
            }
        }
        Reach::Nodes(names) => {
            let daemonset = api.daemonset().await;
            keep_daemonset(&mut read, &mut failures, daemonset);
            let mut all = raw::Pods::default();
            for name in names {
                let selector = format!("spec.nodeName={name},{LIVE_PODS}");
                match api
                    .list::<raw::Pods>("k8s:list pods", PODS, Some(&selector))
                    .await
                {
                    Ok(Some(pods)) => all.append(&pods),
                    Ok(None) => failures.push(("pods", Failure::NotServed("pods".to_owned()))),
                    Err(f) => failures.push(("pods", f)),
                }
            }
            if !failures.iter().any(|(what, _)| *what == "pods") {
                read.pods = Some(pod_list(all));
            }
        }
    }
    // One blind spot per cause: a 401 on every read is one missing access entry. Only a 403 on
    // the Node objects or the ENIConfigs (AmazonEKSViewPolicy covers neither) is an input of its
    // own, since everything else was read.
    let mut groups: Vec<(Option<&'static str>, Failure, Vec<&'static str>)> = Vec::new();
    let rest_read = read.daemonset.is_some() && read.pods.is_some();
    for (what, failure) in failures {
        let own = rest_read
            && matches!(failure, Failure::Forbidden(_))
            && matches!(what, "nodes" | "ENIConfigs");
        let key = own.then_some(what);
        match groups.iter_mut().find(|(k, f, _)| {
            *k == key && std::mem::discriminant(f) == std::mem::discriminant(&failure)
        }) {
            Some((_, _, whats)) => whats.push(what),
            None => groups.push((key, failure, vec![what])),
        }
    }
    for (key, failure, whats) in groups {
        let what = match key {
            Some(own) => own.to_owned(),
            None => join(&whats),
        };
        let spot = situation.blind_spot(&failure, Some(&what)).await;
        read.blind_spots.push(spot);
    }
    read.requests = api
        .tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    read
}

/// `a`, `a and b`, `a, b and c`.
fn join(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn pod_list(items: raw::Pods) -> raw::PodList {
    raw::PodList {
        api_version: "v1".to_owned(),
        kind: "List".to_owned(),
        items,
    }
}

fn keep_daemonset(
    read: &mut ClusterRead,
    failures: &mut Vec<(&'static str, Failure)>,
    answer: Result<Option<raw::DaemonSet>, Failure>,
) {
    match answer {
        Ok(Some(daemonset)) => read.daemonset = Some(daemonset),
        Ok(None) => read.notes.push(
            "no aws-node DaemonSet in kube-system: the VPC CNI is not installed as aws-node"
                .to_owned(),
        ),
        Err(f) => failures.push(("the aws-node DaemonSet", f)),
    }
}

/// The items of a list: pods into their compact store, anything else into a `Vec`.
pub trait Items: DeserializeOwned + Default {
    fn absorb(&mut self, page: Self);
}

impl Items for raw::Pods {
    fn absorb(&mut self, page: Self) {
        if self.is_empty() {
            *self = page;
        } else {
            self.append(&page);
        }
    }
}

impl<T: DeserializeOwned> Items for Vec<T> {
    fn absorb(&mut self, page: Self) {
        self.extend(page);
    }
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default = "Default::default")]
    items: Option<T>,
}

#[derive(Default, Deserialize)]
struct ListMeta {
    #[serde(default, rename = "continue")]
    next: Option<String>,
}

struct Api<'a> {
    client: &'a kube::Client,
    stats: &'a CallStats,
    page_size: u32,
    /// This read's own requests, by action.
    tally: std::sync::Mutex<std::collections::BTreeMap<String, raw::OperationStats>>,
}

impl Api<'_> {
    fn record(&self, action: &'static str, failed: bool, bytes: u64) {
        self.stats.record(action, failed, bytes);
        let mut tally = self
            .tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = tally.entry(action.to_owned()).or_default();
        entry.calls += 1;
        entry.failures += u64::from(failed);
        entry.bytes += bytes;
    }

    /// One GET; its answer's body. `Ok(None)` for 404.
    async fn get(&self, action: &'static str, uri: &str) -> Result<Option<String>, Failure> {
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| Failure::Setup(format!("request {uri}: {e}")))?;
        let started = Instant::now();
        let answer = self.client.request_text(request).await;
        let elapsed = started.elapsed();
        match answer {
            Ok(body) => {
                self.record(action, false, body.len() as u64);
                tracing::debug!(
                    action,
                    uri,
                    bytes = body.len(),
                    ms = elapsed.as_millis() as u64,
                    "kubernetes"
                );
                Ok(Some(body))
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                self.record(action, false, 0);
                Ok(None)
            }
            Err(error) => {
                self.record(action, true, 0);
                Err(Failure::from_kube(error))
            }
        }
    }

    async fn daemonset(&self) -> Result<Option<raw::DaemonSet>, Failure> {
        let Some(body) = self.get("k8s:get daemonsets", DAEMONSET).await? else {
            return Ok(None);
        };
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| Failure::Malformed(format!("the aws-node DaemonSet: {e}")))
    }

    /// Every item of a list, page by page; `Ok(None)` when the resource is not served (404).
    async fn list<T: Items>(
        &self,
        action: &'static str,
        path: &str,
        field_selector: Option<&str>,
    ) -> Result<Option<T>, Failure> {
        let mut restarted = false;
        'list: loop {
            let mut all = T::default();
            let mut next: Option<String> = None;
            loop {
                let mut uri = format!("{path}?limit={}", self.page_size);
                if let Some(selector) = field_selector {
                    uri.push_str("&fieldSelector=");
                    uri.push_str(&encode(selector));
                }
                if let Some(token) = &next {
                    uri.push_str("&continue=");
                    uri.push_str(&encode(token));
                }
                let body = match self.get(action, &uri).await {
                    Ok(Some(body)) => body,
                    Ok(None) => return Ok(None),
                    Err(Failure::Expired) if !restarted => {
                        tracing::info!(
                            path,
                            "the list's continue token expired: reading it again from the start"
                        );
                        restarted = true;
                        continue 'list;
                    }
                    Err(f) => return Err(f),
                };
                let page: Page<T> = serde_json::from_str(&body)
                    .map_err(|e| Failure::Malformed(format!("a page of {path}: {e}")))?;
                drop(body);
                if let Some(items) = page.items {
                    all.absorb(items);
                }
                match page.metadata.next.filter(|t| !t.is_empty()) {
                    Some(token) => next = Some(token),
                    None => return Ok(Some(all)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_the_api_parses_into_the_compact_store() {
        // Items of an API list carry no kind; unknown fields are skipped unparsed.
        let body = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"abc"},
            "items":[{"metadata":{"name":"api-5d9f8c7b6-qx2lp","namespace":"shop","labels":{"app":"api","pod-template-hash":"5d9f8c7b6"},
              "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"api-5d9f8c7b6","controller":true,"uid":"u"}],
              "managedFields":[{"manager":"kube-controller-manager","fieldsV1":{"f:metadata":{}}}]},
              "spec":{"nodeName":"ip-10-0-1-10.ec2.internal","containers":[{"name":"api","image":"api:1"}]},
              "status":{"phase":"Running","podIP":"10.0.1.20","podIPs":[{"ip":"10.0.1.20"}]}}]}"#;
        let page: Page<raw::Pods> = serde_json::from_str(body).expect("a page");
        assert_eq!(page.metadata.next.as_deref(), Some("abc"));
        let pods = page.items.expect("items");
        let pod = pods.get(0).expect("one pod");
        assert_eq!(pod.name(), "api-5d9f8c7b6-qx2lp");
        assert_eq!(pod.node(), Some("ip-10-0-1-10.ec2.internal"));
        assert!(pod.owner().is_some_and(|o| o.template_hash));
    }

    #[test]
    fn selectors_and_tokens_are_encoded_for_the_query() {
        assert_eq!(
            encode("spec.nodeName=ip-10-0-1-10.ec2.internal,status.phase!=Failed"),
            "spec.nodeName%3Dip-10-0-1-10.ec2.internal%2Cstatus.phase%21%3DFailed"
        );
        assert_eq!(encode("eyJ2Ijo+/="), "eyJ2Ijo%2B%2F%3D");
    }
}
