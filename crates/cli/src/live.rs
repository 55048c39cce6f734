//! `--live`: collect the snapshot from AWS instead of reading it from files.
//!
//! The CLI is synchronous; only this module runs an async runtime, built when `--live` is given.
//! The collection comes back as the same typed AWS CLI documents an offline snapshot is read
//! into, so every command (`audit`, `explain`, `lab`, `snapshot`) works on it unchanged. Credentials, profile,
//! region and endpoint come from the standard AWS chain (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, …); `--region` overrides the region, and repeated collects several
//! Regions side by side (the EC2 request budget is per Region), each on its own: a Region that
//! cannot be collected is reported, and never hides the others.

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
    /// AWS Region (default: from the credential chain / AWS_REGION); repeat it to audit several
    /// Regions in one run (--region us-east-1 --region eu-west-1).
    #[arg(long = "region", value_name = "REGION", requires = "live")]
    pub regions: Vec<String>,
    /// Cluster to collect (repeatable; default: every cluster of each Region).
    #[arg(long = "cluster", value_name = "NAME", requires = "live")]
    pub clusters: Vec<String>,
    /// Directory of kubectl dumps (aws-node DaemonSet, pods, nodes, ENIConfigs), one
    /// subdirectory per cluster name, or flat for a single cluster; each replaces the document
    /// of its kind read from that cluster's API. With several --region, one subdirectory per
    /// Region (DIR/eu-west-1/<cluster>/…).
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

/// One Region's collection: what was collected, or why nothing was, and the kubectl dumps of
/// `--with` for it (placed under `clusters/`, as the collection's own files are).
pub struct RegionCollection {
    /// The Region asked for, or the credential chain's.
    pub region: String,
    pub collected: Result<Collection>,
    pub extra: Vec<snapshot_dir::DiskFile>,
}

