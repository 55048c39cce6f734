//! Opening one cluster's API: which server, which CA, which credentials.
//!
//! Both ways in end as a kubeconfig that kube-rs loads, so kube-rs alone parses CA data,
//! client certificates and exec plugins. The EKS way builds a one-context kubeconfig in memory
//! from `DescribeCluster` (`endpoint`, `certificateAuthority.data`) and a fresh token
//! ([`super::token`]); the CLI first looks for the user's own context for the cluster, as
//! `aws eks update-kubeconfig` writes it (the context is named by the cluster's ARN) or as
//! anyone writes it (its cluster's `server` is the endpoint), and uses it as it is.

use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use podreach_core::raw;
use serde_json::json;

use super::blind::Failure;
use super::{KubeAccess, KubeMode, token};

/// A client for `cluster`'s API, or why there is none.
pub async fn client(access: &KubeAccess, cluster: &raw::Cluster) -> Result<kube::Client, Failure> {
    let mut config = match &access.mode {
        KubeMode::Off => {
            return Err(Failure::Setup(
                "the Kubernetes API is switched off".to_owned(),
            ));
        }
        KubeMode::Eks => eks_config(access, cluster).await?,
        KubeMode::Kubeconfig(path) => match user_context(path.as_deref(), cluster)? {
            Some((kubeconfig, context)) => {
                tracing::info!(cluster = %cluster.name, %context, "using the kubeconfig context");
                kube::Config::from_custom_kubeconfig(
                    kubeconfig,
                    &KubeConfigOptions {
                        context: Some(context.clone()),
                        ..KubeConfigOptions::default()
                    },
                )
                .await
                .map_err(|e| Failure::Setup(format!("kubeconfig context `{context}`: {e}")))?
            }
            None => eks_config(access, cluster).await?,
        },
    };
    config.connect_timeout = Some(access.settings.connect_timeout);
    config.read_timeout = Some(access.settings.read_timeout);
    config.write_timeout = Some(access.settings.read_timeout);
    // Time a pooled connection sat idle must not count against the next answer.
    config.reset_reader_on_write = true;
    kube::Client::try_from(config).map_err(|e| Failure::Setup(format!("the HTTPS client: {e}")))
}

/// The EKS way: DescribeCluster's endpoint and CA, and a token of the caller's credentials.
async fn eks_config(access: &KubeAccess, cluster: &raw::Cluster) -> Result<kube::Config, Failure> {
    let endpoint = cluster
        .endpoint
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            Failure::Setup(
                "eks:DescribeCluster names no API endpoint (is the cluster still being created?)"
                    .to_owned(),
            )
        })?;
    let ca = cluster
        .certificate_authority
        .as_ref()
        .and_then(|c| c.data.clone())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            Failure::Setup(
                "eks:DescribeCluster gives no certificateAuthority.data to trust the API server by"
                    .to_owned(),
            )
        })?;
    let provider = access
        .credentials
        .as_ref()
        .ok_or_else(|| Failure::Setup("no AWS credentials to make an EKS token with".to_owned()))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| Failure::Setup(format!("the AWS credentials for the EKS token: {e}")))?;
    let token = token::eks_token(
        &cluster.name,
        &access.region,
        &credentials,
        SystemTime::now(),
    )
    .map_err(|e| Failure::Setup(e.to_string()))?;
    let kubeconfig: Kubeconfig = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster.name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
        "users": [{"name": "podreach", "user": {"token": token}}],
        "contexts": [{"name": "podreach", "context": {"cluster": cluster.name, "user": "podreach"}}],
        "current-context": "podreach",
    }))
    .map_err(|e| Failure::Setup(format!("the cluster's kubeconfig: {e}")))?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| Failure::Setup(format!("the cluster's endpoint or CA: {e}")))
}

