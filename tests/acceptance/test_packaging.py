"""The release artifacts of packaging/build.sh, used the way their users use them: PyAirbyte
installs the wheel from its file and reads every stream; the Airbyte image runs spec, check
and read the way Airbyte's launcher does (config files mounted, the command through the
image's shell with `eval "$AIRBYTE_ENTRYPOINT …"`, stdout captured), against the fake Graph
API. They need the artifacts, so they run when SOURCE_INSTAGRAM_PACKAGING=1 (CI, after
packaging/build.sh; tests/run-all.sh builds them then) and are skipped otherwise."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import airbyte as ab
import pytest
import yaml

from conftest import BIN, ROOT
from test_embedding import STREAMS, records
from test_pyairbyte import STREAMS as ALL_STREAMS, direct_counts

IMAGE = "airbyte/source-instagram-wasm:0.1.0"
# The names PyAirbyte derives from the image (tests/acceptance/test_names.py checks they agree).
CONNECTOR = "source-instagram-wasm"

pytestmark = pytest.mark.skipif(os.environ.get("SOURCE_INSTAGRAM_PACKAGING") != "1",
                                reason="packaging tests run with SOURCE_INSTAGRAM_PACKAGING=1 (after packaging/build.sh)")


def the_wheel():
    wheels = sorted((ROOT / "target/wheels").glob("airbyte_source_instagram_wasm-0.1.0-*.whl"))
    assert len(wheels) == 1, f"expected one wheel from packaging/build.sh, found {wheels}"
    return wheels[0]


def test_pyairbyte_installs_the_wheel_and_reads_every_stream(connector_env, tmp_path, monkeypatch):
    url, token, _ = connector_env
    # As in an activated venv: PyAirbyte installs with the `uv` next to its Python.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # The public-content streams read only what these lists name (the fake knows both).
    config = {"access_token": token, "api_base_url": url,
              "competitor_usernames": ["rival_roasters", "summit_gear"], "hashtags": ["sunset", "coffee"]}
    source = ab.get_source(CONNECTOR, config=config, pip_url=str(the_wheel()), install_root=tmp_path)
    source.check()
    # PyAirbyte found the distribution it derives from the name (`airbyte-source-instagram-wasm`).
    assert source.executor.get_installed_version(raise_on_error=True) == "0.1.0"
    source.select_all_streams()
    result = source.read(cache=ab.DuckDBCache(db_path=str(tmp_path / "cache.duckdb"), schema_name="instagram"))
    counts = {name: len(list(dataset)) for name, dataset in result.streams.items()}

    installed = list(tmp_path.glob(f".venv-{CONNECTOR}/bin/{CONNECTOR}"))
    assert installed, "PyAirbyte did not install the wheel's binary into its venv"
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    assert counts == dict(direct_counts(config_path, tmp_path))
    assert set(counts) == set(ALL_STREAMS) and all(counts.values())


def test_the_wheel_installs_only_the_source_instagram_wasm_command(tmp_path):
    """`pip install` of the wheel gives the `source-instagram-wasm` command and no
    `source-instagram`, the script of Airbyte's own `airbyte-source-instagram`."""
    with zipfile.ZipFile(the_wheel()) as wheel:
        scripts = sorted(n.split("/", 2)[2] for n in wheel.namelist() if n.split("/")[1:2] == ["scripts"])
    assert scripts == [CONNECTOR]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "--no-index", str(the_wheel())], check=True)
    assert not (venv / "bin/source-instagram").exists()
    out = subprocess.run([str(venv / f"bin/{CONNECTOR}"), "spec"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1])["type"] == "SPEC"
    shown = subprocess.run([str(venv / "bin/pip"), "show", "airbyte-source-instagram-wasm"], capture_output=True,
                           text=True, check=True).stdout
    assert "Version: 0.1.0" in shown


