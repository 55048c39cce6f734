//! The CNI's release facts are written once (`podreach_core::cni::facts`): the releases the model
//! tells apart are exactly those facts, and no other file of the core writes a version gate of
//! its own, so a correction to a fact cannot miss a copy.

use std::fs;
use std::path::{Path, PathBuf};

use podreach_core::cni::{Version, facts};

/// Every fact of `cni/facts.rs`, read from its source (`pub const NAME: Version =
/// Version::new(a, b, c);`), so a fact added there and forgotten in the list of releases fails.
fn facts() -> Vec<(String, Version)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cni/facts.rs");
    let text = fs::read_to_string(&path).expect("cni/facts.rs can be read");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": Version = Version::new(")?;
            let numbers: Vec<u32> = value
                .trim_end_matches(");")
                .split(", ")
                .map(|n| n.parse().expect("a version number"))
                .collect();
            let [major, minor, patch] = numbers[..] else {
                return None;
            };
            Some((name.to_owned(), Version::new(major, minor, patch)))
        })
        .collect()
}

#[test]
fn the_releases_modelled_are_the_facts_oldest_first_then_the_newest_specified() {
    let (newest, rest) = Version::RELEASES_MODELLED
        .split_last()
        .expect("the list is not empty");
    assert_eq!(*newest, Version::NEWEST_SPECIFIED);
    let facts = facts();
    assert!(facts.len() > 10, "the facts were not read: {facts:?}");
    // Every fact is a release the model tells apart, and every such release is a fact.
    let mut from_facts: Vec<Version> = facts.iter().map(|(_, v)| *v).collect();
    from_facts.sort();
    from_facts.dedup();
    assert_eq!(rest, from_facts.as_slice(), "{facts:?}");
    assert_eq!(facts::PER_POD_ENI_RULE, Version::new(1, 8, 0));
    assert!(
        Version::RELEASES_MODELLED.windows(2).all(|w| w[0] < w[1]),
        "not strictly ascending: {:?}",
        Version::RELEASES_MODELLED
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("the core's source can be listed") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file before its unit tests (which may build any version they test with).
fn code_of(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |end| &text[..end])
}

#[test]
fn no_version_gate_is_written_outside_the_facts_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "the walk found {} files", files.len());
    // Where a version may be written: the table, the type itself, and the first release of all.
    let allowed = |path: &Path, line: &str| {
        path.ends_with("cni/facts.rs")
            || path.ends_with("cni/version.rs")
            || line.contains("Version::new(1, 0, 0)")
    };
    let mut written = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).expect("a source file can be read");
        for (number, line) in code_of(&text).lines().enumerate() {
            if line.contains("Version::new(") && !allowed(path, line) {
                written.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        written.is_empty(),
        "versions written outside cni/facts.rs (name the fact there and use it):\n{}",
        written.join("\n")
    );
}
