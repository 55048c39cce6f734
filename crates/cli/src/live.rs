//! `--live`: collect the snapshot from AWS instead of reading it from files.
//!
//! The CLI is synchronous; only this module runs an async runtime, built when `--live` is given.
//! The collection comes back as the same typed AWS CLI documents an offline snapshot is read
//! into, so every command (`audit`, `explain`, `lab`, `snapshot`) works on it unchanged. Credentials, profile,
//! region and endpoint come from the standard AWS chain (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, …); `--region` overrides the region.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use podreach_aws::{Collect as _, Collection, Collector, CollectorSettings, Scope};

use crate::snapshot_dir;

#[derive(Debug, Args, Default)]
pub struct LiveArgs {
    /// Collect from AWS with the standard credential chain instead of reading a snapshot.
    #[arg(long)]
    pub live: bool,
    /// AWS region (default: from the credential chain / AWS_REGION).
    #[arg(long, value_name = "REGION", requires = "live")]
    pub region: Option<String>,
    /// Cluster to collect (repeatable; default: every cluster of the region).
    #[arg(long = "cluster", value_name = "NAME", requires = "live")]
    pub clusters: Vec<String>,
    /// Directory of kubectl dumps (aws-node DaemonSet, pods, nodes, ENIConfigs), one
    /// subdirectory per cluster name, or flat for a single cluster; each replaces the document
    /// of its kind read from that cluster's API.
    #[arg(long = "with", value_name = "DIR", requires = "live")]
    pub with: Option<PathBuf>,
    /// Read each cluster's Kubernetes API (the aws-node DaemonSet, pods, nodes, ENIConfigs):
    /// `auto` uses a kubeconfig context for the cluster when there is one, else an EKS token from
    /// the AWS credentials; `off` reads none (the report says what that leaves unseen).
    #[arg(long, value_enum, value_name = "auto|off", default_value_t = KubeArg::Auto)]
    pub kube: KubeArg,
    /// The kubeconfig to find each cluster's context in: one named by the cluster's ARN (as
    /// `aws eks update-kubeconfig` writes it) or whose server is the cluster's endpoint
    /// (default: $KUBECONFIG, else ~/.kube/config when present).
    #[arg(long, value_name = "FILE", requires = "live")]
    pub kubeconfig: Option<PathBuf>,
    /// EC2/EKS calls in flight at once (the EC2 budget is shared with the CNI on every node).
    #[arg(long, value_name = "N", default_value_t = 4, requires = "live", value_parser = at_least_one)]
    pub max_concurrency: usize,
    /// A role, by name, in the accounts that own the far side (a peer VPC, a VPC behind a transit
    /// gateway): podreach assumes arn:aws:iam::<owner>:role/NAME to read its route tables,
    /// security groups, network ACLs and ENIs there. Without it such a far side is unknown.
    #[arg(long, value_name = "NAME", requires = "live")]
    pub member_role: Option<String>,
    /// The external id the member role's trust policy asks for.
    #[arg(long, value_name = "ID", requires = "member_role")]
    pub external_id: Option<String>,
}

/// `--kube`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum KubeArg {
    #[default]
    Auto,
    Off,
}

/// A count of 1 or more: with 0 calls in flight the collection would never start.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

impl LiveArgs {
    /// Collects, showing a progress line on a terminal, and returns the collection with the
    /// kubectl dumps of `--with` (placed under `clusters/`, as the collection's own files are).
    pub fn collect(&self) -> Result<(Collection, Vec<snapshot_dir::DiskFile>)> {
        // Checked before collecting: a typo must not cost a whole collection first.
        if let Some(dir) = &self.with
            && !dir.is_dir()
        {
            anyhow::bail!(
                "--with {}: not a directory (it holds the kubectl dumps: aws-node DaemonSet, pods, \
                 ENIConfigs, one subdirectory per cluster)",
                dir.display()
            );
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let scope = if self.clusters.is_empty() {
            Scope::AllClusters
        } else {
            Scope::Clusters(self.clusters.clone())
        };
        if let Some(path) = &self.kubeconfig
            && !path.is_file()
        {
            anyhow::bail!("--kubeconfig {}: no such file", path.display());
        }
        let settings = CollectorSettings {
            max_concurrency: self.max_concurrency,
            kubernetes: match self.kube {
                KubeArg::Auto => podreach_aws::kube::KubeMode::Kubeconfig(self.kubeconfig.clone()),
                KubeArg::Off => podreach_aws::kube::KubeMode::Off,
            },
            runner: podreach_aws::kube::Runner::Cli,
            member_role: self
                .member_role
                .clone()
                .map(|name| podreach_aws::MemberRole {
                    name,
                    external_id: self.external_id.clone(),
                }),
            ..CollectorSettings::default()
        };
        let collection = runtime.block_on(async {
            let config = podreach_aws::load_config(self.region.clone()).await;
            if config.region().is_none() {
                anyhow::bail!(
                    "no AWS region: pass --region, set AWS_REGION, or give the profile a region"
                );
            }
            let collector = Collector::new(&config, &settings);
            let progress = std::io::stderr().is_terminal().then(|| {
                let stats = collector.stats().clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let before = stats.reading();
                    loop {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        let now = stats.reading().since(&before, 0);
                        eprint!(
                            "\r\x1b[2Kcollecting from AWS: {} calls, {} retries, {:.1} s",
                            now.calls,
                            now.retries,
                            started.elapsed().as_secs_f64()
                        );
                    }
                })
            });
            let collection = collector.collect(&scope).await;
            if let Some(task) = progress {
                task.abort();
                eprint!("\r\x1b[2K");
            }
            Ok(collection?)
        })?;
        if !self.clusters.is_empty() && collection.clusters().is_empty() {
            let why: Vec<String> = collection
                .notes
                .gaps
                .iter()
                .map(|g| g.message.clone())
                .collect();
            anyhow::bail!(
                "none of the named clusters could be collected: {}",
                why.join("; ")
            );
        }
        let stats = &collection.notes.stats;
        eprintln!(
            "collected {} cluster(s) with {} API calls ({} retries) in {:.1} s",
            collection.clusters().len(),
            stats.calls,
            stats.retries,
            Duration::from_millis(stats.wall_time_ms).as_secs_f64()
        );
        let extra = match &self.with {
            Some(dir) => snapshot_dir::read(dir, "clusters/")?,
            None => Vec::new(),
        };
        Ok((collection, extra))
    }
}
