//! Every `§` citation must name a section that docs/datapath.md really has, in the spirit of duvet
//! for s2n-quic. The code, its comments and the report texts (string literals in the source) cite
//! the spec by section number (`§5.4a`, `§10.8`, `§11.1 item 9`); a renamed, merged or mistyped
//! section would otherwise leave a reader, or a user reading a report, at a dead end. Sections are
//! the spec's `## N. Title` and `### N.M Title` headings (`N.Ma` too); the `item 9` after a
//! citation is not part of the section id. Citations of the external reference specification
//! (`shared/design/datapath.md`) inside the spec are excluded by the rule of `cites_the_reference`.

use std::fs;
use std::path::{Path, PathBuf};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const SPEC: &str = "docs/datapath.md";
/// Directories whose `.rs` files are checked (`target` and hidden directories skipped), and the
/// Markdown files checked besides the spec itself.
const SOURCE_ROOTS: [&str; 3] = ["crates", "functions", "tests"];
const OTHER_DOCS: [&str; 1] = ["README.md"];

/// In the spec, a citation of the reference's own numbering is written with one of these words
/// immediately before the `§`, separated from it by whitespace only, e.g. "The reference's §3"
/// or, right after the reference is named, "its §5.2". In the spec "its §" never points back at
/// the spec itself. A parenthesis or any other character in between ends the rule: "replace the
/// reference's (§5.5)" cites the spec's own §5.5.
const REFERENCE_MARKERS: [&str; 3] = ["its", "reference's", "reference"];

/// Citations of the reference that carry no marker: (the text that ends right before the `§`,
/// whitespace collapsed and lower-cased; the section; why it is the reference's).
const REFERENCE_EXCEPTIONS: [(&str, &str, &str); 3] = [
    (
        "datapath.md` has no",
        "5.7",
        "spec section 5.7 says the reference has no section 5.7 (the section podreach added)",
    ),
    (
        "entries\" (",
        "3",
        "spec section 11.1 item 1 locates the reference's quoted parseCIDRString claim in its own sections",
    ),
    (
        "entries\" (\u{a7}3,",
        "9",
        "spec section 11.1 item 1, the second section of the same parenthesis",
    ),
];

/// A `§` citation: the section id it names, the byte offset of its `§`, its 1-based line.
struct Citation {
    section: String,
    offset: usize,
    line: usize,
}

/// Reads a section id (`5`, `5.4`, `5.4a`, `10.10`) at the start of `text`; returns it and the
/// bytes it takes. A dot counts only when a digit follows (`§5.` ends a sentence); a letter only
/// when no letter or digit follows it.
fn section_id(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut end = digits(0);
    if end == 0 {
        return None;
    }
    while bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end += 1 + digits(end + 1);
    }
    if bytes.get(end).is_some_and(u8::is_ascii_lowercase)
        && !bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric)
    {
        end += 1;
    }
    Some((text[..end].to_owned(), end))
}

/// The sections `spec` defines, in document order; headings inside ``` fences do not count.
fn headings(spec: &str) -> Vec<String> {
    let mut fenced = false;
    let mut sections = Vec::new();
    for line in spec.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let title = line
            .strip_prefix("## ")
            .or_else(|| line.strip_prefix("### "));
        let Some(token) = title
            .filter(|_| !fenced)
            .and_then(|t| t.split_whitespace().next())
        else {
            continue;
        };
        let token = token.strip_suffix('.').unwrap_or(token);
        if let Some((id, len)) = section_id(token).filter(|(_, len)| *len == token.len()) {
            debug_assert_eq!(len, token.len());
            sections.push(id);
        }
    }
    sections
}

fn citations(text: &str) -> Vec<Citation> {
    text.match_indices('\u{a7}')
        .filter_map(|(offset, sign)| {
            let (section, _) = section_id(&text[offset + sign.len()..])?;
            let line = text[..offset].matches('\n').count() + 1;
            Some(Citation {
                section,
                offset,
                line,
            })
        })
        .collect()
}

