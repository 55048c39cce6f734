//! A snapshot directory's `*.json` files as core `Input`s, for the benchmark examples (the core
//! itself never touches the file system; the CLI has its own, fuller reader).

use std::fs;
use std::path::{Path, PathBuf};

use podreach_core::snapshot::Input;

pub struct DiskFile {
    path: PathBuf,
    relative: String,
}

impl Input for DiskFile {
    fn path(&self) -> &str {
        &self.relative
    }

    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(fs::File::open(&self.path)?))
    }
}

/// Every `*.json` file under `root`, sorted by relative path.
pub fn files(root: &Path) -> std::io::Result<Vec<DiskFile>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<DiskFile>) -> std::io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if path.extension().is_some_and(|e| e == "json") {
                let relative = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(DiskFile { path, relative });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(out)
}
