//! Why a cluster's API could not be read, and the exact step that lets podreach read it.
//!
//! Each failure becomes a [`raw::BlindSpot`]: the input, the cause in the server's or the
//! network's words, and a remedy for this cluster — with its name, Region and podreach's own
//! principal in the commands (STS `GetCallerIdentity`, which needs no IAM permission, names the
//! principal the first time one is needed). The remedy follows the cluster's
//! `accessConfig.authenticationMode` (access entries, or the `aws-auth` ConfigMap) and its
//! endpoint access (a private-only endpoint cannot be reached from outside the VPC).

use std::error::Error as _;

use podreach_core::raw;
use tokio::sync::OnceCell;

use super::KubeAccess;

/// The blind spot of unread ENIConfigs: it matters only with custom networking, which the
/// model decides (`podreach_core::model`), so the model drops it otherwise.
pub const ENICONFIGS_INPUT: &str = podreach_core::model::ENICONFIGS_INPUT;

/// Who runs the read: the remedies differ (the functions are deployed; the CLI runs somewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Functions,
    Cli,
}

/// What went wrong, in the terms the remedy depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 401: the server does not know the identity (no access entry, no `aws-auth` mapping, or a
    /// token it refused).
    Unauthorized(String),
    /// 403: known, not allowed (the server's message names the verb and resource).
    Forbidden(String),
    /// No answer within the timeouts.
    Timeout(String),
    /// No connection: refused, no route, or a name that does not resolve.
    Unreachable(String),
    /// The server's certificate does not verify against the cluster's CA.
    Tls(String),
    /// The list changed faster than it could be read, twice (410 Expired).
    Expired,
    /// Another status from the server (5xx, 429 after kube-rs's retries, …).
    Server(u16, String),
    /// A resource the API does not serve (404 where it must exist).
    NotServed(String),
    /// An answer that is not the document it should be.
    Malformed(String),
    /// No client could be set up (no endpoint, no credentials, a bad kubeconfig).
    Setup(String),
}

impl Failure {
    /// Classifies a kube-rs error by its status, else by its source chain.
    pub fn from_kube(error: kube::Error) -> Failure {
        match error {
            kube::Error::Api(status) => {
                let message = if status.message.is_empty() {
                    status.reason.clone()
                } else {
                    status.message.clone()
                };
                match status.code {
                    401 => Failure::Unauthorized(message),
                    403 => Failure::Forbidden(message),
                    410 => Failure::Expired,
                    code => Failure::Server(code, message),
                }
            }
            other => {
                let chain = chain(&other);
                let lower = chain.to_ascii_lowercase();
                if lower.contains("timed out")
                    || lower.contains("timeout")
                    || lower.contains("deadline")
                {
                    Failure::Timeout(chain)
                } else if lower.contains("certificate")
                    || lower.contains("tls")
                    || lower.contains("handshake")
                {
                    Failure::Tls(chain)
                } else if lower.contains("dns")
                    || lower.contains("lookup")
                    || lower.contains("resolve")
                    || lower.contains("refused")
                    || lower.contains("unreachable")
                    || lower.contains("connect")
                {
                    Failure::Unreachable(chain)
                } else {
                    Failure::Server(0, chain)
                }
            }
        }
    }
}

