//! Makes an I/O dependency of `podreach-core` a compile error.
//!
//! The core must stay pure and synchronous: no async runtime, no AWS SDK, no Lambda runtime.
//! Cargo has no "forbidden dependency" switch, so this script walks the dependency closure of
//! `podreach-core` in the committed `Cargo.lock` (which lists every resolved edge) and fails the
//! build when a forbidden crate is reachable, naming the chain that leads to it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

const FORBIDDEN_PREFIXES: &[&str] = &[
    "tokio", "aws-", "aws_", "lambda_", "lambda-", "hyper", "reqwest",
];

fn main() {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo::rerun-if-changed={}", lock_path.display());
    let Ok(text) = std::fs::read_to_string(&lock_path) else {
        // A crates.io consumer of podreach-core has no workspace lock; nothing to check there.
        return;
    };
    let lock: toml::Table = match text.parse() {
        Ok(lock) => lock,
        Err(error) => {
            println!("cargo::error=Cargo.lock is not valid TOML: {error}");
            return;
        }
    };
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in lock
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let Some(name) = package.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let deps = package
            .get("dependencies")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .map(|d| d.split(' ').next().unwrap_or(d).to_owned());
        edges.entry(name.to_owned()).or_default().extend(deps);
    }
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::from(["podreach-core".to_owned()]);
    let mut queue = VecDeque::from(["podreach-core".to_owned()]);
    while let Some(name) = queue.pop_front() {
        if FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p)) {
            let mut chain = vec![name.clone()];
            let mut at = &name;
            while let Some(up) = parent.get(at) {
                chain.push(up.clone());
                at = up;
            }
            chain.reverse();
            println!(
                "cargo::error=podreach-core must stay pure and synchronous, but it now depends on `{name}` ({}). \
                 Put I/O in podreach-aws or a binary instead.",
                chain.join(" -> ")
            );
            return;
        }
        for dep in edges.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                parent.insert(dep.clone(), name.clone());
                queue.push_back(dep.clone());
            }
        }
    }
}
