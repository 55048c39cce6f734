//! The demo's files as the seeder and the tests read them: the text of one file of
//! `crates/core/demo/`, or that file parsed as the type it holds.
//!
//! They come from `podreach_core::demo::FILES`, which embeds exactly those files, so a test
//! compares with the demo podreach ships rather than with a copy on disk. The readers the tests
//! call ([`demo_file_text`], [`parse_demo_file`]) fail the test with what is missing; the
//! seeder's (`demo`) returns the error instead, so a failed seeding names the file.

use serde::de::DeserializeOwned;

/// A demo file's text, from the demo embedded in podreach-core.
fn demo_text(path: &str) -> Result<&'static str, String> {
    podreach_core::demo::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
        .ok_or_else(|| format!("demo file {path} not found"))
}

pub(super) fn demo<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    serde_json::from_str(demo_text(path)?).map_err(|e| format!("demo file {path}: {e}"))
}

/// The text of the demo file `path` (`shop/pods.json`); fails the test if the demo has none.
pub fn demo_file_text(path: &str) -> &'static str {
    demo_text(path).expect("the demo has this file")
}

/// The demo file `path` parsed as `T`; fails the test if the demo has no such file or it does
/// not parse as `T`.
pub fn parse_demo_file<T: DeserializeOwned>(path: &str) -> T {
    demo(path).expect("the demo file exists and parses")
}
