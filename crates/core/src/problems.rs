//! What the input could not give: a [`Gap`] names an object that could not be used, a
//! [`NotAnalysed`] a cluster (or the whole run) that got no verdicts.
//!
//! They are found while the model is built and while it is analysed, and they are written into
//! the report as they are, so they live below both: the model must not depend on the report's
//! format to say what it could not read. `crate::report` re-exports them as part of its schema.

use serde::Serialize;

/// A cluster that got no verdicts, or (`cluster: None`) a run that found no cluster to audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAnalysed {
    pub cluster: Option<String>,
    pub reason: String,
}

/// Something that could not be analysed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub cluster: Option<String>,
    pub file: Option<String>,
    pub object: Option<String>,
    pub message: String,
}