/// An error and every source under it, joined.
fn chain(error: &kube::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

/// A cluster's facts the remedies need.
#[derive(Debug)]
pub struct Situation {
    cluster: String,
    region: String,
    endpoint: String,
    authentication_mode: Option<String>,
    public_access: Option<bool>,
    public_cidrs: Vec<String>,
    runner: Runner,
    sts: Option<aws_sdk_sts::Client>,
    principal: OnceCell<Option<String>>,
}

impl Situation {
    pub fn of(cluster: &raw::Cluster, access: &KubeAccess) -> Situation {
        let vpc = &cluster.resources_vpc_config;
        Situation {
            cluster: cluster.name.clone(),
            region: access.region.clone(),
            endpoint: cluster.endpoint.clone().unwrap_or_default(),
            authentication_mode: cluster
                .access_config
                .as_ref()
                .and_then(|a| a.authentication_mode.clone()),
            public_access: vpc.endpoint_public_access,
            public_cidrs: vpc.public_access_cidrs.clone(),
            runner: access.runner,
            sts: access.sts.clone(),
            principal: OnceCell::new(),
        }
    }

    /// podreach's IAM role (`arn:aws:iam::…:role/…`) as access entries name it, looked up once.
    async fn principal(&self) -> String {
        let found = self
            .principal
            .get_or_init(|| async {
                let sts = self.sts.as_ref()?;
                let arn = sts
                    .get_caller_identity()
                    .send()
                    .await
                    .ok()?
                    .arn()?
                    .to_owned();
                Some(role_arn(&arn))
            })
            .await;
        found
            .clone()
            .unwrap_or_else(|| "<podreach's IAM role ARN>".to_owned())
    }

    /// The blind spot of `failure` while reading `what` (`None`: the whole API).
    pub async fn blind_spot(&self, failure: &Failure, what: Option<&str>) -> raw::BlindSpot {
        let input = match what {
            Some("ENIConfigs") => ENICONFIGS_INPUT.to_owned(),
            Some("nodes") => "Node objects (Kubernetes API)".to_owned(),
            _ => "Kubernetes API".to_owned(),
        };
        let reading = what.map_or_else(String::new, |w| format!(" reading {w}"));
        let cluster = &self.cluster;
        let region = &self.region;
        let (cause, remedy) = match failure {
            Failure::Unauthorized(message) => {
                let principal = self.principal().await;
                let cause = format!(
                    "the API server does not know podreach's identity {principal} (401 Unauthorized{}){reading}",
                    if message.is_empty() || message == "Unauthorized" { String::new() } else { format!(": {message}") }
                );
                (cause, self.grant(&principal))
            }
            Failure::Forbidden(message) => {
                let principal = self.principal().await;
                let cause = format!("403 Forbidden{reading}: {message}");
                let remedy = if matches!(what, Some("ENIConfigs" | "nodes")) {
                    format!(
                        "let podreach's group list {}: `kubectl apply -f infra/rbac.yaml` (AmazonEKSViewPolicy covers neither Node objects nor \
                         custom resources), with the principal in the group: `aws eks update-access-entry --cluster-name {cluster} --region {region} \
                         --principal-arn {principal} --kubernetes-groups podreach-readers`",
                        if what == Some("nodes") { "nodes" } else { "eniconfigs.crd.k8s.amazonaws.com" }
                    )
                } else {
                    format!(
                        "apply podreach's RBAC (`kubectl apply -f infra/rbac.yaml`: get the aws-node DaemonSet, list pods, nodes and eniconfigs) and put the principal in its group: \
                         `aws eks update-access-entry --cluster-name {cluster} --region {region} --principal-arn {principal} --kubernetes-groups podreach-readers`"
                    )
                };
                (cause, remedy)
            }
            Failure::Timeout(detail) | Failure::Unreachable(detail) => {
                let verb = if matches!(failure, Failure::Timeout(_)) {
                    "did not answer in time"
                } else {
                    "could not be reached"
                };
                (
                    format!("the API endpoint {} {verb}{reading} ({detail})", self.endpoint),
                    self.reach(),
                )
            }
            Failure::Tls(detail) => (
                format!("the API server's certificate did not verify against the cluster's CA{reading} ({detail})"),
                "podreach trusts only the CA that eks:DescribeCluster gives (certificateAuthority.data) and never skips verification: \
                 a TLS-inspecting proxy between podreach and the endpoint must let this connection through unaltered"
                    .to_owned(),
            ),
            Failure::Expired => (
                format!("the list{reading} changed faster than it could be read, twice (410 Expired)"),
                "nothing to change: the next audit reads it again; if it recurs, the API server is under heavy churn".to_owned(),
            ),
            Failure::Server(code, message) => (
                if *code == 0 {
                    format!("the API request{reading} failed: {message}")
                } else {
                    format!("the API server answered {code}{reading}: {message}")
                },
                "the next audit retries; if it persists, check the cluster's control plane (aws eks describe-cluster, CloudWatch control plane logs)".to_owned(),
            ),
            Failure::NotServed(resource) => (
                format!("the API server does not serve {resource} (404)"),
                format!("check that {} is the API server of cluster {cluster}", self.endpoint),
            ),
            Failure::Malformed(message) => (
                format!("an answer{reading} is not what the Kubernetes API sends: {message}"),
                format!("check that {} is the API server of cluster {cluster} (a proxy answering in its place?)", self.endpoint),
            ),
            Failure::Setup(message) => (
                message.clone(),
                "fix the configuration named above; or skip the Kubernetes API (`--kube off`, `KUBERNETES_API=off`) and accept what it leaves unseen".to_owned(),
            ),
        };
        raw::BlindSpot {
            cluster: cluster.clone(),
            input,
            cause,
            remedy,
        }
    }

    /// The grant of an identity the cluster does not know, by authentication mode.
    fn grant(&self, principal: &str) -> String {
        let cluster = &self.cluster;
        let region = &self.region;
        match self.authentication_mode.as_deref() {
            Some("CONFIG_MAP") => format!(
                "the cluster authenticates through the aws-auth ConfigMap only (authenticationMode CONFIG_MAP): map the role, \
                 `eksctl create iamidentitymapping --cluster {cluster} --region {region} --arn {principal} --username podreach --group podreach-readers`, \
                 then `kubectl apply -f infra/rbac.yaml`; or switch on access entries, \
                 `aws eks update-cluster-config --name {cluster} --region {region} --access-config authenticationMode=API_AND_CONFIG_MAP`, and create the entry"
            ),
            _ => format!(
                "create an access entry for podreach's role in the podreach-readers group and apply the RBAC: \
                 `aws eks create-access-entry --cluster-name {cluster} --region {region} --principal-arn {principal} --kubernetes-groups podreach-readers` \
                 then `kubectl apply -f infra/rbac.yaml` (the template does this for the functions with `ClusterNames`); \
                 or grant the view policy instead, `aws eks associate-access-policy --cluster-name {cluster} --region {region} --principal-arn {principal} \
                 --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy --access-scope type=cluster` after creating the entry \
                 without groups (ENIConfigs then stay unread)"
            ),
        }
    }

    /// How to reach an endpoint that could not be reached.
    fn reach(&self) -> String {
        let cluster = &self.cluster;
        let region = &self.region;
        let open_to_all =
            self.public_cidrs.is_empty() || self.public_cidrs.iter().any(|c| c == "0.0.0.0/0");
        match (self.public_access, self.runner) {
            (Some(false), Runner::Functions) => "the cluster's API endpoint is private (endpointPublicAccess=false): deploy the functions \
                 in the cluster's VPC with the template's SubnetIds and SecurityGroupIds parameters (subnets with a route to STS, EC2, EKS, \
                 SNS, DynamoDB and SSM: a NAT gateway or VPC endpoints), and let the cluster security group admit that security group on tcp/443"
                .to_owned(),
            (Some(false), Runner::Cli) => format!(
                "the cluster's API endpoint is private (endpointPublicAccess=false): run podreach from a host inside the VPC or connected \
                 to it (VPN, Direct Connect, a bastion); or open the public endpoint to your address: \
                 `aws eks update-cluster-config --name {cluster} --region {region} --resources-vpc-config endpointPublicAccess=true,publicAccessCidrs=<your address>/32`"
            ),
            (_, runner) if !open_to_all => {
                let from = match runner {
                    Runner::Functions => {
                        "the functions' egress address (their NAT gateway's Elastic IP), or deploy them in the VPC (SubnetIds, SecurityGroupIds)"
                    }
                    Runner::Cli => "the address podreach runs from",
                };
                format!(
                    "the public endpoint admits only {}: add {from} to publicAccessCidrs, \
                     `aws eks update-cluster-config --name {cluster} --region {region} --resources-vpc-config publicAccessCidrs=…`",
                    self.public_cidrs.join(", ")
                )
            }
            _ => format!(
                "check that {} is reachable from where podreach runs (DNS, routes, a proxy); every read waits at most a few seconds",
                self.endpoint
            ),
        }
    }
}

/// `arn:aws:sts::A:assumed-role/NAME/SESSION` → `arn:aws:iam::A:role/NAME`, the principal an
/// access entry takes (a role with a path must be given with it: STS does not say the path).
pub fn role_arn(arn: &str) -> String {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return arn.to_owned();
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if let [partition, "sts", _, account, resource] = parts.as_slice()
        && let Some(role) = resource.strip_prefix("assumed-role/")
        && let Some((name, _session)) = role.split_once('/')
    {
        return format!("arn:{partition}:iam::{account}:role/{name}");
    }
    arn.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumed_role_is_named_by_its_role_as_access_entries_take_it() {
        assert_eq!(
            role_arn(
                "arn:aws:sts::111122223333:assumed-role/podreach-OnChangeRole-1A2B/podreach-on-change"
            ),
            "arn:aws:iam::111122223333:role/podreach-OnChangeRole-1A2B"
        );
        assert_eq!(
            role_arn("arn:aws:iam::111122223333:user/alice"),
            "arn:aws:iam::111122223333:user/alice"
        );
    }
}
