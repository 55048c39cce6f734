//! `podreach`: which EKS pods can reach networks beyond their VPC, and why not.
//!
//! A thin shell around `podreach-core`: it reads a snapshot directory, the embedded demo, or the
//! live AWS APIs (through `podreach-aws`, which yields the same typed AWS CLI documents), hands
//! them to the core, and prints the report as text or JSON. Exit codes are part of the
//! interface: 0 = every cluster analysed and no finding at or above `--fail-on`, 1 = such a
//! finding exists (or the lab disagrees with the model), 2 = usage or input error, 3 = some
//! cluster (or the whole run) got no verdicts.

mod lifecycle;
mod live;
mod org;
mod render;
mod snapshot_dir;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use podreach_core::cni::Version;
use podreach_core::report::Severity;
use podreach_core::{AnalyzeOptions, Audit, Model, Overrides, demo, snapshot};

#[derive(Debug, Parser)]
#[command(name = "podreach", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Audit a snapshot (the bundled demo when no --snapshot is given).
    Audit(AuditArgs),
    /// Print the hop-by-hop trace of one pod address to one destination address, both ways.
    Explain(ExplainArgs),
    /// Write the bundled demo snapshot as files, to show the expected format.
    DemoSnapshot {
        /// Directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Collect a snapshot from AWS (--live) and write it as AWS CLI-shaped files.
    Snapshot(SnapshotArgs),
    /// Reproduce one node of a snapshot in network namespaces and compare the kernel with the model (Linux, root).
    Lab(LabArgs),
    /// An AWS Organization audited from one deployment: what a run covers.
    Org {
        #[command(subcommand)]
        command: org::OrgCommand,
    },
}

#[derive(Debug, Args, Default)]
struct InputArgs {
    /// Directory of `aws … describe-*` and `kubectl get … -o json` outputs (read recursively);
    /// repeat it for the snapshots of several Regions (one directory each, as
    /// `podreach snapshot --live --region … --region …` writes them).
    #[arg(long = "snapshot", value_name = "DIR", conflicts_with = "live")]
    snapshots: Vec<PathBuf>,
    #[command(flatten)]
    live: live::LiveArgs,
    /// CNI version to model, overriding the DaemonSet and add-on (e.g. v1.11.4).
    #[arg(long, value_name = "VERSION")]
    cni_version: Option<Version>,
    /// A CNI setting overriding every other source, e.g. AWS_VPC_CNI_NODE_PORT_SUPPORT=false (repeatable).
    #[arg(long = "cni-env", value_name = "KEY=VALUE", value_parser = parse_cni_env)]
    cni_env: Vec<(String, String)>,
    /// Effective rp_filter of the nodes' primary interface (default: 2, as the CNI's init container sets it).
    #[arg(long, value_name = "0|1|2", value_parser = clap::value_parser!(u8).range(0..=2))]
    rp_filter_primary: Option<u8>,
    /// Effective rp_filter of the nodes' secondary interfaces (default: unknown).
    #[arg(long, value_name = "0|1|2", value_parser = clap::value_parser!(u8).range(0..=2))]
    rp_filter_secondary: Option<u8>,
    /// A TCP port the verdicts are about, checked through every security group and network
    /// ACL both ways (repeatable: --port tcp/5432 --port tcp/443). Without it, a path is
    /// reachable when some TCP port gets through, and the paths name the ports that do.
    #[arg(long = "port", value_name = "tcp/N", value_parser = podreach_core::filters::parse_port)]
    ports: Vec<u16>,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Text,
    Json,
    /// OCSF 1.6 Detection Findings (class 2004), one JSON array: for Security Lake and SIEMs.
    Ocsf,
}

