//! Loading a set of snapshot files: every file is read, and the outcome is the documents and
//! what could not be used.
//!
//! Reading never stops at a bad file ([`Loaded`]): one run names every problem, and what could be
//! read is audited. What could not be used ([`InputProblems`]: files skipped, unreadable, or cut
//! short by `NextToken`) travels with the documents, and the model folds it in. [`load`] takes
//! files held in memory; [`load_inputs`] takes [`Input`]s the caller opens as streams, so a large
//! snapshot need not fit in memory.

use super::document::Document;
use super::error::SnapshotError;
use super::input::{Input, SourceFile};
use super::read::read;
use super::recognised::Recognised;

/// A recognised document and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedDocument {
    pub path: String,
    pub document: Document,
}

/// The outcome of reading a set of files. Reading never stops at a bad file: every file is tried,
/// so one run names every problem, and what could be read is audited.
#[derive(Debug, Default)]
pub struct Loaded {
    pub documents: Vec<LoadedDocument>,
    /// What could not be used, which the model folds in (`Model::new`).
    pub problems: InputProblems,
}

impl Loaded {
    /// The documents, or the first file that could not be read: for callers (tests, tools) that
    /// want a snapshot to be wholly readable.
    pub fn into_result(mut self) -> Result<Loaded, SnapshotError> {
        if self.problems.unreadable.is_empty() {
            Ok(self)
        } else {
            Err(self.problems.unreadable.swap_remove(0))
        }
    }
}

/// The files of a snapshot that were not used, or used although incomplete.
#[derive(Debug, Default)]
pub struct InputProblems {
    /// Files that are not the output of a command podreach reads, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Files that should have been input but could not be read (each error names the file and
    /// the likely cause). What they held is missing from the audit.
    pub unreadable: Vec<SnapshotError>,
    /// Documents used although cut short (they carry `NextToken`), with the reason.
    pub incomplete: Vec<(String, String)>,
}

/// Reads every file (see [`Loaded`]).
pub fn load(files: &[SourceFile]) -> Loaded {
    load_inputs(files.iter().map(|f| f as &dyn Input))
}

/// [`load`] for files the caller opens as streams (a large snapshot need not fit in memory).
pub fn load_inputs<'a>(inputs: impl IntoIterator<Item = &'a dyn Input>) -> Loaded {
    let mut loaded = Loaded::default();
    for input in inputs {
        match read(input) {
            Ok(Recognised::Document(document, incomplete)) => {
                if let Some(why) = incomplete {
                    loaded
                        .problems
                        .incomplete
                        .push((input.path().to_owned(), why));
                }
                loaded.documents.push(LoadedDocument {
                    path: input.path().to_owned(),
                    document: *document,
                })
            }
            Ok(Recognised::Skip(why)) => {
                loaded.problems.skipped.push((input.path().to_owned(), why))
            }
            Ok(Recognised::Empty) => {}
            Err(error) => loaded.problems.unreadable.push(error),
        }
    }
    loaded
}
