//! Snapshot recognition and parsing: any bytes, as a file of a snapshot, never panic, and a file
//! that loads audits without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podreach_core::SourceFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line names the file (the layout decides a cluster's files by their directory),
    // the rest is its text.
    let (path, text) = text.split_once('\n').unwrap_or(("ec2/file.json", text));
    let files = [SourceFile {
        path: path.to_owned(),
        text: text.to_owned(),
    }];
    let _ = podreach_core::snapshot::load(&files);
});
