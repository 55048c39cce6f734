//! `--state FILE` and `--suppressions FILE`: the functions' finding lifecycle, on a local file.
//!
//! The state file is a [`MemoryStore`] read from and written to JSON (`podreach/state/v1`), and
//! the findings are tracked by `podreach_aws::lifecycle::track`, the code the functions run on
//! their DynamoDB table: what the CLI marks NEW, CHANGED, ONGOING, RESOLVED or SUPPRESSED is what
//! the functions would publish. A missing file is an empty state, an unreadable one is an error
//! naming it (a lost state would announce every finding as new). The file is replaced only after
//! the report was written, through a temporary file and a rename, so an interrupted run never
//! leaves half a state. A run over several Regions keeps each Region's records apart in the
//! one file (a cluster's name is unique only within its Region).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use podreach_aws::lifecycle::{Inputs, track};
use podreach_aws::state::{Clusters, MemoryStore, Partition};
use podreach_core::Report;
use podreach_core::lifecycle::{self, FindingState, Policy};
use podreach_core::org::TargetState;
use podreach_core::report::LifecycleEntry;
use podreach_core::suppressions;
use serde::{Deserialize, Serialize};

#[derive(Debug, Args, Default)]
pub struct LifecycleArgs {
    /// Keep the findings' lifecycle in this JSON file (created when missing): the report marks
    /// each finding NEW, CHANGED, ONGOING, RESOLVED or SUPPRESSED, as the functions publish them.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Suppressions (JSON, see README): matching findings are marked SUPPRESSED with the reason.
    #[arg(long, value_name = "FILE")]
    pub suppressions: Option<PathBuf>,
}

/// The state to write once the report is out.
pub struct Pending {
    path: PathBuf,
    state: StateFile,
}

/// The `--state` file: [`State`]'s JSON (`schema`, `findings`), plus the Region its findings
/// belong to and, for a run over several Regions, each Region's own records. A file written
/// before Regions were named (no `region`) is read as the records of whichever single Region
/// the next run audits.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    findings: Vec<FindingState>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    regions: BTreeMap<String, Vec<FindingState>>,
    /// `podreach org audit`: each account × Region's blind-spot record
    /// (`podreach_core::org::TargetState`), so a target that cannot be audited is announced
    /// once and resolved when it is audited again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    targets: Vec<TargetState>,
}

/// Each Region's records (`None`: a snapshot that names no Region).
type Records = BTreeMap<Option<String>, Vec<FindingState>>;

impl StateFile {
    fn into_records(self) -> Records {
        let mut records: Records = self
            .regions
            .into_iter()
            .map(|(region, findings)| (Some(region), findings))
            .collect();
        if !self.findings.is_empty() {
            records.insert(self.region, self.findings);
        }
        records
    }

    fn from_records(mut records: Records) -> StateFile {
        let mut file = StateFile {
            schema: lifecycle::STATE_SCHEMA.to_owned(),
            ..StateFile::default()
        };
        if records.len() == 1
            && let Some((region, findings)) = records.pop_first()
        {
            file.region = region;
            file.findings = findings;
            return file;
        }
        for (region, findings) in records {
            match region {
                Some(region) => {
                    file.regions.insert(region, findings);
                }
                None => file.findings = findings,
            }
        }
        file
    }
}

/// The records of `region`; in a run over one Region, an earlier run's records that named no
/// Region are taken for its own.
fn take(records: &mut Records, region: Option<&str>, single: bool) -> Vec<FindingState> {
    let key = region.map(str::to_owned);
    if let Some(found) = records.remove(&key) {
        return found;
    }
    if single && key.is_some() {
        return records.remove(&None).unwrap_or_default();
    }
    Vec::new()
}

impl LifecycleArgs {
    /// Reconciles each Region's report with the stored state of that Region; records the
    /// transitions in the reports.
    pub fn apply(&self, reports: Vec<(Option<&str>, &mut Report)>) -> Result<Option<Pending>> {
        let rules = match &self.suppressions {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --suppressions {}", path.display()))?;
                suppressions::parse(&text).with_context(|| {
                    format!("--suppressions {}: nothing is suppressed", path.display())
                })?
            }
            None => Vec::new(),
        };
        let Some(path) = &self.state else {
            if !rules.is_empty() {
                bail!("--suppressions needs --state: suppressions act on the findings' lifecycle");
            }
            return Ok(None);
        };
        let mut file = read_state(path)?;
        let targets = std::mem::take(&mut file.targets);
        let mut records = file.into_records();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .context("starting the state's runtime")?;
        let single = reports.len() <= 1;
        for (region, report) in reports {
            let previous = take(&mut records, region, single);
            let at = local(region);
            let store = MemoryStore::with(&at, previous, None);
            let complete = lifecycle::fully_audited(report);
            let inputs = Inputs {
                clusters: Clusters::All,
                complete: &complete,
                existing: None,
                missing: &BTreeSet::new(),
                suppressions: &rules,
                now,
                policy: Policy::default(),
            };
            let entries = runtime
                .block_on(track(&store, &at, report, inputs))
                .with_context(|| format!("--state {}", path.display()))?
                .changes
                .iter()
                .map(|c| LifecycleEntry {
                    region: region.map(str::to_owned),
                    ..c.transition.entry()
                })
                .collect();
            report.lifecycle = Some(entries);
            let (findings, _) = store.snapshot(&at);
            records.insert(region.map(str::to_owned), findings);
        }
        let mut state = StateFile::from_records(records);
        state.targets = targets;
        Ok(Some(Pending {
            path: path.clone(),
            state,
        }))
    }
}

/// The partition of a local state file: one per Region.
fn local(region: Option<&str>) -> Partition {
    Partition {
        account: "local".to_owned(),
        region: region.unwrap_or("local").to_owned(),
    }
}

fn read_state(path: &Path) -> Result<StateFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let state: StateFile = serde_json::from_str(&text).with_context(|| {
                format!(
                    "--state {}: not a podreach state file (fix or remove it; a lost state announces every finding as new)",
                    path.display()
                )
            })?;
            if state.schema != lifecycle::STATE_SCHEMA {
                bail!(
                    "--state {}: schema `{}`, expected `{}`",
                    path.display(),
                    state.schema,
                    lifecycle::STATE_SCHEMA
                );
            }
            Ok(state)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(StateFile::from_records(Records::new()))
        }
        Err(e) => Err(e).with_context(|| format!("reading --state {}", path.display())),
    }
}

impl Pending {
    /// The blind-spot records of the last organization run.
    pub fn targets(&self) -> &[TargetState] {
        &self.state.targets
    }

    /// The findings' records of one partition (a Region, or `<account>/<region>` in an
    /// organization run) after this run.
    pub fn records(&self, key: &str) -> &[FindingState] {
        if self.state.region.as_deref() == Some(key) {
            return &self.state.findings;
        }
        self.state.regions.get(key).map_or(&[], Vec::as_slice)
    }

    /// The blind-spot records this run leaves.
    pub fn set_targets(&mut self, targets: Vec<TargetState>) {
        self.state.targets = targets;
    }

    /// Replaces the state file (temporary file, then rename).
    pub fn write(self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.state)? + "\n";
        let temporary = self.path.with_extension("tmp");
        std::fs::write(&temporary, text)
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))
    }
}
