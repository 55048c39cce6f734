//! Network namespaces: creation, configuration, running code inside them, and guaranteed removal.
//!
//! Every namespace of a run is named `prl-<pid>-<n>-<role>` so that parallel runs never collide
//! and so that namespaces left behind by a killed run can be recognised (their pid is gone) and
//! removed at the next start. A [`Lab`] owns its namespaces and removes them in `Drop`, which also
//! runs while a panic unwinds. Links are created directly inside their namespaces
//! (`ip link add … netns A type veth peer … netns B`), so nothing ever appears in, or connects to,
//! the host's namespace.
//!
//! Code that must run inside a namespace (sockets, `/proc/sys` writes, `/proc/thread-self/net`
//! reads) runs on a fresh thread that first calls `setns(CLONE_NEWNET)`: that moves only the
//! thread, so the rest of the process (and other labs on other threads) stay where they are.
//! Bulk configuration goes through `ip -batch` and `iptables-restore`, one process per namespace.

use std::fs::File;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{CloneFlags, setns};

use crate::error::LabError;

const NETNS_DIR: &str = "/run/netns";
const PREFIX: &str = "prl-";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A veth pair between two namespaces (possibly the same one).
#[derive(Debug, Clone)]
pub struct LinkPair {
    pub a_ns: String,
    pub a_name: String,
    pub a_mac: Option<String>,
    pub b_ns: String,
    pub b_name: String,
    pub b_mac: Option<String>,
}

/// The configuration of one namespace, applied in order: sysctls, `ip -batch`, `iptables-restore`.
#[derive(Debug, Clone)]
pub struct NsConfig {
    pub ns: String,
    pub sysctls: Vec<(String, String)>,
    pub ip: Vec<String>,
    /// `iptables-restore` input; empty for none.
    pub iptables: String,
}

/// The namespace names of one lab.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
    pub node: String,
    pub vpc: String,
    pub pods: Vec<String>,
    pub remotes: Vec<String>,
    pub hosts: Vec<String>,
}

impl Names {
    /// Fresh names for a lab with the given number of pods, remote routers and probe hosts.
    pub fn new(pods: usize, remotes: usize, hosts: usize) -> Names {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{PREFIX}{}-{n}-", std::process::id());
        Names {
            node: format!("{prefix}node"),
            vpc: format!("{prefix}vpc"),
            pods: (0..pods).map(|i| format!("{prefix}pod{i}")).collect(),
            remotes: (0..remotes).map(|i| format!("{prefix}r{i}")).collect(),
            hosts: (0..hosts).map(|i| format!("{prefix}h{i}")).collect(),
            prefix,
        }
    }

    pub fn all(&self) -> Vec<String> {
        let mut all = vec![self.node.clone(), self.vpc.clone()];
        all.extend(self.pods.iter().cloned());
        all.extend(self.remotes.iter().cloned());
        all.extend(self.hosts.iter().cloned());
        all
    }
}

/// Fails unless the effective user is root.
pub fn require_root() -> Result<(), LabError> {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        Ok(())
    } else {
        Err(LabError::NotRoot { uid })
    }
}

const INSTALL_HINT: &str =
    "run scripts/install-lab-deps.sh (Debian packages iproute2, iptables, iputils-ping, conntrack)";

/// Fails with the first missing tool.
pub fn require_tools() -> Result<(), LabError> {
    for tool in [
        "ip",
        "iptables-restore",
        "iptables-save",
        "ping",
        "conntrack",
    ] {
        let found = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Err(LabError::MissingTool {
                tool,
                hint: INSTALL_HINT,
            });
        }
    }
    Ok(())
}

/// Runs a command, feeding `stdin`; returns stdout, or the command and its stderr on failure.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, LabError> {
    let cmd_text = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            cmd: cmd_text.clone(),
            stderr: e.to_string(),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| LabError::io(format!("writing to `{cmd_text}`"), e))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| LabError::io(format!("waiting for `{cmd_text}`"), e))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if let Some(text) = stdin {
            stderr.push_str(&format!("\n--- input ---\n{text}"));
        }
        Err(LabError::Command {
            cmd: cmd_text,
            stderr,
        })
    }
}

