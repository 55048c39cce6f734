//! The one way in to the model: the documents of a snapshot (collected or read from files), the
//! problems met reading them, and what the user said on the command line, into a validated
//! [`Model`].
//!
//! The CLI, the Lambda functions, the tests and the benchmarks all build the model here, so none
//! can forget the files that could not be used: a skipped file becomes a gap (another tool's
//! output is no fault), and a file that could not be read or was cut short also makes the run
//! not a clean result, because what it held is missing from every verdict.

use super::build::Builder;
use super::{Model, Overrides};
use crate::problems::{Gap, NotAnalysed};
use crate::snapshot::{InputProblems, LoadedDocument};

impl Model {
    /// Validates `documents` into the model and records `problems`. Never fails: unresolvable
    /// objects become gaps, clusters that cannot be modelled are not analysed, with the reason.
    pub fn new<'a>(
        documents: impl IntoIterator<Item = &'a LoadedDocument>,
        problems: &InputProblems,
        overrides: &Overrides,
    ) -> Model {
        let mut builder = Builder::default();
        for doc in documents {
            builder.add(doc);
        }
        let mut model = builder.finish(overrides);
        model.fold_in(problems);
        model
    }

    /// [`Model::new`] for a snapshot whose files were all read (tests, examples, benchmarks).
    pub fn from_documents<'a>(
        documents: impl IntoIterator<Item = &'a LoadedDocument>,
        overrides: &Overrides,
    ) -> Model {
        Model::new(documents, &InputProblems::default(), overrides)
    }

    fn fold_in(&mut self, problems: &InputProblems) {
        let mut file_gap = |file: &str, message: String| {
            self.gaps.push(Gap {
                region: None,
                cluster: None,
                file: Some(file.to_owned()),
                object: None,
                message,
            });
        };
        for (file, why) in &problems.skipped {
            file_gap(file, format!("not used: {why}"));
        }
        let mut lost = Vec::new();
        for error in &problems.unreadable {
            let message = error.to_string();
            file_gap(error.file(), message.clone());
            lost.push(format!(
                "{message} (whatever it held is missing from this audit)"
            ));
        }
        for (file, why) in &problems.incomplete {
            let message = format!("{file}: incomplete: {why}");
            file_gap(file, message.clone());
            lost.push(message);
        }
        self.not_analysed
            .extend(lost.into_iter().map(|reason| NotAnalysed {
                region: None,
                cluster: None,
                reason,
            }));
    }
}
