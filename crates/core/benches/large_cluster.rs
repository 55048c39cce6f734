//! `cargo bench -p podreach-core --bench large_cluster`: how the audit scales with cluster size.
//!
//! Synthesises real-shaped snapshots (AWS CLI JSON text) of 1,000 and 5,000 nodes, each node with
//! a primary and two secondary ENIs of ten pod addresses, a peered VPC with a return route, and
//! a pods dump, then times each phase (parse, validate, analyse with and without per-ENI paths)
//! as the median of a few runs and writes the results to BENCHMARKS.md at the workspace root.
//! Peak memory is the process's high-water mark (VmHWM) after the largest run.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use podreach_core::raw::*;
use podreach_core::snapshot::{self, SourceFile};
use podreach_core::{AnalyzeOptions, Model, Overrides, analyze};

const VPC: &str = "vpc-0000000000000aaaa";
const PEER: &str = "vpc-0000000000000bbbb";
const PCX: &str = "pcx-00000000000000001";

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn json<T: serde::Serialize>(path: &str, value: &T) -> SourceFile {
    SourceFile {
        path: path.to_owned(),
        text: serde_json::to_string(value).expect("serialisable"),
    }
}

fn address(index: u32) -> String {
    // Addresses from 10.0.16.0 upward inside 10.0.0.0/8's first /12.
    let n = 0x0a00_1000 + index;
    std::net::Ipv4Addr::from(n).to_string()
}