def test_pyairbyte_validation_passes_with_the_wheel(connector_env, tmp_path, monkeypatch):
    """PyAirbyte's own connector validation (`airbyte-lib-validate-source`: names from
    metadata.yaml, install into `.venv-<name>` in the working directory, a registry entry naming
    the PyPI package, then get_source without installing, check, discover and a record), with the
    wheel installed where the validation would build the package from source. It runs in its own
    process, in that directory, as the validation command does."""
    url, token, _ = connector_env
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    metadata = yaml.safe_load((ROOT / "packaging/metadata.yaml").read_text())["data"]
    name = metadata["dockerRepository"].removeprefix("airbyte/")
    assert name == CONNECTOR
    subprocess.run(["uv", "venv", "--quiet", f".venv-{name}"], check=True, cwd=tmp_path)
    subprocess.run(["uv", "pip", "install", "--quiet", "--python", f".venv-{name}", str(the_wheel())], check=True,
                   cwd=tmp_path)
    registry = {"sources": [{"dockerRepository": f"airbyte/{name}", "dockerImageTag": "0.1.0",
                             "remoteRegistries": metadata["remoteRegistries"]}]}
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    monkeypatch.setenv("AIRBYTE_LOCAL_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.delenv("AIRBYTE_INSTALL_DIR", raising=False)
    monkeypatch.delenv("AIRBYTE_PROJECT_DIR", raising=False)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": token, "api_base_url": url}))
    script = ("import sys, airbyte as ab\n"
              "from airbyte import validate\n"
              "validate.full_tests(sys.argv[1], sys.argv[2])\n"
              "version = ab.get_source(sys.argv[1], install_if_missing=False).executor.get_installed_version(raise_on_error=True)\n"
              "print('installed', version)\n")
    out = subprocess.run([sys.executable, "-c", script, name, str(config)], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "installed 0.1.0" in out.stdout
    assert token not in out.stdout + out.stderr


@pytest.fixture()
def mounted(connector_env):
    """A directory the image's non-root user can read, mounted at /config like the platform's."""
    url, token, now = connector_env
    d = ROOT / "target/image-test"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"access_token": token, "api_base_url": url}))
    catalog = {"streams": [{"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                            "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for s in STREAMS]}
    (d / "catalog.json").write_text(json.dumps(catalog))
    for p in [d, *d.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return d, token, now


def launch(mounted, script):
    d, token, now = mounted
    out = subprocess.run(["bash", str(ROOT / "packaging/podman.sh"), "run", "--rm", "--network", "host",
                          "-v", f"{d}:/config:ro", "-e", f"SOURCE_INSTAGRAM_FAKE_NOW={now}",
                          "--entrypoint", "sh", IMAGE, "-c", script],
                         capture_output=True, text=True, timeout=600)
    assert token not in out.stdout and token not in out.stderr
    return out


def airbyte(mounted, args):
    out = launch(mounted, f'eval "$AIRBYTE_ENTRYPOINT {args}"')
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_image_runs_spec_check_and_read_like_airbytes_launcher(mounted):
    whoami = launch(mounted, "id -u; echo $AIRBYTE_ENTRYPOINT")
    assert whoami.stdout.split() == ["1000", f"/usr/local/bin/{CONNECTOR}"], whoami.stderr

    spec = airbyte(mounted, "spec")
    assert spec[-1]["type"] == "SPEC"
    check = airbyte(mounted, "check --config /config/config.json")
    assert check[-1]["connectionStatus"] == {"status": "SUCCEEDED"}
    read = airbyte(mounted, "read --config /config/config.json --catalog /config/catalog.json")

    d = mounted[0]
    native = subprocess.run([str(BIN), "read", "--config", str(d / "config.json"), "--catalog", str(d / "catalog.json")],
                            capture_output=True, text=True, check=True).stdout
    assert records(read) == records([json.loads(line) for line in native.splitlines()])
    assert any(m["type"] == "STATE" for m in read)
