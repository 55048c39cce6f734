#!/usr/bin/env python3
"""Measures fake_kube serving a large synthetic pod list: registers NODES x PODS_PER_NODE pods
(plus two DaemonSet pods per node), then lists them all in pages of LIMIT over one keep-alive
HTTPS connection with `Accept-Encoding: gzip`, decompressing and json.loads-ing every page, as a
client would. Prints the registration time, the list time, bytes on the wire and the server's
RSS (current and peak).

    .venv/bin/python tests/kube/bench_synthetic.py [--nodes 5000] [--pods-per-node 30]
        [--limit 500]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_kube.presign import make_token  # noqa: E402


def rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods-per-node", type=int, default=30)
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, str(HERE / "fake_kube"), "--quiet",
                               "--parent-pid", str(os.getpid())], stdout=subprocess.PIPE,
                              text=True)
    try:
        control = json.loads(server.stdout.readline())["control"]
        nodes = [{"name": f"ip-10-{i // 250}-{i % 250}-5.eu-west-1.compute.internal",
                  "host_ip": f"10.{i // 250}.{i % 250}.5",
                  "pod_ips": [f"10.{100 + i // 250}.{i % 250}.{10 + j}"
                              for j in range(args.pods_per_node)]} for i in range(args.nodes)]
        body = {"arn": "arn:aws:eks:eu-west-1:100000000001:cluster/bench",
                "credentials": [{"access_key_id": "AKIABENCH", "secret_access_key": "bench",
                                 "arn": "arn:aws:sts::100000000001:assumed-role/bench/s"}],
                "access_entries": [{"principal_arn": "arn:aws:iam::100000000001:role/bench",
                                    "policies": ["AmazonEKSClusterAdminPolicy"]}],
                "synthetic_pods": {"nodes": nodes, "seed": 1}}
        started = time.monotonic()
        request = urllib.request.Request(f"{control}/clusters", data=json.dumps(body).encode(),
                                         method="POST")
        with urllib.request.urlopen(request) as response:
            cluster = json.loads(response.read())
        registered = time.monotonic() - started

        host, port = cluster["endpoint"].removeprefix("https://").split(":")
        context = ssl.create_default_context(cadata=base64.b64decode(cluster["ca_data"]).decode())
        conn = http.client.HTTPSConnection(host, int(port), context=context)
        token = make_token("bench", "AKIABENCH", "bench", region="eu-west-1", expires=900)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "Accept-Encoding": "gzip"}
        pods = pages = wire = 0
        token_continue = ""
        waiting = 0.0  # from sending a request to having its whole response: the server's share
        started = time.monotonic()
        while True:
            path = f"/api/v1/pods?limit={args.limit}"
            if token_continue:
                path += f"&continue={token_continue}"
            sent = time.monotonic()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            waiting += time.monotonic() - sent
            if response.status != 200:
                raise SystemExit(f"page {pages}: HTTP {response.status}: {raw[:300]!r}")
            wire += len(raw)
            if response.getheader("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            page = json.loads(raw)
            pods += len(page["items"])
            pages += 1
            token_continue = page["metadata"].get("continue", "")
            if not token_continue:
                break
        listed = time.monotonic() - started
        rss, peak = rss_kib(server.pid)
        print(json.dumps({
            "pods": pods, "pages": pages, "register_seconds": round(registered, 2),
            "list_seconds": round(listed, 2), "server_seconds": round(waiting, 2),
            "client_decode_seconds": round(listed - waiting, 2), "wire_mib": round(wire / 2**20, 1),
            "server_rss_mib": round(rss / 1024, 1), "server_peak_rss_mib": round(peak / 1024, 1),
        }))
        return 0 if pods == args.nodes * (args.pods_per_node + 2) else 1
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
