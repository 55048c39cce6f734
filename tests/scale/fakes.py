"""Starting `fake_aws.py` and pointing podreach at it: the one way every script here does it
(standard library only, so `bench.py` can use it too)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start_fake(nodes: int, routes: int, seed: int, directory: str, extra=()):
    """Starts the endpoint for a scenario of `nodes` nodes and `routes` routes; returns (process,
    port, stats file, per-account stats file) once it listens. `extra`: more of its options."""
    ready = os.path.join(directory, "port")
    stats = os.path.join(directory, "stats.json")
    accounts = os.path.join(directory, "accounts.json")
    errors = os.path.join(directory, "fake.err")
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fake_aws.py"), "--nodes", str(nodes), "--routes", str(routes),
         "--seed", str(seed), "--port", "0", "--ready-file", ready, "--stats-file", stats,
         "--account-stats-file", accounts, *extra],
        stdout=subprocess.DEVNULL,
        stderr=open(errors, "wb"),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"fake_aws.py exited with {process.returncode}: {open(errors).read()}")
        if os.path.exists(ready) and open(ready).read().strip():
            return process, int(open(ready).read().strip()), stats, accounts
        time.sleep(0.05)
    process.kill()
    raise SystemExit("fake_aws.py did not start within 300 s")


def endpoint_env(port: int, directory: str, region: str) -> dict:
    """This process's environment with every AWS setting replaced: the endpoint at `port`, static
    credentials (the fake's main account), `region`, no profile, config file or instance metadata."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_REGION=region,
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.path.join(directory, "none"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(directory, "none"),
        HOME=directory,
    )
    return env
