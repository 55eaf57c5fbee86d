"""The component outside our host: the artifacts `source-instagram component` writes, run by
the Python example (wasmtime-py), the JavaScript example (jco transpile) and the composed
command under `jco run`, each against the fake Graph API. Their records must equal the native
host's read of the same dataset, and the token, passed in the config (the portable token
contract), must authenticate every request and never appear in any output."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from conftest import BIN, ROOT, start_fake_graph

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


def composed_read_against(jco, command, tmp_path, scale, *fake_args):
    """A read of the composed command under `jco run` against a fake started with `fake_args`,
    its waits `scale` times shorter. Returns (the completed process, the token)."""
    proc, info = start_fake_graph(*fake_args)
    try:
        token = info["FAKE_GRAPH_TOKEN"]
        config = {"access_token": token, "api_base_url": info["FAKE_GRAPH_URL"], "rate_limit_max_wait_minutes": 1440}
        (tmp_path / "policy.json").write_text(json.dumps(config))
        env = {**os.environ, "SOURCE_INSTAGRAM_TIME_SCALE": str(scale)}
        out = subprocess.run(jco_run(jco, command, tmp_path, "read", "--config", "policy.json",
                                     "--catalog", "catalog.json"),
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return out, token


def test_composed_command_rides_out_faults_with_the_policy_component(artifacts, files, tmp_path):
    """The network policy composed into the command (command/http-policy): against a fake that
    throttles and fails a share of the calls transiently (each on its first attempt only), the
    read under `jco run` waits the throttles out (Meta's regain time, else backoff), retries the
    transient failures and re-sends only the failed operations of batches, and gives the records
    of a clean native read. SOURCE_INSTAGRAM_TIME_SCALE makes its waits 600 times shorter, as
    for the host."""
    jco = node_tools()
    expected = native(files)
    out, token = composed_read_against(jco, artifacts[1], tmp_path, 600,
                                       "--throttle", "0.1", "--transient", "0.3", "--seed", "7")
    assert token not in out.stdout and token not in out.stderr, "the token leaked into the output"
    messages = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert records(messages) == expected
    # The policy's own logs (the host's words): throttles waited out, transient failures retried.
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    assert any(l.startswith("Meta throttled") and "pausing requests for" in l for l in logs), logs
    assert any("failed transiently; retry" in l or l.startswith("Transient failure of") for l in logs), logs


def test_composed_command_paces_on_the_usage_headers(artifacts, files, tmp_path):
    """With `X-App-Usage` held at 96 % by the app's other users, the policy component pauses
    before requests as the host does (2 min a pause, Meta giving no regain time; 6000 times
    shorter here) and the read still gives the records of a clean native read."""
    jco = node_tools()
    expected = native(files)
    out, _ = composed_read_against(jco, artifacts[1], tmp_path, 6000, "--app-usage-held", "96")
    messages = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert records(messages) == expected
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    assert any(l == "Meta reports 96% of the rate limit used; pausing requests for 2 min" for l in logs), logs


def test_composed_command_refuses_other_origins_inside_the_component(artifacts, tmp_path):
    """A `paging.next` link on another origin (not Meta's, so the connector follows it as it
    is) is refused inside the policy component with HTTP-request-denied, as the native host
    refuses it (host/tests/network.rs): the other server receives nothing, so never the token,
    and the read fails with the connector's clear error."""
    jco = node_tools()
    hits = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    elsewhere = f"127.0.0.1:{server.server_address[1]}"
    proc, info = start_fake_graph("--page-size", "4", "--paging-base-url", f"http://{elsewhere}")
    try:
        token = info["FAKE_GRAPH_TOKEN"]
        (tmp_path / "config.json").write_text(json.dumps({"access_token": token, "api_base_url": info["FAKE_GRAPH_URL"]}))
        catalog = {"streams": [{"stream": {"name": "media", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                                "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        code, messages, err = run(jco_run(jco, artifacts[1], tmp_path, "read", "--config", "config.json",
                                          "--catalog", "catalog.json"), tmp_path, token)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()
    assert hits == [], "the other origin was reached"
    assert code != 0, err
    error = messages[-1]["trace"]["error"]
    assert error["failure_type"] == "system_error" and "network policy" in error["message"], error
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    assert any(f"Network policy refused a request from the connector to http://{elsewhere}" in l for l in logs), logs
