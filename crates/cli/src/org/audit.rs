//! `podreach org audit`: every target of the plan collected through the member role in its
//! account and audited with the same code as `podreach audit --live`, each in its own task, side
//! by side within a cap in all and per account (so at most that many collections are in memory). A target that could not be collected is a blind
//! spot with its reason and remedy, and never hides the others; the first line says how many of
//! the planned targets were audited, and the exit status is 3 unless all were, completely.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use podreach_aws::org::{Caps, TargetSession, collect_target, run_targets};
use podreach_aws::{Collection, CollectorSettings, MemberRole};
use podreach_core::org::{Blocker, Target, TargetOutcome};
use podreach_core::report::Severity;
use podreach_core::{AnalyzeOptions, Overrides, snapshot};

use super::outcome::{Audited, Outcome};
use super::{PlanFormat, SelectArgs};
use crate::live::KubeArg;

#[derive(Debug, Args)]
pub struct OrgAuditArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// The read-only role in every member account (infra/member.yaml's MemberRoleName).
    #[arg(long, value_name = "NAME")]
    member_role: String,
    /// The external id the member role's trust policy asks for.
    #[arg(long, value_name = "ID")]
    external_id: Option<String>,
    /// Targets collected at once, in all.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Targets collected at once in any one account (its EC2 request budget is shared with the
    /// VPC CNI on every node of its clusters).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    account_concurrency: u16,
    /// Read each cluster's Kubernetes API with an EKS token of the member role (`auto`; the
    /// role needs an access entry in each cluster), or not at all (`off`: the reports say what
    /// that leaves unseen).
    #[arg(long, value_enum, value_name = "auto|off", default_value_t = KubeArg::Auto)]
    kube: KubeArg,
    /// A TCP port the verdicts are about (repeatable), as for `podreach audit`.
    #[arg(long = "port", value_name = "tcp/N", value_parser = podreach_core::filters::parse_port)]
    ports: Vec<u16>,
    /// Exit 1 when a finding at or above this severity exists in any target.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Output format: text or json.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// `--state FILE` keeps each account × Region's findings' lifecycle and its blind spot
    /// between runs: a target that cannot be audited is ACCOUNT_UNREACHABLE NEW once, CHANGED
    /// when its reason changes, RESOLVED when it is audited again or no longer planned.
    #[command(flatten)]
    lifecycle: crate::lifecycle::LifecycleArgs,
    /// Import each target's findings into Security Hub of its account and Region, through the
    /// member role (as that account's default product; with --state, resolved findings PASSED).
    #[arg(long)]
    security_hub: bool,
}