#[derive(Debug, Args, Default)]
struct AuditArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Include every per-ENI verdict.
    #[arg(long)]
    paths: bool,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    #[command(flatten)]
    lifecycle: lifecycle::LifecycleArgs,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The pod address (any secondary IP or address inside a delegated prefix of a node ENI).
    #[arg(long)]
    pod_ip: Ipv4Addr,
    /// The destination address beyond the VPC.
    #[arg(long)]
    to: Ipv4Addr,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct SnapshotArgs {
    #[command(flatten)]
    live: live::LiveArgs,
    /// Directory to create; it must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct LabArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The node (EC2 instance id) to reproduce; every node of every cluster when omitted.
    #[arg(long, value_name = "INSTANCE_ID")]
    node: Option<String>,
}

/// A `--cni-env` setting: `KEY=VALUE` where KEY is a variable podreach models. Any other key is
/// refused, because it could change nothing: a misspelled key would otherwise be ignored
/// silently and the audit would answer a question the user did not ask.
fn parse_cni_env(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    let known = podreach_core::cni::MODELLED;
    if known.contains(&key) {
        return Ok((key.to_owned(), value.to_owned()));
    }
    let nearest = known
        .iter()
        .map(|name| {
            (
                strsim::levenshtein(&key.to_ascii_uppercase(), &name.to_ascii_uppercase()),
                name,
            )
        })
        .min();
    match nearest {
        Some((distance, name)) if distance <= key.len().max(4) / 4 + 2 => Err(format!(
            "`{key}` is not a CNI variable podreach models; did you mean `{name}`?"
        )),
        _ => Err(format!(
            "`{key}` is not a CNI variable podreach models, so it could not change any verdict; \
             the modelled ones are {}",
            known.join(", ")
        )),
    }
}

impl InputArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            cni_version: self.cni_version,
            cni_env: self.cni_env.iter().cloned().collect::<BTreeMap<_, _>>(),
            rp_filter_primary: self.rp_filter_primary,
            rp_filter_secondary: self.rp_filter_secondary,
        }
    }

    /// The validated models, one per Region (one in all for a single snapshot or Region), with
    /// skipped files recorded as gaps (and warned about). Built by the libraries' one way in:
    /// `Collection::model` for a live collection (the same call the Lambda functions make, so
    /// `--with` dumps replace what the API gave, per document), `Model::new` for a snapshot. A
    /// Region that could not be collected is a model of nothing but that, so the report says it
    /// and the run is not a clean result.
    fn models(&self) -> Result<Vec<Model>> {
        let overrides = self.overrides();
        if self.live.live {
            let mut models = Vec::new();
            for region in self.live.collect()? {
                models.push(match region.collected {
                    Ok(collection) => {
                        let extra = snapshot::load_inputs(
                            region.extra.iter().map(|f| f as &dyn snapshot::Input),
                        );
                        warn_about(&extra.problems);
                        collection.model(extra, &overrides)
                    }
                    Err(error) => not_collected(region.region, &error),
                });
            }
            return Ok(models);
        }
        if self.snapshots.is_empty() {
            let loaded = snapshot::load(&demo::files());
            warn_about(&loaded.problems);
            return Ok(vec![Model::new(
                &loaded.documents,
                &loaded.problems,
                &overrides,
            )]);
        }
        let mut models: Vec<Model> = Vec::new();
        for dir in &self.snapshots {
            let files = snapshot_dir::read(dir, "")?;
            let loaded = snapshot::load_inputs(files.iter().map(|f| f as &dyn snapshot::Input));
            warn_about(&loaded.problems);
            let model = Model::new(&loaded.documents, &loaded.problems, &overrides);
            if let Some(same) = models.iter().position(|m| m.region == model.region) {
                bail!(
                    "--snapshot {} and --snapshot {} are both {}: give one snapshot per Region \
                     (a cluster's name and its findings are told apart by their Region)",
                    self.snapshots[same].display(),
                    dir.display(),
                    model.region.as_deref().map_or_else(
                        || "without a Region (no podreach-collection.json naming one)".to_owned(),
                        |r| format!("of Region {r}")
                    )
                );
            }
            models.push(model);
        }
        Ok(models)
    }

    /// What the verdicts are asked about: the `--port`s.
    fn question(&self, include_paths: bool) -> AnalyzeOptions {
        AnalyzeOptions {
            include_paths,
            tcp_ports: self.ports.clone(),
        }
    }
}

