//! Recognises snapshot files by their content and parses them into raw documents.
//!
//! A snapshot is a set of unmodified `aws … describe-*` and `kubectl get … -o json` outputs. File
//! names carry no meaning: each file is identified by its top-level key (`Vpcs`, `RouteTables`,
//! `cluster`, …) or its Kubernetes `kind`. A snapshot of a 5,000-node cluster is ~440 MB of
//! JSON, so the common case is one pass straight into the typed shapes (`fast::Fast`): no
//! JSON value tree is built (a Kubernetes list item is held as a value only while it is
//! converted), and a file can be read from a stream instead of from memory ([`Input`]). Only when
//! that pass fails is the file read again the slow way, to name the exact place: first into a
//! JSON value with the path tracked (a truncated or malformed file reports
//! `NetworkInterfaces[3].PrivateIpAddresses`), then into its typed shape with the path tracked
//! again (a wrong type reports the field). The core never touches the file system: callers hand
//! in `(path, text)` pairs or [`Input`]s that open a reader, so the same code serves the CLI,
//! tests and Lambda.
//!
//! Split by job: `input` (the files handed in, opened decoded: gzip, byte-order marks, UTF-16),
//! `read` (one file: the fast pass, the slow pass, text that is not a document at all), `fast`
//! (the one-pass reader), `recognise` (the slow pass: recognition by top-level key or `kind`, with
//! the place of each error), `document` ([`Document`]: the kinds of document and how each is
//! written back), `error` ([`SnapshotError`]) and `loading` ([`load`], [`load_inputs`], [`Loaded`]:
//! every file of a set, and what could not be used). Every public item is re-exported here.

mod document;
mod error;
mod fast;
mod input;
mod loading;
mod read;
mod recognise;
mod recognised;

pub use document::Document;
pub use error::SnapshotError;
pub use input::{Input, SourceFile};
pub use loading::{InputProblems, Loaded, LoadedDocument, load, load_inputs};

/// A snapshot file for the readers' unit tests.
#[cfg(test)]
fn test_file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.into(),
        text: text.into(),
    }
}
