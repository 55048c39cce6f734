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

/// Every file under `root`, whatever its name (files are recognised by content: JSON or YAML,
/// gzipped or not), with paths relative to `root` prefixed by `prefix`, sorted. Hidden files and
/// directories (`.git`, `.DS_Store`, a tool's marker file) are left out, as `ls` leaves them out.
pub fn read(root: &Path, prefix: &str) -> Result<Vec<DiskFile>> {
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
        bail!("snapshot directory {} holds no files", root.display());
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
            DiskFile {
                path,
                relative: format!("{prefix}{relative}"),
            }
        })
        .collect())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // `metadata` follows symbolic links: a linked file or directory is read like any other.
        let kind = fs::metadata(&path)
            .with_context(|| format!("inspecting {}", path.display()))?
            .file_type();
        if kind.is_dir() {
            collect(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Copies `files` (as they are on disk, byte for byte) under `root` at their relative paths.
pub fn copy(root: &Path, files: &[DiskFile]) -> Result<()> {
    for file in files {
        let to = root.join(&file.relative);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::copy(&file.path, &to)
            .with_context(|| format!("copying {} to {}", file.path.display(), to.display()))?;
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
