"""The component outside our host: the artifacts `source-instagram component` writes, run by
the Python example (wasmtime-py), the JavaScript example (jco transpile) and the composed
command under `jco run`, each against the fake Graph API. Their records must equal the native
host's read of the same dataset, and the token, passed in the config (the portable token
contract), must authenticate every request and never appear in any output."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import BIN, ROOT

STREAMS = ["media", "media_insights", "stories", "story_insights", "user_insights", "user_lifetime_insights", "users"]
JS = ROOT / "examples/js"
OUT = ROOT / "target/embedding"


def node_tools():
    """Node and the example's npm packages; CI (SOURCE_INSTAGRAM_REQUIRE_ALL=1) must have them."""
    jco = JS / "node_modules/.bin/jco"
    if shutil.which("node") and jco.exists():
        return jco
    if os.environ.get("SOURCE_INSTAGRAM_REQUIRE_ALL") == "1":
        raise AssertionError("node and examples/js/node_modules are required (npm ci in examples/js)")
    pytest.skip("node or examples/js/node_modules missing (run `npm ci` in examples/js)")


@pytest.fixture(scope="session")
def artifacts():
    """The bare component and the composed command, written by the native binary."""
    OUT.mkdir(parents=True, exist_ok=True)
    bare, command = OUT / "source-instagram.wasm", OUT / "source-instagram-command.wasm"
    subprocess.run([str(BIN), "component", "--out", str(bare)], check=True)
    subprocess.run([str(BIN), "component", "--command", "--out", str(command)], check=True)
    assert bare.read_bytes()[:8] == b"\0asm\x0d\0\x01\0", "not a component"
    assert command.read_bytes()[:8] == b"\0asm\x0d\0\x01\0", "not a component"
    return bare, command


@pytest.fixture()
def files(connector_env, tmp_path):
    url, token, _ = connector_env
    (tmp_path / "config.json").write_text(json.dumps({"access_token": token, "api_base_url": url}))
    catalog = {"streams": [{"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                            "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for s in STREAMS]}
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    return tmp_path, token


def run(cmd, cwd, token):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert token not in out.stdout and token not in out.stderr, "the token leaked into the output"
    messages = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return out.returncode, messages, out.stderr


def records(messages):
    """Records as comparable (stream, data) pairs, order-free (emitted_at differs by nature)."""
    return sorted(json.dumps([m["record"]["stream"], m["record"]["data"]], sort_keys=True)
                  for m in messages if m["type"] == "RECORD")


def native(files):
    cwd, token = files
    code, messages, err = run([str(BIN), "read", "--config", "config.json", "--catalog", "catalog.json"], cwd, token)
    assert code == 0, err
    got = records(messages)
    assert {json.loads(r)[0] for r in got} == set(STREAMS)
    return got


def python_host(bare, *args):
    return [sys.executable, str(ROOT / "examples/python/host.py"), str(bare), *args]


def test_python_example_reads_what_the_native_host_reads(artifacts, files):
    code, messages, err = run(python_host(artifacts[0], "read", "--config", "config.json", "--catalog", "catalog.json"),
                              files[0], files[1])
    assert code == 0, err
    assert records(messages) == native(files)
    assert any(m["type"] == "STATE" for m in messages)


def test_the_component_sends_the_token_from_the_config_itself(artifacts, files):
    """No host adds a header here: check passes only because the component sent the token."""
    cwd, token = files
    code, messages, err = run(python_host(artifacts[0], "check", "--config", "config.json"), cwd, token)
    assert code == 0, err
    assert messages[-1]["connectionStatus"] == {"status": "SUCCEEDED"}

    config = json.loads((cwd / "config.json").read_text())
    for name, changed in {"no-token": {k: v for k, v in config.items() if k != "access_token"},
                          "wrong-token": {**config, "access_token": "wrong-token-123"}}.items():
        (cwd / f"{name}.json").write_text(json.dumps(changed))
        code, messages, _ = run(python_host(artifacts[0], "check", "--config", f"{name}.json"), cwd, "wrong-token-123")
        status = [m for m in messages if m["type"] in ("CONNECTION_STATUS", "TRACE")]
        assert status and status[-1].get("connectionStatus", {}).get("status") != "SUCCEEDED", name


def test_js_example_reads_what_the_native_host_reads(artifacts, files):
    jco = node_tools()
    gen = JS / "gen"
    shutil.rmtree(gen, ignore_errors=True)
    subprocess.run([str(jco), "transpile", str(artifacts[0]), "--instantiation", "async", "--no-typescript", "-q",
                    "--name", "source-instagram", "-o", str(gen)], check=True, cwd=JS)
    code, messages, err = run(["node", str(JS / "host.mjs"), str(gen / "source-instagram.js"), "read",
                               "--config", "config.json", "--catalog", "catalog.json"], files[0], files[1])
    assert code == 0, err
    assert records(messages) == native(files)


def jco_run(jco, command, tmp, *args):
    return [str(jco), "run", "--jco-import", str(JS / "run-setup.mjs"),
            "--jco-map", f"wasi:clocks/wall-clock={JS / 'fixed-clock.mjs'}", "--jco-dir", str(tmp / "jco"),
            str(command), *args]


def test_composed_command_under_jco_run_reads_what_the_native_host_reads(artifacts, files):
    jco = node_tools()
    cwd, token = files
    code, messages, err = run(jco_run(jco, artifacts[1], cwd, "spec"), cwd, token)
    assert code == 0, err
    assert messages[0]["type"] == "SPEC" and "access_token" in messages[0]["spec"]["connectionSpecification"]["properties"]

    code, messages, err = run(jco_run(jco, artifacts[1], cwd, "check", "--config", "config.json"), cwd, token)
    assert (code, messages[-1]["connectionStatus"]["status"]) == (0, "SUCCEEDED"), err

    code, messages, err = run(jco_run(jco, artifacts[1], cwd, "read", "--config", "config.json",
                                      "--catalog", "catalog.json"), cwd, token)
    assert code == 0, err
    assert records(messages) == native(files)

    code, messages, _ = run(jco_run(jco, artifacts[1], cwd, "read", "--config", "config.json"), cwd, token)
    assert code != 0 and messages[-1]["trace"]["error"]["failure_type"] == "config_error"
