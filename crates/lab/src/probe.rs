//! Real traffic and the evidence of where it went.
//!
//! Reachability is decided by TCP only: a connection counts as reachable when the handshake
//! completes and a request/response round trip succeeds within the timeout, which needs packets
//! in both directions, exactly what "the replies must come back" means in the spec. An ICMP echo
//! (`ping`) runs alongside and is reported as extra evidence, not as the verdict.
//!
//! Evidence comes from counters read before and after each probe: the fabric's counted rules
//! (`iptables-save -c`; every drop and every hop of the emulated AWS side is a commented rule),
//! the node's `TcpExt: IPReversePathFilter` counter (reverse-path filter drops) from
//! `/proc/thread-self/net/netstat`, and, when the probe failed, the node's conntrack entries for the
//! flow (showing SNAT and whether a reply was seen). Probes of one lab run one at a time so the
//! counter differences belong to one probe; listeners do not retransmit SYN-ACKs
//! (`tcp_synack_retries=0`) so a failed probe leaves no stray packets behind.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::LabError;
use crate::netns::{Lab, enter, in_netns};

/// The default TCP port of the listeners, on probe hosts and in pod namespaces alike (one port,
/// so the model is asked about exactly the port the probes use, both ways).
pub const PORT: u16 = 7000;

/// A TCP listener running inside a namespace until dropped.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds `addr:port` inside `ns` and answers every connection's first line with `ok <addr>`.
    pub fn spawn(ns: &str, addr: Ipv4Addr, port: u16) -> Result<Listener, LabError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), LabError>>();
        let path = format!("/run/netns/{ns}");
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let bound = enter(&path).and_then(|()| {
                let listener = TcpListener::bind((addr, port))
                    .map_err(|e| LabError::io(format!("bind {addr}:{port}"), e))?;
                listener
                    .set_nonblocking(true)
                    .map_err(|e| LabError::io("set_nonblocking", e))?;
                Ok(listener)
            });
            let listener = match bound {
                Ok(l) => {
                    let _ = ready_tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                        let mut buf = [0u8; 64];
                        if stream.read(&mut buf).is_ok_and(|n| n > 0) {
                            let _ = stream.write_all(format!("ok {addr}\n").as_bytes());
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(3)),
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Listener {
                stop,
                handle: Some(handle),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LabError::io(
                format!("listener in {ns}"),
                std::io::Error::other("did not start"),
            )),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Opens a TCP connection from inside `ns` and does one request/response round trip.
/// Returns whether it succeeded and what happened.
pub fn tcp(
    ns: &str,
    dst: Ipv4Addr,
    port: u16,
    timeout: Duration,
) -> Result<(bool, String), LabError> {
    in_netns(ns, move || {
        let start = Instant::now();
        let addr = SocketAddr::from((dst, port));
        let mut stream = match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => s,
            Err(e) => {
                let what = match e.kind() {
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                        format!("no handshake within {} ms", timeout.as_millis())
                    }
                    _ => format!("connect failed: {e}"),
                };
                return Ok((false, what));
            }
        };
        let rest = timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(100));
        let _ = stream.set_read_timeout(Some(rest));
        let _ = stream.set_write_timeout(Some(rest));
        if let Err(e) = stream.write_all(b"probe\n") {
            return Ok((false, format!("connected, send failed: {e}")));
        }
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => Ok((
                true,
                format!("connected, reply in {} ms", start.elapsed().as_millis()),
            )),
            Ok(_) => Ok((false, "connected, closed without reply".to_owned())),
            Err(e) => Ok((false, format!("connected, no reply: {e}"))),
        }
    })
}

/// Starts one ICMP echo from inside `ns`; collect it with [`ping_result`].
pub fn ping_start(ns: &str, dst: Ipv4Addr, timeout: Duration) -> Option<Child> {
    let secs = format!("{:.2}", timeout.as_secs_f64().max(0.2));
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "ping",
            "-n",
            "-q",
            "-c",
            "1",
            "-W",
            &secs,
            &dst.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// `Some(true)` when the echo got a reply, `None` when ping could not run.
pub fn ping_result(child: Option<Child>) -> Option<bool> {
    child.and_then(|mut c| c.wait().ok()).map(|s| s.success())
}

/// Counter values at one instant, keyed by `(namespace role, rule comment)`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    values: BTreeMap<(usize, String), u64>,
}

/// Reads every counter the lab evidences with. `fabric` are (role, namespace) pairs.
pub fn read_counters(
    lab: &Lab,
    fabric: &[(String, String)],
    node_ns: &str,
) -> Result<Counters, LabError> {
    let mut values = BTreeMap::new();
    for (order, (_, ns)) in fabric.iter().enumerate() {
        let text = lab.exec(ns, "iptables-save", &["-c", "-t", "filter"])?;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix('[') else {
                continue;
            };
            let Some((count, rule)) = rest.split_once(']') else {
                continue;
            };
            let packets = count
                .split(':')
                .next()
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(0);
            let Some(comment) = rule.split("--comment ").nth(1) else {
                continue;
            };
            let comment = comment
                .trim_start_matches('"')
                .split('"')
                .next()
                .unwrap_or(comment)
                .to_owned();
            *values.entry((order, comment)).or_insert(0) += packets;
        }
    }
    let rpf = in_netns(node_ns, || {
        let text = std::fs::read_to_string("/proc/thread-self/net/netstat")
            .map_err(|e| LabError::io("reading /proc/thread-self/net/netstat", e))?;
        Ok(netstat_value(&text, "TcpExt:", "IPReversePathFilter"))
    })?;
    values.insert(
        (
            usize::MAX,
            "node: IPReversePathFilter (reverse-path filter drops)".to_owned(),
        ),
        rpf.unwrap_or(0),
    );
    Ok(Counters { values })
}

/// Reads one counter of a `/proc/net/netstat`-style file (header line, value line per group).
pub fn netstat_value(text: &str, group: &str, name: &str) -> Option<u64> {
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let values = lines.next()?;
        if !header.starts_with(group) {
            continue;
        }
        let index = header.split_whitespace().position(|h| h == name)?;
        return values
            .split_whitespace()
            .nth(index)
            .and_then(|v| v.parse().ok());
    }
    None
}

/// What changed between two readings, as `role: comment ×n` items in fabric order.
pub fn diff(before: &Counters, after: &Counters, fabric: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in &after.values {
        let old = before.values.get(key).copied().unwrap_or(0);
        if *value > old {
            let role = fabric.get(key.0).map_or("node", |(role, _)| role.as_str());
            let label = key.1.strip_prefix("node: ").unwrap_or(&key.1);
            out.push(format!("{role}: {label} ×{}", value - old));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_values_are_found_by_group_and_name() {
        let text = "TcpExt: SyncookiesSent IPReversePathFilter\nTcpExt: 0 7\nIpExt: InNoRoutes\nIpExt: 3\n";
        assert_eq!(
            netstat_value(text, "TcpExt:", "IPReversePathFilter"),
            Some(7)
        );
        assert_eq!(netstat_value(text, "IpExt:", "InNoRoutes"), Some(3));
        assert_eq!(netstat_value(text, "IpExt:", "Missing"), None);
    }

    #[test]
    fn diffs_list_only_counters_that_moved() {
        let fabric = vec![("vpc".to_owned(), "ns".to_owned())];
        let mut before = Counters::default();
        before.values.insert((0, "a".into()), 1);
        before.values.insert((0, "b".into()), 2);
        let mut after = before.clone();
        after.values.insert((0, "b".into()), 5);
        assert_eq!(diff(&before, &after, &fabric), vec!["vpc: b ×3".to_owned()]);
    }
}