/// The model of a Region whose collection failed: no cluster, and why, so that the report names
/// the Region and the run never reads as clean.
fn not_collected(region: String, error: &anyhow::Error) -> Model {
    let reason = format!("Region {region} could not be collected: {error:#}");
    Model {
        gaps: vec![podreach_core::report::Gap {
            region: Some(region.clone()),
            cluster: None,
            file: None,
            object: None,
            message: reason.clone(),
        }],
        not_analysed: vec![podreach_core::report::NotAnalysed {
            region: Some(region.clone()),
            cluster: None,
            reason,
        }],
        region: Some(region),
        ..Model::default()
    }
}

/// Every problem of every file, in one run; the report lists them too.
fn warn_about(problems: &snapshot::InputProblems) {
    for (file, why) in &problems.skipped {
        eprintln!("warning: {file}: not used: {why}");
    }
    for error in &problems.unreadable {
        eprintln!("error: {error}");
    }
    for (file, why) in &problems.incomplete {
        eprintln!("warning: {file}: incomplete: {why}");
    }
}

fn print(text: &str) -> Result<()> {
    let mut out = anstream::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `podreach … | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

fn audit(args: &AuditArgs) -> Result<ExitCode> {
    let models = args.input.models()?;
    let question = args.input.question(false);
    let mut audits: Vec<Audit<'_>> = models
        .iter()
        .map(|model| podreach_core::run(model, &question))
        .collect();
    let reports = models
        .iter()
        .zip(&mut audits)
        .map(|(model, audit)| (model.region.as_deref(), &mut audit.report))
        .collect();
    let pending = args.lifecycle.apply(reports)?;
    let audit = Audit::merge(audits);
    let mut out = anstream::stdout().lock();
    let written = match args.format {
        Format::Json => render::json(&mut out, &audit, args.paths),
        Format::Ocsf => render::ocsf(&mut out, &audit.report),
        Format::Text => render::report(&mut out, &audit.report, args.paths.then_some(&audit)),
    }
    .and_then(|()| out.flush());
    match written {
        // `podreach … | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("writing to stdout")?,
    }
    // The state moves on only once the report is out.
    if let Some(pending) = pending {
        pending.write()?;
    }
    let report = &audit.report;
    let failed = args
        .fail_on
        .is_some_and(|threshold| report.max_severity().is_some_and(|s| s >= threshold));
    Ok(if failed {
        ExitCode::from(1)
    } else if !report.is_complete() {
        // Something got no verdicts, or an input a verdict depends on was not read: never the
        // exit status of a clean result.
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every Region's explanation of the address (VPCs of two Regions may use the same addresses);
/// an error only when no Region has it.
fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let models = args.input.models()?;
    let question = args.input.question(false);
    let mut explanations = Vec::new();
    let mut first_error = None;
    for model in &models {
        match podreach_core::explain(model, args.pod_ip, args.to, &question) {
            Ok(explanation) => explanations.push(explanation),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if explanations.is_empty()
        && let Some(error) = first_error
    {
        return Err(error.into());
    }
    match args.format {
        Format::Json | Format::Ocsf => {
            let paths: Vec<_> = explanations.iter().flat_map(|e| &e.paths).collect();
            print(&(serde_json::to_string_pretty(&paths)? + "\n"))?;
        }
        Format::Text => {
            for explanation in &explanations {
                print(&render::explanation(explanation))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ensure_new_dir(out: &std::path::Path) -> Result<()> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not empty; choose a new directory",
            out.display()
        );
    }
    Ok(())
}

fn demo_snapshot(out: &std::path::Path) -> Result<ExitCode> {
    ensure_new_dir(out)?;
    snapshot_dir::write(out, &demo::files())?;
    eprintln!(
        "wrote {} files to {}; audit them with: podreach audit --snapshot {}",
        demo::FILES.len(),
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn live_snapshot(args: &SnapshotArgs) -> Result<ExitCode> {
    if !args.live.live {
        bail!(
            "`podreach snapshot` needs --live (it collects from AWS); for the demo use `podreach demo-snapshot`"
        );
    }
    ensure_new_dir(&args.out)?;
    let regions = args.live.collect()?;
    let several = regions.len() > 1;
    let mut written = Vec::new();
    let mut failed = false;
    for region in regions {
        let Ok(collection) = region.collected else {
            // Named on stderr by the collection; the other Regions are still written.
            failed = true;
            continue;
        };
        let out = if several {
            args.out.join(&region.region)
        } else {
            args.out.clone()
        };
        let files = collection.source_files();
        snapshot_dir::write(&out, &files)?;
        snapshot_dir::copy(&out, &region.extra)?;
        eprintln!(
            "wrote {} files to {}",
            files.len() + region.extra.len(),
            out.display()
        );
        written.push(format!("--snapshot {}", out.display()));
    }
    eprintln!("audit them with: podreach audit {}", written.join(" "));
    // A Region that could not be collected is missing from the snapshot: not a clean result.
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn lab(args: &LabArgs) -> Result<ExitCode> {
    use podreach_lab::{DisagreementKind, LabOptions};
    let models = args.input.models()?;
    // The probes connect to one TCP port both ways; the model is asked about that port.
    let options = match args.input.ports.as_slice() {
        [] => LabOptions::default(),
        [port] => LabOptions {
            port: *port,
            ..LabOptions::default()
        },
        _ => bail!("the lab probes one TCP port: give --port once (default tcp/7000)"),
    };
    let question = AnalyzeOptions {
        include_paths: true,
        tcp_ports: vec![options.port],
    };
    // Each Region's model with its report, and the nodes asked for in it.
    let mut runs = Vec::new();
    for model in &models {
        let nodes: Vec<(&str, &str)> = model
            .clusters
            .iter()
            .flat_map(|c| {
                c.nodes
                    .iter()
                    .map(move |n| (c.name.as_str(), n.instance_id.as_str()))
            })
            .filter(|(_, id)| args.node.as_deref().is_none_or(|wanted| wanted == *id))
            .collect();
        if !nodes.is_empty() {
            runs.push((model, podreach_core::analyze(model, &question), nodes));
        }
    }
    if runs.is_empty() {
        bail!(
            "no node {} in the snapshot's clusters",
            args.node
                .as_deref()
                .map_or_else(|| "at all".to_owned(), |n| format!("`{n}`"))
        );
    }
    let mut disagreements = 0usize;
    for (model, report, nodes) in runs {
        for (cluster, instance) in nodes {
            let result = podreach_lab::run_node(model, cluster, instance, &options)
                .with_context(|| format!("lab for node {instance} of cluster {cluster}"))?;
            print(&podreach_lab::render(&result, &report))?;
            disagreements += podreach_lab::compare(&result, &report)
                .iter()
                .filter(|d| d.kind == DisagreementKind::VerdictDiffers)
                .count();
        }
    }
    if disagreements > 0 {
        eprintln!("{disagreements} verdict(s) differ between the kernel and the model");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None => audit(&AuditArgs::default()),
        Some(Command::Audit(args)) => audit(args),
        Some(Command::Explain(args)) => explain(args),
        Some(Command::DemoSnapshot { out }) => demo_snapshot(out),
        Some(Command::Snapshot(args)) => live_snapshot(args),
        Some(Command::Lab(args)) => lab(args),
        Some(Command::Org { command }) => org::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
