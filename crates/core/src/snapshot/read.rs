//! Reading one snapshot file: the fast pass first, the slow pass when it does not answer, and the
//! diagnosis of a file that is not a document at all.
//!
//! A file is opened decoded (`input`) and, when it starts like JSON, parsed in one pass into the
//! typed shapes (`fast`). When that pass fails or does not answer, the file is read whole again
//! for the slow pass (`recognise`), which names the place of any error. A file that does not
//! start like JSON is either what a failed command or the wrong `--output` printed
//! (`not_json_output`, from the AWS CLI's and kubectl's error texts and the CLI's text and table
//! layouts) or YAML, which is parsed into a JSON value and recognised the same way. Every pass
//! answers with a [`Recognised`].

use std::io::{BufRead, Read};

use serde_json::Value;

use super::error::SnapshotError;
use super::fast::Fast;
use super::input::{Input, SourceFile, open_decoded};
use super::recognise::{recognise, recognise_value};
use super::recognised::Recognised;

/// One pass into the typed shape; on any failure, the slow pass that names the place.
pub(super) fn read(input: &dyn Input) -> Result<Recognised, SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io {
        file: input.path().to_owned(),
        message: e.to_string(),
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, open_decoded(input)?);
    let first = reader
        .fill_buf()
        .map_err(io)?
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        if let Ok(fast) = serde_json::from_reader::<_, Fast>(reader)
            && let Some(recognised) = fast.recognise()
        {
            return Ok(recognised);
        }
    } else {
        drop(reader);
    }
    let mut bytes = Vec::new();
    open_decoded(input)?.read_to_end(&mut bytes).map_err(io)?;
    let file = input.path();
    let unreadable = |cause: String| SnapshotError::Unreadable {
        file: file.to_owned(),
        cause,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unreadable(if bytes.is_empty() {
            "the file is empty (0 bytes): the command that wrote it probably failed; \
             rerun it and keep its output only when it succeeds"
                .to_owned()
        } else {
            "the file holds only white space: the command that wrote it probably failed".to_owned()
        }));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Recognised::Skip(
            "binary content: not JSON or YAML text".to_owned(),
        ));
    };
    if matches!(first, Some(b'{' | b'[')) {
        return recognise(&SourceFile {
            path: file.to_owned(),
            text,
        });
    }
    if let Some(cause) = not_json_output(&text) {
        return Err(unreadable(cause));
    }
    let value: Value = match serde_yaml_ng::from_str(&text) {
        Ok(value) => value,
        Err(error) => {
            return Ok(Recognised::Skip(format!(
                "neither JSON nor YAML ({})",
                error.to_string().lines().next().unwrap_or_default()
            )));
        }
    };
    recognise_value(file, value)
}

/// The likely cause when `text` (which is not JSON) is what a failed command or the wrong
/// `--output` printed, rather than a document: error text saved with `2>&1`, or the AWS CLI's
/// text and table formats.
fn not_json_output(text: &str) -> Option<String> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let shown: String = first.chars().take(160).collect();
    const FAILED: &[&str] = &[
        "An error occurred (",
        "aws: error:",
        "usage: aws",
        "Unable to locate credentials",
        "Could not connect to the endpoint URL",
        "You must specify a region",
        "Parameter validation failed",
        "Error from server",
        "error: ",
        "Error: ",
        "The connection to the server",
        "Unable to connect to the server",
    ];
    if FAILED.iter().any(|p| first.starts_with(p)) || text.contains("\nAn error occurred (") {
        return Some(format!(
            "it holds an error message, not the command's output (`{shown}`): the command \
             failed; fix it and rerun"
        ));
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let table = first.starts_with("---") && lines.any(|l| l.trim_start().starts_with('|'));
    if table {
        return Some(
            "AWS CLI `--output table` output: podreach reads `--output json`; rerun the command \
             with --output json"
                .to_owned(),
        );
    }
    let word = first.split('\t').next().unwrap_or_default();
    if first.contains('\t') && !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase()) {
        return Some(
            "AWS CLI `--output text` output: podreach reads `--output json`; rerun the command \
             with --output json"
                .to_owned(),
        );
    }
    None
}
