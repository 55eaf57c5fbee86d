"""Fixtures for the acceptance suite: the real connector binary and the fake Graph API."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SOURCE_INSTAGRAM_BIN", ROOT / "target/debug/source-instagram"))
FAKE = Path(os.environ.get("FAKE_GRAPH_BIN", ROOT / "target/debug/fake-graph"))


def start_fake_graph(*args):
    """Start fake-graph with `args`: (process, {FAKE_GRAPH_URL, _TOKEN, _NOW, _APP_ID, _APP_SECRET})."""
    proc = subprocess.Popen([str(FAKE), "--dataset", "small", *args], stdout=subprocess.PIPE, text=True)
    info = {}
    while len(info) < 5:
        line = proc.stdout.readline()
        assert line, "fake-graph exited early"
        if line.startswith("FAKE_GRAPH_"):
            key, value = line.strip().split("=", 1)
            info[key] = value
    return proc, info


@pytest.fixture(scope="session")
def fake_graph_info():
    """A fake Graph API (dataset `small`) on an ephemeral port: what it printed."""
    proc, info = start_fake_graph()
    yield info
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def fake_graph(fake_graph_info):
    """The fake Graph API as (url, token, now)."""
    info = fake_graph_info
    return info["FAKE_GRAPH_URL"], info["FAKE_GRAPH_TOKEN"], info["FAKE_GRAPH_NOW"]


@pytest.fixture()
def connector_env(fake_graph, monkeypatch):
    """Environment for the connector (inherited by PyAirbyte's subprocess)."""
    _, _, now = fake_graph
    monkeypatch.setenv("SOURCE_INSTAGRAM_FAKE_NOW", now)
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("SOURCE_INSTAGRAM_CACHE_DIR", str(ROOT / "target/component-cache"))
    return fake_graph
