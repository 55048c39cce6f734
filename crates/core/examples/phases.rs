//! The benchmark's in-process timer: `phases DIR [--scale K] [--runs N]`.
//!
//! Reads a snapshot directory as `podreach audit --snapshot DIR` does and times each phase
//! separately: reading and parsing the files, validating them into the model, and the analysis
//! alone (model → report, findings included, no per-ENI rows), the median of N runs. With
//! `--scale K` every node of the snapshot (its instance and its ENIs) is cloned K times with new
//! ids and addresses before the model is built, so a 100-node snapshot becomes a
//! 100·K-node model of the same shape (100,000 nodes at K = 1,000) without writing gigabytes
//! of JSON. Prints one JSON object.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use podreach_core::snapshot::{self, Document, Input, LoadedDocument};
use podreach_core::{Model, Overrides};

#[path = "support/disk.rs"]
mod disk;

/// Copy `k` of an id: same length, the last three hex digits replaced by the copy number.
fn copy_id(id: &str, k: usize) -> String {
    if k == 0 {
        return id.to_owned();
    }
    let tag = format!("{k:03x}");
    let keep = id.len().saturating_sub(tag.len());
    format!("{}{tag}", &id[..keep])
}

/// Copy `k` of an address: shifted by `k` × 2^20 (the copies do not collide).
fn copy_ip(ip: &str, k: usize) -> String {
    match ip.parse::<Ipv4Addr>() {
        Ok(a) => Ipv4Addr::from(u32::from(a).wrapping_add((k as u32) << 20)).to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Clones every node (instance and ENIs) `scale` times.
fn scale(documents: &mut [LoadedDocument], scale: usize) {
    for d in documents.iter_mut() {
        match &mut d.document {
            Document::NetworkInterfaces(doc) => {
                let originals = doc.network_interfaces.clone();
                for k in 1..scale {
                    for eni in &originals {
                        let mut e = eni.clone();
                        e.network_interface_id = copy_id(&e.network_interface_id, k);
                        if let Some(a) = &mut e.attachment {
                            a.instance_id = a.instance_id.as_deref().map(|i| copy_id(i, k));
                        }
                        e.private_ip_address =
                            e.private_ip_address.as_deref().map(|i| copy_ip(i, k));
                        for p in &mut e.private_ip_addresses {
                            p.private_ip_address = copy_ip(&p.private_ip_address, k);
                        }
                        doc.network_interfaces.push(e);
                    }
                }
            }
            Document::Instances(doc) => {
                let originals = doc.reservations.clone();
                for k in 1..scale {
                    for r in &originals {
                        let mut r = r.clone();
                        for i in &mut r.instances {
                            i.instance_id = copy_id(&i.instance_id, k);
                            i.private_dns_name =
                                i.private_dns_name.as_deref().map(|n| format!("{n}-{k}"));
                        }
                        doc.reservations.push(r);
                    }
                }
            }
            _ => {}
        }
    }
}

fn median(mut runs: Vec<Duration>) -> f64 {
    runs.sort();
    runs[runs.len() / 2].as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: phases DIR [--scale K] [--runs N]")?,
    );
    let (mut factor, mut runs) = (1usize, 5usize);
    while let Some(flag) = args.next() {
        let value: usize = args.next().ok_or("a number after the flag")?.parse()?;
        match flag.as_str() {
            "--scale" => factor = value.max(1),
            "--runs" => runs = value.max(1),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let inputs = disk::files(&dir)?;

    let started = Instant::now();
    let loaded = snapshot::load_inputs(inputs.iter().map(|f| f as &dyn Input)).into_result()?;
    let parse = started.elapsed();
    let mut documents = loaded.documents;
    scale(&mut documents, factor);

    let started = Instant::now();
    let model = Model::from_documents(&documents, &Overrides::default());
    let validate = started.elapsed();
    drop(documents);

    let mut times = Vec::new();
    let mut report = None;
    for _ in 0..runs {
        let started = Instant::now();
        let audit = podreach_core::run(&model, &Default::default());
        times.push(started.elapsed());
        report = Some(audit.report);
    }
    let report = report.ok_or("no run")?;
    let nodes: usize = report.clusters.iter().map(|c| c.nodes).sum();
    let enis: usize = report.clusters.iter().map(|c| c.enis).sum();
    let addresses: usize = report.clusters.iter().map(|c| c.pod_addresses).sum();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{{\"nodes\": {nodes}, \"enis\": {enis}, \"pod_addresses\": {addresses}, \"findings\": {}, \"parse_ms\": {:.1}, \"validate_ms\": {:.1}, \"analysis_ms\": {:.1}, \"runs\": {runs}}}",
            report.findings.len(),
            parse.as_secs_f64() * 1000.0,
            validate.as_secs_f64() * 1000.0,
            median(times)
        );
    }
    Ok(())
}
