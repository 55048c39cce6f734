//! The suppression document (the SSM parameter users edit by hand): any text is a document or a
//! refusal naming the entry, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = podreach_core::suppressions::parse(text);
    }
});
