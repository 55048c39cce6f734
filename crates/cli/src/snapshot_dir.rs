//! Finds a snapshot directory's files for the core to read.
//!
//! Files are found recursively and listed in sorted order so the report does not depend on the
//! file system's listing order; paths are kept relative to the snapshot root with `/`
//! separators, because the core attributes kubectl dumps to clusters by directory. The files are
//! handed over as [`Input`]s the core opens as streams: a 5,000-node snapshot is ~440 MB of
//! JSON, which need not sit in memory to be read.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use podreach_core::SourceFile;
use podreach_core::snapshot::Input;

/// A file of a snapshot directory.
#[derive(Debug)]
pub struct DiskFile {
    path: PathBuf,
    relative: String,
}

impl Input for DiskFile {
    fn path(&self) -> &str {
        &self.relative
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(fs::File::open(&self.path)?))
    }
}

/// Every `*.json` file under `root`, with their text (for small directories of kubectl dumps).
pub fn read_texts(root: &Path) -> Result<Vec<SourceFile>> {
    read(root)?
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file.path)
                .with_context(|| format!("reading {}", file.path.display()))?;
            Ok(SourceFile {
                path: file.relative,
                text,
            })
        })
        .collect()
}

/// Every `*.json` file under `root`, relative paths, sorted.
pub fn read(root: &Path) -> Result<Vec<DiskFile>> {
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
    Ok(paths
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            DiskFile { path, relative }
        })
        .collect())
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