fn snapshot(nodes: u32) -> Vec<SourceFile> {
    let subnets = 8u32;
    let mut subnet_list = Vec::new();
    for s in 0..subnets {
        subnet_list.push(Subnet {
            subnet_id: format!("subnet-{s:017}"),
            vpc_id: VPC.to_owned(),
            cidr_block: format!("10.{}.0.0/16", s * 16 + 16),
            availability_zone: format!("us-east-1{}", ['a', 'b', 'c'][(s % 3) as usize]),
            availability_zone_id: None,
            owner_id: None,
            tags: Vec::new(),
        });
    }
    subnet_list.push(Subnet {
        subnet_id: "subnet-peer".to_owned(),
        vpc_id: PEER.to_owned(),
        cidr_block: "172.16.0.0/24".to_owned(),
        availability_zone: "us-east-1a".to_owned(),
        availability_zone_id: None,
        owner_id: None,
        tags: Vec::new(),
    });
    let route = |cidr: &str, pcx: Option<&str>, gw: Option<&str>| Route {
        destination_cidr_block: Some(cidr.to_owned()),
        vpc_peering_connection_id: pcx.map(str::to_owned),
        gateway_id: gw.map(str::to_owned),
        state: Some("active".to_owned()),
        ..Route::default()
    };
    let table = |id: &str, vpc: &str, routes: Vec<Route>| RouteTable {
        route_table_id: id.to_owned(),
        vpc_id: vpc.to_owned(),
        associations: vec![RouteTableAssociation {
            main: true,
            route_table_association_id: None,
            route_table_id: Some(id.to_owned()),
            subnet_id: None,
            gateway_id: None,
            association_state: None,
        }],
        routes,
        owner_id: None,
        tags: Vec::new(),
    };
    let tables = DescribeRouteTables {
        route_tables: vec![
            table(
                "rtb-main",
                VPC,
                vec![
                    route("10.0.0.0/8", None, Some("local")),
                    route("172.16.0.0/16", Some(PCX), None),
                ],
            ),
            table(
                "rtb-peer",
                PEER,
                vec![
                    route("172.16.0.0/16", None, Some("local")),
                    route("10.0.0.0/8", Some(PCX), None),
                ],
            ),
        ],
    };
    let mut enis = Vec::new();
    let mut reservations = Vec::new();
    let mut pods = Vec::new();
    let mut next = 0u32;
    for n in 0..nodes {
        let instance = format!("i-{n:017}");
        let subnet = format!("subnet-{:017}", n % subnets);
        let base = (n % subnets) * 16 * 65_536 + n / subnets * 40;
        for device in 0..3u32 {
            let primary = address(base + device * 11);
            let secondaries: Vec<PrivateIpAddress> = (1..=10)
                .map(|i| PrivateIpAddress {
                    private_ip_address: address(base + device * 11 + i),
                    primary: false,
                })
                .collect();
            for (i, s) in secondaries.iter().enumerate() {
                if i % 2 == 0 {
                    pods.push(Pod {
                        metadata: ObjectMeta {
                            name: format!("app-{next}"),
                            namespace: Some("default".to_owned()),
                            ..ObjectMeta::default()
                        },
                        spec: PodSpec::default(),
                        status: PodStatus {
                            pod_ip: Some(s.private_ip_address.clone()),
                            ..PodStatus::default()
                        },
                    });
                    next += 1;
                }
            }
            enis.push(NetworkInterface {
                network_interface_id: format!("eni-{n:012}{device:05}"),
                subnet_id: subnet.clone(),
                vpc_id: VPC.to_owned(),
                availability_zone: None,
                attachment: Some(EniAttachment {
                    attachment_id: None,
                    device_index: device,
                    network_card_index: Some(0),
                    instance_id: Some(instance.clone()),
                    status: None,
                }),
                description: None,
                groups: Vec::new(),
                interface_type: Some("interface".to_owned()),
                private_ip_address: Some(primary.clone()),
                private_ip_addresses: std::iter::once(PrivateIpAddress {
                    private_ip_address: primary,
                    primary: true,
                })
                .chain(secondaries)
                .collect(),
                ipv4_prefixes: Vec::new(),
                ipv6_addresses: Vec::new(),
                source_dest_check: Some(true),
                status: None,
                owner_id: None,
                tag_set: Vec::new(),
            });
        }
        reservations.push(Reservation {
            instances: vec![Instance {
                instance_id: instance,
                instance_type: Some("m5.large".to_owned()),
                private_dns_name: None,
                private_ip_address: Some(address(base)),
                subnet_id: Some(subnet),
                vpc_id: Some(VPC.to_owned()),
                state: Some(InstanceState {
                    code: Some(16),
                    name: "running".to_owned(),
                }),
                tags: vec![tag("eks:cluster-name", "big")],
            }],
            reservation_id: None,
            owner_id: None,
        });
    }
    let vpc = |id: &str, cidr: &str| Vpc {
        vpc_id: id.to_owned(),
        cidr_block: cidr.to_owned(),
        cidr_block_association_set: Vec::new(),
        owner_id: None,
        tags: Vec::new(),
    };
    let side = |id: &str, cidr: &str| PeeringVpcInfo {
        vpc_id: Some(id.to_owned()),
        cidr_block: Some(cidr.to_owned()),
        cidr_block_set: Vec::new(),
        owner_id: None,
        region: None,
    };
    let cluster = serde_json::json!({"cluster": {"name": "big", "resourcesVpcConfig": {"vpcId": VPC, "subnetIds": []}}});
    vec![
        json(
            "vpcs.json",
            &DescribeVpcs {
                vpcs: vec![vpc(VPC, "10.0.0.0/8"), vpc(PEER, "172.16.0.0/16")],
            },
        ),
        json(
            "subnets.json",
            &DescribeSubnets {
                subnets: subnet_list,
            },
        ),
        json("route-tables.json", &tables),
        json(
            "enis.json",
            &DescribeNetworkInterfaces {
                network_interfaces: enis,
            },
        ),
        json("instances.json", &DescribeInstances { reservations }),
        json(
            "peerings.json",
            &DescribeVpcPeeringConnections {
                vpc_peering_connections: vec![VpcPeeringConnection {
                    vpc_peering_connection_id: PCX.to_owned(),
                    accepter_vpc_info: side(PEER, "172.16.0.0/16"),
                    requester_vpc_info: side(VPC, "10.0.0.0/8"),
                    status: PeeringStatus {
                        code: "active".to_owned(),
                        message: None,
                    },
                    tags: Vec::new(),
                }],
            },
        ),
        json("cluster.json", &cluster),
        json(
            "pods.json",
            &PodList {
                api_version: "v1".to_owned(),
                kind: "List".to_owned(),
                items: pods,
            },
        ),
    ]
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut samples = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        samples.push(start.elapsed());
    }
    (median(samples), last.expect("at least one run"))
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let mut table = String::from(
        "| nodes | ENIs | pod addresses | snapshot MiB | parse | validate | analyse | analyse + paths | paths |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for nodes in [1_000u32, 5_000] {
        let files = snapshot(nodes);
        let bytes: usize = files.iter().map(|f| f.text.len()).sum();
        let (parse, loaded) = time(3, || {
            snapshot::load(&files).expect("valid synthetic snapshot")
        });
        let (validate, model) = time(3, || Model::build(&loaded.documents, &Overrides::default()));
        let (plain, report) = time(3, || {
            analyze(
                &model,
                &AnalyzeOptions {
                    include_paths: false,
                },
            )
        });
        let (with_paths, full) = time(3, || {
            analyze(
                &model,
                &AnalyzeOptions {
                    include_paths: true,
                },
            )
        });
        assert!(
            report.gaps.is_empty(),
            "synthetic snapshot analysed cleanly: {:?}",
            report.gaps
        );
        let c = &report.clusters[0];
        let _ = writeln!(
            table,
            "| {nodes} | {} | {} | {:.1} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} |",
            c.enis,
            c.pod_addresses,
            bytes as f64 / 1_048_576.0,
            parse.as_secs_f64() * 1e3,
            validate.as_secs_f64() * 1e3,
            plain.as_secs_f64() * 1e3,
            with_paths.as_secs_f64() * 1e3,
            full.paths.as_ref().map_or(0, Vec::len),
        );
    }
    let peak = peak_rss_mib().map_or_else(|| "n/a".to_owned(), |m| format!("{m:.0} MiB"));
    let doc = format!(
        "# Benchmarks\n\nWritten by `cargo bench -p podreach-core --bench large_cluster` (release build, median of 3 runs).\n\
         Each node has a primary and two secondary ENIs of ten pod addresses each; one peered destination.\n\
         `analyse` computes findings (verdicts per equivalence class, expanded per ENI); `analyse + paths`\n\
         also keeps every per-ENI verdict for the report.\n\n{table}\nPeak resident memory of the whole run: {peak}.\n\n\
         Machine: {} cores. Numbers from a shared 2-core CI-class machine; compare runs on the same machine only.\n",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md");
    std::fs::write(out, &doc).expect("write BENCHMARKS.md");
    #[allow(clippy::print_stdout)] // a bench command reports on stdout by design
    {
        print!("{doc}");
    }
}