pub(super) fn run(args: &OrgAuditArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (plan, names, audited) = runtime.block_on(async {
        let (plan, names) = args.select.plan().await?;
        let audited = audit_targets(args, &plan.targets).await;
        anyhow::Ok((plan, names, audited))
    })?;
    let mut results: Vec<(Target, Outcome)> = audited
        .into_iter()
        .map(|(target, result)| {
            let outcome = match result {
                Ok(Ok(audited)) => Outcome::Audited(audited),
                Ok(Err((blocker, error))) => Outcome::Blind { blocker, error },
                Err(error) => Outcome::Blind {
                    blocker: Blocker::Failed {
                        action: "podreach".to_owned(),
                    },
                    error,
                },
            };
            (target, outcome)
        })
        .collect();
    // The findings' lifecycle, each target's records apart (`<account>/<region>`).
    let keys: Vec<String> = results.iter().map(|(t, _)| t.key()).collect();
    let reports = results
        .iter_mut()
        .zip(&keys)
        .filter_map(|((_, outcome), key)| match outcome {
            Outcome::Audited(a) => Some((Some(key.as_str()), &mut a.report)),
            Outcome::Blind { .. } => None,
        })
        .collect();
    let mut pending = args.lifecycle.apply(reports)?;
    let imported = if args.security_hub {
        runtime.block_on(super::security_hub::import(
            &results,
            pending.as_ref(),
            now(),
        ))
    } else {
        BTreeMap::new()
    };
    let outcomes = results
        .iter()
        .map(|(t, o)| {
            let outcome = match o {
                Outcome::Audited(a) => TargetOutcome::Audited {
                    clusters: a.report.clusters.len(),
                },
                Outcome::Blind { blocker, error } => TargetOutcome::Blind {
                    blocker: blocker.clone(),
                    error: error.clone(),
                },
            };
            (t.clone(), outcome)
        })
        .collect();
    // Without --state a run keeps nothing: its coverage is its own, and it announces nothing.
    let previous = pending.as_ref().map_or(&[][..], |p| p.targets());
    let (states, changes, coverage) =
        podreach_core::org::coverage(&plan.targets, &outcomes, previous, now());
    let changes = if pending.is_some() {
        changes
    } else {
        Vec::new()
    };
    let text = match args.format {
        PlanFormat::Json => {
            super::report::json(&results, &names, &coverage, &plan, &changes, &imported)?
        }
        PlanFormat::Text => super::report::text(&results, &names, &coverage, &changes, &imported)?,
    };
    crate::print(&text)?;
    // The state moves on only once the report is out.
    if let Some(mut pending) = pending.take() {
        pending.set_targets(states);
        pending.write()?;
    }
    let reports = results.iter().filter_map(|(_, o)| match o {
        Outcome::Audited(a) => Some(&a.report),
        Outcome::Blind { .. } => None,
    });
    // Findings Security Hub did not get are something the run could not do.
    let mut complete = coverage.complete()
        && imported
            .values()
            .all(|i| i.failures.is_empty() && i.refused.is_empty());
    let mut failed = false;
    for report in reports {
        complete &= report.is_complete();
        failed |= args
            .fail_on
            .is_some_and(|threshold| report.max_severity().is_some_and(|s| s >= threshold));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else if !complete {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

type AuditedTargets = Vec<(
    Target,
    Result<Result<Box<Audited>, (Blocker, String)>, String>,
)>;

/// Every target collected and audited in its own task, side by side within the caps. Each task
/// keeps only the report of its target: at most `--concurrency` collections are in memory at
/// once, whatever the size of the organization.
async fn audit_targets(args: &OrgAuditArgs, targets: &[Target]) -> AuditedTargets {
    let base = Arc::new(podreach_aws::load_config(None).await);
    let role = Arc::new(MemberRole {
        name: args.member_role.clone(),
        external_id: args.external_id.clone(),
    });
    let settings = Arc::new(CollectorSettings {
        kubernetes: match args.kube {
            KubeArg::Auto => podreach_aws::kube::KubeMode::Eks,
            KubeArg::Off => podreach_aws::kube::KubeMode::Off,
        },
        runner: podreach_aws::kube::Runner::Cli,
        // A far side in a third account is read through the same role.
        member_role: Some((*role).clone()),
        ..CollectorSettings::default()
    });
    let question = Arc::new(AnalyzeOptions {
        include_paths: false,
        tcp_ports: args.ports.clone(),
    });
    let caps = Caps {
        total: usize::from(args.concurrency),
        per_account: usize::from(args.account_concurrency),
    };
    eprintln!(
        "auditing {} targets, {} at once ({} per account)",
        targets.len(),
        caps.total,
        caps.per_account
    );
    run_targets(targets, caps, move |target: Target| {
        let (base, role, settings, question) = (
            base.clone(),
            role.clone(),
            settings.clone(),
            question.clone(),
        );
        async move {
            let (collection, session) = collect_target(&base, &target, &role, &settings).await?;
            // The analysis is CPU work: off the runtime's threads, which keep collecting.
            tokio::task::spawn_blocking(move || Box::new(audit(&collection, session, &question)))
                .await
                .map_err(|e| {
                    (
                        Blocker::Failed {
                            action: "podreach".to_owned(),
                        },
                        format!("the audit of {} stopped abnormally: {e}", target.key()),
                    )
                })
        }
    })
    .await
}

/// One collected target's report, with the session in its account and what EKS said of its
/// clusters.
fn audit(collection: &Collection, session: TargetSession, question: &AnalyzeOptions) -> Audited {
    let model = collection.model(snapshot::Loaded::default(), &Overrides::default());
    Audited {
        report: podreach_core::run(&model, question).report,
        session,
        listing: collection.listing(),
    }
}

pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
