"""Command line: start the servers (print one JSON line with their URLs), or run the self-test."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from .cluster import Registry
from .control import ControlServer
from .eks import EksProxyServer
from .kube import ClusterEndpoint

log = logging.getLogger("fake_kube")
MOTO_URL = re.compile(r"http://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/?")


def _moto(value: str) -> tuple[str, int]:
    m = MOTO_URL.fullmatch(value)
    if m is None or not 0 < int(m.group(2)) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not http://HOST:PORT")
    return m.group(1).strip("[]"), int(m.group(2))


def _pid(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a process id")
    return int(value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fake_kube", description="Fake EKS Kubernetes API servers and an EKS API proxy in "
        "front of moto, for podreach's end-to-end tests. Prints one JSON line "
        '{"control": URL, "eks": URL} once listening; logs go to stderr.')
    parser.add_argument("--moto", type=_moto, metavar="http://127.0.0.1:PORT",
                        help="the moto server the EKS proxy forwards to (without it, forwarded "
                             "requests are answered 502)")
    parser.add_argument("--parent-pid", type=_pid, metavar="PID",
                        help="exit as soon as this process is no longer our parent")
    parser.add_argument("--self-test", action="store_true",
                        help="check the token verifier against botocore and a few internals, "
                             "then exit")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)
    if args.self_test and (args.moto or args.parent_pid):
        parser.error("--self-test takes no other option")
    if args.parent_pid is not None and os.getppid() != args.parent_pid:
        parser.error(f"--parent-pid {args.parent_pid} is not this process's parent "
                     f"({os.getppid()})")
    return args


def _watchdog(parent: int, workdir: Path) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    shutil.rmtree(workdir, ignore_errors=True)
    os._exit(0)


def serve(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="fake-kube-"))
    if args.parent_pid is not None:
        threading.Thread(target=_watchdog, args=(args.parent_pid, workdir), name="watchdog",
                         daemon=True).start()
    registry = Registry(workdir, ClusterEndpoint)
    control = ControlServer(registry)
    eks = EksProxyServer(registry, args.moto)
    for server, name in ((control, "control"), (eks, "eks")):
        threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    urls = {"control": f"http://127.0.0.1:{control.server_address[1]}",
            "eks": f"http://127.0.0.1:{eks.server_address[1]}"}
    print(json.dumps(urls), flush=True)
    log.info("listening: %s (moto: %s, files in %s)", urls, args.moto, workdir)
    try:
        while not stop.wait(1):
            pass
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.self_test:
        from .selftest import run
        return run()
    return serve(args)