impl LiveArgs {
    /// Collects every Region asked for (the credential chain's when none is), side by side,
    /// showing a progress line on a terminal. A Region that cannot be collected comes back as
    /// its error; only when none could be is the run an error.
    pub fn collect(&self) -> Result<Vec<RegionCollection>> {
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
        if let Some(path) = &self.kubeconfig
            && !path.is_file()
        {
            anyhow::bail!("--kubeconfig {}: no such file", path.display());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let collected = runtime.block_on(self.collect_regions())?;
        let several = collected.len() > 1;
        let mut regions = Vec::new();
        for (region, result) in collected {
            let extra = match (&self.with, several) {
                (Some(dir), false) => snapshot_dir::read(dir, "clusters/")?,
                (Some(dir), true) if dir.join(&region).is_dir() => {
                    snapshot_dir::read(&dir.join(&region), "clusters/")?
                }
                _ => Vec::new(),
            };
            regions.push(RegionCollection {
                region,
                collected: result,
                extra,
            });
        }
        self.check_named_clusters(&regions)?;
        if several {
            regions.retain(|r| match &r.collected {
                Ok(c) if holds_none_of_the_named(c, &self.clusters) => {
                    eprintln!("Region {}: none of the named clusters is there", r.region);
                    false
                }
                _ => true,
            });
        }
        let (mut calls, mut retries, mut wall) = (0, 0, 0);
        let mut clusters = 0;
        for r in &regions {
            if let Ok(c) = &r.collected {
                let stats = &c.notes.stats;
                calls += stats.calls;
                retries += stats.retries;
                wall = wall.max(stats.wall_time_ms);
                clusters += c.clusters().len();
            }
        }
        let failed: Vec<&RegionCollection> =
            regions.iter().filter(|r| r.collected.is_err()).collect();
        if failed.len() == regions.len() {
            let why: Vec<String> = regions
                .iter()
                .filter_map(|r| r.collected.as_ref().err().map(|e| (r, e)))
                .map(|(r, e)| {
                    if several {
                        format!("{}: {e:#}", r.region)
                    } else {
                        format!("{e:#}")
                    }
                })
                .collect();
            anyhow::bail!("{}", why.join("; "));
        }
        let in_regions = if several {
            format!(" in {} Regions", regions.len() - failed.len())
        } else {
            String::new()
        };
        eprintln!(
            "collected {clusters} cluster(s){in_regions} with {calls} API calls ({retries} retries) in {:.1} s",
            Duration::from_millis(wall).as_secs_f64()
        );
        for r in failed {
            if let Err(e) = &r.collected {
                eprintln!("error: Region {} could not be collected: {e:#}", r.region);
            }
        }
        Ok(regions)
    }

    /// The settings every Region's collector shares.
    fn settings(&self) -> CollectorSettings {
        CollectorSettings {
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
        }
    }

    /// The Regions asked for, each once, in the order given.
    fn regions(&self) -> Vec<Option<String>> {
        let mut regions: Vec<Option<String>> = Vec::new();
        for region in &self.regions {
            if !regions.iter().flatten().any(|r| r == region) {
                regions.push(Some(region.clone()));
            }
        }
        if regions.is_empty() {
            regions.push(None);
        }
        regions
    }

    /// Every Region's collection, side by side, in the order asked.
    async fn collect_regions(&self) -> Result<Vec<(String, Result<Collection>)>> {
        let scope = if self.clusters.is_empty() {
            Scope::AllClusters
        } else {
            Scope::Clusters(self.clusters.clone())
        };
        let settings = self.settings();
        let mut collectors = Vec::new();
        for region in self.regions() {
            let config = podreach_aws::load_config(region).await;
            let Some(region) = config.region().map(ToString::to_string) else {
                anyhow::bail!(
                    "no AWS region: pass --region, set AWS_REGION, or give the profile a region"
                );
            };
            collectors.push((region, Collector::new(&config, &settings)));
        }
        let progress = std::io::stderr().is_terminal().then(|| {
            let stats: Vec<_> = collectors.iter().map(|(_, c)| c.stats().clone()).collect();
            tokio::spawn(async move {
                let started = Instant::now();
                let before: Vec<_> = stats.iter().map(|s| s.reading()).collect();
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let (mut calls, mut retries) = (0, 0);
                    for (s, b) in stats.iter().zip(&before) {
                        let now = s.reading().since(b, 0);
                        calls += now.calls;
                        retries += now.retries;
                    }
                    eprint!(
                        "\r\x1b[2Kcollecting from AWS: {calls} calls, {retries} retries, {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            })
        });
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (region, collector)) in collectors.into_iter().enumerate() {
            let scope = scope.clone();
            tasks.spawn(async move {
                let collected = collector.collect(&scope).await.map_err(anyhow::Error::from);
                (index, region, collected)
            });
        }
        let mut collected = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            collected.push(joined.context("a Region's collection stopped unexpectedly")?);
        }
        if let Some(task) = progress {
            task.abort();
            eprint!("\r\x1b[2K");
        }
        collected.sort_by_key(|(index, _, _)| *index);
        Ok(collected
            .into_iter()
            .map(|(_, region, result)| (region, result))
            .collect())
    }

    /// `--cluster` names clusters: each must be in some Region collected. A Region where EKS
    /// says none of them exists is left out of the run (a cluster lives in one Region).
    fn check_named_clusters(&self, regions: &[RegionCollection]) -> Result<()> {
        if self.clusters.is_empty() {
            return Ok(());
        }
        let found = regions
            .iter()
            .filter_map(|r| r.collected.as_ref().ok())
            .any(|c| !c.clusters().is_empty());
        if !found {
            let why: Vec<String> = regions
                .iter()
                .flat_map(|r| match &r.collected {
                    Ok(c) => c.notes.gaps.iter().map(|g| g.message.clone()).collect(),
                    Err(e) => vec![format!("{}: {e:#}", r.region)],
                })
                .collect();
            anyhow::bail!(
                "none of the named clusters could be collected: {}",
                why.join("; ")
            );
        }
        Ok(())
    }
}

/// Whether a Region's collection holds nothing but the named clusters EKS says it does not
/// have: with several Regions, such a Region is not part of the run.
fn holds_none_of_the_named(collection: &Collection, named: &[String]) -> bool {
    !named.is_empty()
        && collection.clusters().is_empty()
        && named
            .iter()
            .all(|n| collection.missing_clusters.contains(n))
}
