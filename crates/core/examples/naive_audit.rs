//! The naive baseline of the benchmark: `naive_audit DIR` reads a snapshot directory like
//! `podreach audit --snapshot DIR` does, then traces every pod address × every destination block
//! × both directions one at a time (`podreach_core::analysis::baseline`), with no ENI classes and
//! no destination classes, and prints the verdict counts. With `--sample N` it traces only every
//! Nth pod address and says so, for sizes where the full run would take hours.

use std::path::PathBuf;
use std::time::Instant;

use podreach_core::analysis::baseline;
use podreach_core::report::Verdict;
use podreach_core::snapshot::{self, Input};
use podreach_core::{Model, Overrides};

#[path = "support/disk.rs"]
mod disk;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: naive_audit DIR [--sample N]")?);
    let sample: usize = match (args.next().as_deref(), args.next()) {
        (Some("--sample"), Some(n)) => n.parse()?,
        _ => 1,
    };
    let started = Instant::now();
    let inputs = disk::files(&dir)?;
    let loaded = snapshot::load_inputs(inputs.iter().map(|f| f as &dyn Input)).into_result()?;
    let model = Model::from_documents(&loaded.documents, &Overrides::default());
    let mut traced = 0u64;
    let mut addresses = std::collections::BTreeSet::new();
    let mut counts = [0u64; 3];
    baseline::naive(&model, &[], sample, |v| {
        traced += 1;
        addresses.insert(v.address);
        counts[match v.evaluation.verdict {
            Verdict::Reachable => 0,
            Verdict::Unreachable => 1,
            Verdict::Unknown => 2,
        }] += 1;
    });
    let seen = addresses.len();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "naive: {traced} verdicts ({} reachable, {} unreachable, {} unknown) for {seen} pod addresses (1 in {sample}) in {:.2} s",
            counts[0],
            counts[1],
            counts[2],
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
