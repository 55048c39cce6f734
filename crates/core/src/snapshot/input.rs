//! The files of a snapshot as the caller hands them in ([`SourceFile`], [`Input`]), and how each
//! is opened: decoded into the UTF-8 text the JSON and YAML parsers read.
//!
//! The core never touches the file system, so a file is whatever the caller can open as a reader,
//! possibly more than once (the slow pass opens it again). Snapshot files are saved the way
//! command output is: gzipped (`aws … | gzip > enis.json.gz`), with a UTF-8 byte-order mark, or
//! as UTF-16 (what PowerShell's `>` writes). `open_decoded` undoes each of these from the first
//! bytes, so the readers see the same text whichever way the file was saved.

use std::io::{BufRead, Read};

use super::error::SnapshotError;

/// A file of the snapshot: its path relative to the snapshot root and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// A snapshot file the caller can open, possibly more than once: a file whose fast parse fails
/// is opened again to name the place of the error.
pub trait Input {
    /// The path relative to the snapshot root, `/`-separated.
    fn path(&self) -> &str;
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>>;
}

impl Input for SourceFile {
    fn path(&self) -> &str {
        &self.path
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.text.as_bytes()))
    }
}

/// The gzip magic number.
const GZIP: [u8; 2] = [0x1f, 0x8b];

/// Opens `input` decoded: gunzipped when it is gzip, without a UTF-8 byte-order mark. UTF-16
/// (what PowerShell's `>` writes) is decoded whole into UTF-8; it is never large. The caller
/// buffers the stream: the JSON parser reads byte by byte, and those reads must not each go
/// through a trait object.
pub(super) fn open_decoded(input: &dyn Input) -> Result<Box<dyn Read + '_>, SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io {
        file: input.path().to_owned(),
        message: e.to_string(),
    };
    let mut reader: Box<dyn std::io::BufRead> = Box::new(std::io::BufReader::with_capacity(
        1 << 16,
        input.open().map_err(io)?,
    ));
    if reader.fill_buf().map_err(io)?.starts_with(&GZIP) {
        reader = Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        ));
    }
    let head = reader.fill_buf().map_err(io)?;
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
    } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        let little = head[0] == 0xFF;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(io)?;
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|p| {
                if little {
                    u16::from_le_bytes([p[0], p[1]])
                } else {
                    u16::from_be_bytes([p[0], p[1]])
                }
            })
            .collect();
        let text = String::from_utf16(&units).map_err(|_| SnapshotError::Unreadable {
            file: input.path().to_owned(),
            cause: "it starts with a UTF-16 byte-order mark but is not valid UTF-16".to_owned(),
        })?;
        return Ok(Box::new(std::io::Cursor::new(text.into_bytes())));
    }
    Ok(reader)
}
