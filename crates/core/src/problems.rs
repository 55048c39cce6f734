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
    /// The AWS Region of the collection this comes from, when known (a live collection, or a
    /// snapshot it wrote): one run may cover several Regions (`--region` repeated, `REGIONS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub reason: String,
}

/// Something that could not be analysed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The AWS Region, as for [`NotAnalysed::region`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub file: Option<String>,
    pub object: Option<String>,
    pub message: String,
}
