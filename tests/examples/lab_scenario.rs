//! Shows one generated scenario: the model's per-ENI verdicts, and optionally the lab's
//! configuration (`--plan`) and a lab run side by side with the model (`--run`, needs root).
//!
//! `cargo run -p podreach-tests --example lab_scenario -- 51 --run`
//!
//! A debugging aid for the differential test: scenario numbers match its failure messages.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its output

use std::process::ExitCode;

use podreach_tests::scenario::{self, CLUSTER, INSTANCE};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(n) = args.first().and_then(|a| a.parse::<usize>().ok()) else {
        eprintln!("usage: lab_scenario <scenario number> [--plan] [--run]");
        return ExitCode::FAILURE;
    };
    let Some(s) = scenario::generate(n + 1).pop() else {
        return ExitCode::FAILURE;
    };
    println!("scenario {s}");
    let loaded = match podreach_core::snapshot::load(&s.files()).into_result() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let model = podreach_core::Model::from_documents(&loaded.documents, &s.overrides());
    for gap in &model.gaps {
        println!("gap: {}", gap.message);
    }
    let report = podreach_core::analyze(&model, &s.question());
    for p in report.paths.iter().flatten() {
        println!(
            "model: {} {} {} {:?} {:?}",
            p.eni_id,
            p.destination,
            p.direction.as_str(),
            p.verdict,
            p.cause
        );
    }
    if args.iter().any(|a| a == "--plan") {
        match podreach_lab::describe_node(&model, CLUSTER, INSTANCE) {
            Ok(plan) => println!("{plan}"),
            Err(e) => eprintln!("{e}"),
        }
    }
    if args.iter().any(|a| a == "--run") {
        match podreach_lab::run_node(
            &model,
            CLUSTER,
            INSTANCE,
            &podreach_lab::LabOptions::default(),
        ) {
            Ok(result) => println!("{}", podreach_lab::render(&result, &report)),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