/// The user's kubeconfig context for `cluster`, if any: `path`, else `$KUBECONFIG` (a list of
/// files, merged), else `~/.kube/config` when it exists. A file named explicitly that cannot
/// be read is an error; a default one that is absent is not.
fn user_context(
    path: Option<&std::path::Path>,
    cluster: &raw::Cluster,
) -> Result<Option<(Kubeconfig, String)>, Failure> {
    let kubeconfig = match path {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| Failure::Setup(format!("--kubeconfig {}: {e}", path.display())))?,
        None => match Kubeconfig::from_env() {
            Ok(Some(config)) => config,
            Ok(None) => {
                let Some(home) = std::env::var_os("HOME") else {
                    return Ok(None);
                };
                let default = std::path::Path::new(&home).join(".kube").join("config");
                if !default.is_file() {
                    return Ok(None);
                }
                Kubeconfig::read_from(&default)
                    .map_err(|e| Failure::Setup(format!("{}: {e}", default.display())))?
            }
            Err(e) => return Err(Failure::Setup(format!("$KUBECONFIG: {e}"))),
        },
    };
    let context = matching_context(&kubeconfig, cluster);
    Ok(context.map(|c| (kubeconfig, c)))
}

/// The context for `cluster`: named by its ARN (`aws eks update-kubeconfig`), else one whose
/// cluster's server is the cluster's endpoint.
pub fn matching_context(kubeconfig: &Kubeconfig, cluster: &raw::Cluster) -> Option<String> {
    if let Some(arn) = &cluster.arn
        && kubeconfig.contexts.iter().any(|c| &c.name == arn)
    {
        return Some(arn.clone());
    }
    let endpoint = cluster.endpoint.as_deref()?.trim_end_matches('/');
    let servers: Vec<&str> = kubeconfig
        .clusters
        .iter()
        .filter(|c| {
            c.cluster
                .as_ref()
                .and_then(|c| c.server.as_deref())
                .is_some_and(|s| s.trim_end_matches('/') == endpoint)
        })
        .map(|c| c.name.as_str())
        .collect();
    kubeconfig
        .contexts
        .iter()
        .find(|c| {
            c.context
                .as_ref()
                .is_some_and(|ctx| servers.contains(&ctx.cluster.as_str()))
        })
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> raw::Cluster {
        serde_json::from_value(json!({
            "name": "shop",
            "arn": "arn:aws:eks:eu-west-1:111122223333:cluster/shop",
            "endpoint": "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
            "resourcesVpcConfig": {"vpcId": "vpc-1"}
        }))
        .expect("a cluster")
    }

    fn kubeconfig(contexts: serde_json::Value, clusters: serde_json::Value) -> Kubeconfig {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": clusters, "contexts": contexts, "users": [{"name": "u", "user": {"token": "t"}}]
        }))
        .expect("a kubeconfig")
    }

    #[test]
    fn the_context_aws_eks_update_kubeconfig_writes_is_found_by_the_cluster_arn() {
        let config = kubeconfig(
            json!([{"name": "arn:aws:eks:eu-west-1:111122223333:cluster/shop", "context": {"cluster": "c", "user": "u"}}]),
            json!([{"name": "c", "cluster": {"server": "https://elsewhere"}}]),
        );
        assert_eq!(
            matching_context(&config, &cluster()).as_deref(),
            Some("arn:aws:eks:eu-west-1:111122223333:cluster/shop")
        );
    }

    #[test]
    fn a_context_of_any_name_is_found_by_the_endpoint() {
        let config = kubeconfig(
            json!([
                {"name": "other", "context": {"cluster": "o", "user": "u"}},
                {"name": "prod-shop", "context": {"cluster": "shop-cluster", "user": "u"}}
            ]),
            json!([
                {"name": "o", "cluster": {"server": "https://other.example"}},
                {"name": "shop-cluster", "cluster": {"server": "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com/"}}
            ]),
        );
        assert_eq!(
            matching_context(&config, &cluster()).as_deref(),
            Some("prod-shop")
        );
        let none = kubeconfig(
            json!([{"name": "other", "context": {"cluster": "o", "user": "u"}}]),
            json!([{"name": "o", "cluster": {"server": "https://other.example"}}]),
        );
        assert_eq!(matching_context(&none, &cluster()), None);
    }
}
