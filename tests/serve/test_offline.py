"""The server makes no outbound connection: started, asked and driven through its UI inside a network
namespace that has only loopback (`unshare -n`), every connect() it makes is traced (strace), and
each must go to 127.0.0.1, ::1 or a local socket. (It found onnxruntime's telemetry: DNS lookups for
Microsoft's collector, from a background thread, until ORT_DISABLE_TELEMETRY was set in app/__init__.py.)

Needs root (for the namespace) and strace: CI has both (`make test` runs as root and installs strace);
elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, SMALL_CORPUS, copy_corpus

LOCAL_ADDRESSES = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
# what strace prints for an IPv4 or IPv6 connect(), e.g. sin_addr=inet_addr("10.0.0.1")
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')

# Runs inside the namespace: the server under strace, then a client that uses every part of it.
DRIVER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    import httpx
    from gradio_client import Client

    log, port = sys.argv[1], sys.argv[2]
    server = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=connect,accept,accept4", "-o", log,
         sys.executable, "-m", "app.cli", "serve", "--port", port],
        start_new_session=True,  # its own process group: strace and the server stop together
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            sys.exit("the server did not start")
        assert httpx.get(url + "/").status_code == 200
        assert httpx.get(url + "/embed/").status_code == 200
        assert httpx.get(url + "/documents").status_code == 200
        answer = httpx.post(url + "/api/ask", json={"question": "What pipeline did TC Energy finish?"}, timeout=60)
        assert answer.status_code == 200, answer.text
        chat, _ = Client(url + "/", verbose=False).predict(question="Who is Mark Carney?", api_name="/ask")
        assert chat, "the UI gave no answer"
        print("driven")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    """
)


def test_no_connection_leaves_the_machine(tmp_path: Path) -> None:
    missing = [tool for tool in ("unshare", "strace", "ip") if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        reason = f"needs root and {', '.join(missing) or 'unshare, strace, ip'} for a loopback-only namespace"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run this test)")
        pytest.skip(reason)
    copy_corpus(tmp_path / "corpus", SMALL_CORPUS)
    (tmp_path / "driver.py").write_text(DRIVER)
    log = tmp_path / "connect.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKDOCS_")}
    env.update(
        ASKDOCS_CORPUS_DIR=str(tmp_path / "corpus"),
        ASKDOCS_INDEX_DIR=str(tmp_path / "index"),
        PYTHONPATH=str(ROOT),
        GRADIO_ANALYTICS_ENABLED="False",
    )
    script = f"ip link set lo up && exec {sys.executable} {tmp_path / 'driver.py'} {log} 7860"
    run = subprocess.run(
        ["unshare", "-n", "sh", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=540
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "driven" in run.stdout
    trace = log.read_text().splitlines()
    assert any("accept" in line for line in trace), "strace saw the server accept no request: the trace failed"
    calls = [line for line in trace if "connect(" in line]
    outside = [line for line in calls if any(a not in LOCAL_ADDRESSES for a in _addresses(line))]
    assert outside == []


def _addresses(line: str) -> list[str]:
    return [v4 or v6 for v4, v6 in _ADDRESS.findall(line)]