/// Runs `f` on a fresh thread inside namespace `ns` and returns its result.
pub fn in_netns<T, F>(ns: &str, f: F) -> Result<T, LabError>
where
    T: Send,
    F: FnOnce() -> Result<T, LabError> + Send,
{
    let path = format!("{NETNS_DIR}/{ns}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(&path)?;
                f()
            })
            .join()
            .map_err(|_| {
                LabError::io(
                    format!("thread inside {ns}"),
                    std::io::Error::other("panicked"),
                )
            })?
    })
}

/// Moves the calling thread into the namespace at `path`.
pub fn enter(path: &str) -> Result<(), LabError> {
    let file = File::open(path).map_err(|e| LabError::io(format!("opening {path}"), e))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| LabError::io(format!("setns into {path}"), e.into()))
}

/// Removes namespaces of earlier runs whose process is gone. Returns the names removed.
pub fn remove_stale() -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive =
            pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive && run("ip", &["netns", "del", &name], None).is_ok() {
            removed.push(name);
        }
    }
    removed
}

/// Namespaces of one lab; removed when dropped.
#[derive(Debug)]
pub struct Lab {
    pub names: Names,
    created: Vec<String>,
}

impl Lab {
    /// Creates every namespace of `names`; on failure, what was created is removed again.
    pub fn create(names: Names) -> Result<Lab, LabError> {
        let mut lab = Lab {
            names,
            created: Vec::new(),
        };
        for ns in lab.names.all() {
            run("ip", &["netns", "add", &ns], None)?;
            lab.created.push(ns);
        }
        Ok(lab)
    }

    /// Creates the veth pairs, each end directly inside its namespace.
    pub fn add_links(&self, links: &[LinkPair]) -> Result<(), LabError> {
        let mut batch = String::new();
        for l in links {
            let mac = |m: &Option<String>| {
                m.as_ref()
                    .map(|m| format!(" address {m}"))
                    .unwrap_or_default()
            };
            batch.push_str(&format!(
                "link add name {}{} netns {} type veth peer name {}{} netns {}\n",
                l.a_name,
                mac(&l.a_mac),
                l.a_ns,
                l.b_name,
                mac(&l.b_mac),
                l.b_ns
            ));
        }
        run("ip", &["-batch", "-"], Some(&batch)).map(|_| ())
    }

    /// Applies one namespace's configuration.
    pub fn configure(&self, config: &NsConfig) -> Result<(), LabError> {
        let sysctls = config.sysctls.clone();
        in_netns(&config.ns, move || {
            for (key, value) in &sysctls {
                std::fs::write(format!("/proc/sys/{key}"), value)
                    .map_err(|e| LabError::io(format!("writing {value} to /proc/sys/{key}"), e))?;
            }
            Ok(())
        })?;
        if !config.ip.is_empty() {
            let batch = config.ip.join("\n") + "\n";
            run("ip", &["-n", &config.ns, "-batch", "-"], Some(&batch))?;
        }
        if !config.iptables.is_empty() {
            run(
                "ip",
                &["netns", "exec", &config.ns, "iptables-restore"],
                Some(&config.iptables),
            )?;
        }
        Ok(())
    }

    /// Runs a tool inside one of the lab's namespaces.
    pub fn exec(&self, ns: &str, program: &str, args: &[&str]) -> Result<String, LabError> {
        let mut full = vec!["netns", "exec", ns, program];
        full.extend_from_slice(args);
        run("ip", &full, None)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.created.drain(..).rev() {
            let _ = run("ip", &["netns", "del", &ns], None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_lab_and_carry_the_pid() {
        let a = Names::new(2, 1, 1);
        let b = Names::new(2, 1, 1);
        assert_ne!(a.prefix, b.prefix);
        assert!(a.node.starts_with(&format!("prl-{}-", std::process::id())));
        assert_eq!(a.all().len(), 6);
    }
}
