"""A real S3-protocol server for the suite: moto's server mode, in its own process, on a free
loopback port (its own process, so a memory measurement of the client never counts the server).

moto keeps objects in memory, but it answers the S3 HTTP API (multipart uploads, ranged GETs,
HEAD, ListObjectsV2) the way AWS does, so boto3 and django-storages run their real code paths
against it. Tests each use their own bucket.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3

ACCESS_KEY, SECRET_KEY, REGION = "cleanroom-test", "cleanroom-test-secret", "eu-west-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"blobs-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def blob_storage_settings(self, bucket: str) -> dict:
        return {
            "BACKEND": "core.storage.ContentAddressedS3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.endpoint_url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "default_acl": None,
            },
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's S3 server did not start on port {port} (exit {server.poll()})") from None
                time.sleep(0.1)
        yield S3Server(endpoint_url=endpoint)
    finally:
        server.terminate()
        server.wait(timeout=10)
