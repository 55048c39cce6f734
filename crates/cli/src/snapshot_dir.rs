//! Reads a snapshot directory into the `(path, text)` pairs the core parses.
//!
//! Files are found recursively and read in sorted order so the report does not depend on the
//! file system's listing order; paths are kept relative to the snapshot root with `/`
//! separators, because the core attributes kubectl dumps to clusters by directory.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use podreach_core::SourceFile;

/// Every `*.json` file under `root`, relative paths, sorted.
pub fn read(root: &Path) -> Result<Vec<SourceFile>> {
    if !root.is_dir() {
        bail!(
            "snapshot directory {} does not exist or is not a directory",
            root.display()
        );
    }
    let mut paths = Vec::new();
    collect(root, &mut paths)?;
    paths.sort();
    if paths.is_empty() {
        bail!(
            "snapshot directory {} holds no *.json files",
            root.display()
        );
    }
    paths
        .into_iter()
        .map(|path| {
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            Ok(SourceFile { path: name, text })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting {}", path.display()))?;
        if kind.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes snapshot files under `root`, creating directories.
pub fn write(root: &Path, files: &[SourceFile]) -> Result<()> {
    for SourceFile {
        path: relative,
        text,
    } in files
    {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
