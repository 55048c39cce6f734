//! Why a snapshot file could not be read: [`SnapshotError`], one variant per way a file fails,
//! each naming the file.
//!
//! The variants follow the stages of reading a file: it cannot be opened or read (`Io`), it is not
//! a document at all (`Unreadable`: an empty file, saved error text, the AWS CLI's text or table
//! output), it is not valid JSON (`Syntax`, with the line, the column and the JSON path), or it is
//! JSON of the wrong shape for the command it is the output of (`Shape`, with the path of the
//! field). A set of files is read whole before anything is reported (`load`), so these are values
//! collected with the other problems, and a caller that wants every file readable takes the first
//! (`Loaded::into_result`).

use thiserror::Error;

/// Why a snapshot file could not be read. Every variant names the file.
#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error(
        "{file}: not valid JSON at line {line}, column {column} (inside `{json_path}`): {message}"
    )]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        json_path: String,
        message: String,
    },
    #[error("{file}: cannot be read: {message}")]
    Io { file: String, message: String },
    /// Not a document at all, with the likely cause (an empty file, saved error text, the AWS
    /// CLI's text or table output).
    #[error("{file}: not read: {cause}")]
    Unreadable { file: String, cause: String },
    #[error("{file}: `{json_path}` in {command} output: {message}")]
    Shape {
        file: String,
        json_path: String,
        command: &'static str,
        message: String,
    },
}

impl SnapshotError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            SnapshotError::Syntax { file, .. }
            | SnapshotError::Io { file, .. }
            | SnapshotError::Unreadable { file, .. }
            | SnapshotError::Shape { file, .. } => file,
        }
    }
}