/// The (up to 80) characters before a citation, whitespace collapsed and lower-cased.
fn context_before(text: &str, offset: usize) -> String {
    let start = text[..offset]
        .char_indices()
        .rev()
        .nth(79)
        .map_or(0, |(i, _)| i);
    text[start..offset]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The spec's rule for citations of the reference: a marker word right before the `§`, or one of
/// the listed exceptions.
fn cites_the_reference(before: &str, section: &str) -> bool {
    let text = before.trim_end();
    REFERENCE_MARKERS.iter().any(|marker| {
        text.strip_suffix(marker)
            .is_some_and(|rest| !rest.ends_with(|c: char| c.is_alphanumeric()))
    }) || REFERENCE_EXCEPTIONS
        .iter()
        .any(|(ends, cited, _)| *cited == section && text.ends_with(ends))
}

/// `name:line: §id` for every citation of `text` that names no section and is not skipped.
fn unknown_citations(
    name: &str,
    text: &str,
    sections: &[String],
    skip: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    citations(text)
        .into_iter()
        .filter(|c| !sections.contains(&c.section))
        .filter(|c| !skip(&context_before(text, c.offset), &c.section))
        .map(|c| format!("{name}:{}: \u{a7}{}", c.line, c.section))
        .collect()
}

fn read(path: &Path) -> String {
    let text = fs::read_to_string(path);
    assert!(
        text.is_ok(),
        "cannot read {}: {:?}",
        path.display(),
        text.as_ref().err()
    );
    text.expect("read just above")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a source directory can be listed") {
        let path = entry.expect("a directory entry can be read").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&path, out);
        } else if path.is_file() && path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn assert_no_unknown(bad: &[String], sections: &[String]) {
    assert!(
        bad.is_empty(),
        "{} citation(s) name no section of {SPEC}:\n  {}\nthe sections it has: {}",
        bad.len(),
        bad.join("\n  "),
        sections.join(", ")
    );
}

#[test]
fn every_section_cited_in_code_and_reports_exists_in_the_spec() {
    let root = Path::new(WORKSPACE);
    let sections = headings(&read(&root.join(SPEC)));
    assert!(
        sections.iter().any(|s| s == "5.4a"),
        "the spec's headings were not read: {sections:?}"
    );
    let mut files: Vec<PathBuf> = OTHER_DOCS.iter().map(|doc| root.join(doc)).collect();
    for dir in SOURCE_ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let (mut bad, mut cited) = (Vec::new(), 0);
    for path in &files {
        let text = read(path);
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        cited += citations(&text).len();
        bad.extend(unknown_citations(&name, &text, &sections, |_, _| false));
    }
    assert!(
        cited > 0,
        "no citation found in {} files: is the walk broken?",
        files.len()
    );
    assert_no_unknown(&bad, &sections);
}

#[test]
fn every_section_the_spec_cites_of_itself_exists() {
    let spec = read(&Path::new(WORKSPACE).join(SPEC));
    let sections = headings(&spec);
    assert_no_unknown(
        &unknown_citations(SPEC, &spec, &sections, cites_the_reference),
        &sections,
    );
    for (ends, cited, why) in REFERENCE_EXCEPTIONS {
        let used = citations(&spec).iter().any(|c| {
            c.section == cited && context_before(&spec, c.offset).trim_end().ends_with(ends)
        });
        assert!(
            used,
            "stale exception ({ends:?}, {cited}: {why}) matches no citation of {SPEC}"
        );
    }
}

#[test]
fn a_missing_section_is_reported_and_suffixed_citations_are_read() {
    let spec = "# Spec\n\n## 5. Procedure\n\n```\n## 99. not a heading\n```\n\
                ### 5.4a IPv6 clusters\n\n### 11.1 Sources\n";
    let sections = headings(spec);
    assert_eq!(sections, ["5", "5.4a", "11.1"]);

    let sample = "see \u{a7}5.4a, \u{a7}11.1 item 9 and \u{a7}99.9.\n\
                  The reference's \u{a7}98 and (its \u{a7}97), but not reference's (\u{a7}96)";
    let ids: Vec<String> = citations(sample).into_iter().map(|c| c.section).collect();
    assert_eq!(ids, ["5.4a", "11.1", "99.9", "98", "97", "96"]);

    let in_code = unknown_citations("sample.rs", sample, &sections, |_, _| false);
    assert_eq!(
        in_code,
        [
            "sample.rs:1: \u{a7}99.9",
            "sample.rs:2: \u{a7}98",
            "sample.rs:2: \u{a7}97",
            "sample.rs:2: \u{a7}96"
        ]
    );
    let in_spec = unknown_citations("spec.md", sample, &sections, cites_the_reference);
    assert_eq!(in_spec, ["spec.md:1: \u{a7}99.9", "spec.md:2: \u{a7}96"]);
}
