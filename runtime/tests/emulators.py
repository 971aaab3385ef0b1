"""Cloud Storage and Blob Storage stand-ins for the runtime's tests: fake-gcs-server and Azurite, from the tools
directory scripts/install-tools.sh fills (the end-to-end run starts the same binaries: test/e2e/services/).
A test using one is skipped, saying why, only when its binary is absent."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

TOOLS = Path(os.environ.get("MLFLOW_PLATFORM_TOOLS", Path.home() / ".cache" / "mlflow-platform-e2e"))
FAKE_GCS_SERVER = TOOLS / "bin" / "fake-gcs-server"
AZURITE_BLOB = TOOLS / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(proc: subprocess.Popen, port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def fake_gcs():
    """http://127.0.0.1:<port> of a fake-gcs-server holding objects in memory."""
    if not FAKE_GCS_SERVER.exists():
        pytest.skip(f"{FAKE_GCS_SERVER} is absent: run scripts/install-tools.sh (it builds fake-gcs-server)")
    port = free_port()
    argv = [str(FAKE_GCS_SERVER), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory"]
    argv += ["-public-host", f"127.0.0.1:{port}", "-log-level", "warn"]
    proc = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(proc, port, "fake-gcs-server")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """The connection string of Azurite's blob service serving one account (``mlflowartifacts``) with a fresh key."""
    node = shutil.which("node")
    if not AZURITE_BLOB.exists() or node is None:
        pytest.skip(f"{AZURITE_BLOB} (or node) is absent: run scripts/install-tools.sh (it installs Azurite)")
    port, account = free_port(), "mlflowartifacts"
    key = base64.b64encode(secrets.token_bytes(64)).decode()
    argv = [node, str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence"]
    argv += ["--skipApiVersionCheck", "--disableTelemetry", "--silent"]
    proc = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
        argv,
        cwd=tmp_path_factory.mktemp("azurite"),
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AZURITE_ACCOUNTS": f"{account}:{key}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(proc, port, "Azurite")
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{account};"
        )
    finally:
        stop(proc)
