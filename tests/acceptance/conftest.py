"""Fixtures for the acceptance suite: the real connector binary and the fake Graph API."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SOURCE_INSTAGRAM_BIN", ROOT / "target/debug/source-instagram"))
FAKE = Path(os.environ.get("FAKE_GRAPH_BIN", ROOT / "target/debug/fake-graph"))


@pytest.fixture(scope="session")
def fake_graph():
    """A fake Graph API (dataset `small`) on an ephemeral port: (url, token, now)."""
    proc = subprocess.Popen([str(FAKE), "--dataset", "small"], stdout=subprocess.PIPE, text=True)
    info = {}
    while len(info) < 3:
        line = proc.stdout.readline()
        assert line, "fake-graph exited early"
        if line.startswith("FAKE_GRAPH_"):
            key, value = line.strip().split("=", 1)
            info[key] = value
    yield info["FAKE_GRAPH_URL"], info["FAKE_GRAPH_TOKEN"], info["FAKE_GRAPH_NOW"]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture()
def connector_env(fake_graph, monkeypatch):
    """Environment for the connector (inherited by PyAirbyte's subprocess)."""
    _, _, now = fake_graph
    monkeypatch.setenv("SOURCE_INSTAGRAM_FAKE_NOW", now)
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("SOURCE_INSTAGRAM_CACHE_DIR", str(ROOT / "target/component-cache"))
    return fake_graph
