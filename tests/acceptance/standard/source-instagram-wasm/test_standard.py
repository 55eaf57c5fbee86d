"""Airbyte's standard tests for sources, unchanged, against our binary and our release image.

`airbyte_cdk.test.standard_tests.SourceTestSuiteBase` (PyPI `airbyte-cdk`, the successor of
the Connector Acceptance Tests) reads the scenarios of `acceptance-test-config.yml` beside this
file and runs: spec lint, every config against the spec, check (with the secret-leak check),
discover with its catalog checks (the advisory ones turned into errors here, as its docs say:
`-W error::DiscoveredCatalogWarning`), a read of every stream validated against its schema
(`test_strictness_level: high`), a read with a bad catalog, and the same through the image.

Only how the suite reaches the connector is adapted, never what it asserts:
- in-process, the suite runs a Python `Source` through the CDK's entrypoint; `BinarySource`
  is that Source for our binary: each method runs one command of the binary on the same files
  and hands back what it printed (its stderr goes to the log, so the leak check sees it too);
- the image tests call `docker`; `docker` here is packaging/podman.sh (how podman runs on these
  machines), with the container on the host network and the fake's fixed "now", and the image
  is our release image (`--connector-image`, else airbyte/source-instagram-wasm:0.1.0). They run
  when SOURCE_INSTAGRAM_PACKAGING=1, after packaging/build.sh, like the other packaging tests;
- the spec backward-compatibility test compares with the version published in Airbyte's
  registry: this connector is not published there, and the test machines reach no network but
  package registries, so it is skipped with that reason.

The fake Graph API serves the scenarios (and a second one whose app has "Require App Secret"
on, for the `appsecret_proof` scenarios); their configs are written into secrets/ when the
session starts. (The skips are in tests/acceptance/conftest.py, where pytest reads them.)"""

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, ROOT, start_fake_graph

HERE = Path(__file__).resolve().parent
IMAGE = "airbyte/source-instagram-wasm:0.1.0"
PACKAGING = os.environ.get("SOURCE_INSTAGRAM_PACKAGING") == "1"
SHIM = ROOT / "target/standard-tests/bin"

# `docker` for the image tests, on PATH before the suite is imported (it looks for `docker`
# when it is imported).
SHIM.mkdir(parents=True, exist_ok=True)
(SHIM / "docker").write_text(f"""#!/usr/bin/env bash
# `docker` for Airbyte's standard tests: podman as these machines run it, the container on the
# host network (the fake Graph API listens on 127.0.0.1) with the fake's fixed "now".
set -euo pipefail
if [ "${{1:-}}" = run ]; then
    shift
    set -- run --network host -e "SOURCE_INSTAGRAM_FAKE_NOW=${{SOURCE_INSTAGRAM_FAKE_NOW:-}}" "$@"
fi
exec bash {ROOT}/packaging/podman.sh "$@"
""")
(SHIM / "docker").chmod(0o755)
os.environ["PATH"] = f"{SHIM}{os.pathsep}{os.environ['PATH']}"

from airbyte_cdk.models import (  # noqa: E402  (after the PATH set-up above)
    AirbyteConnectionStatus,
    AirbyteMessageSerializer,
    FailureType,
    Type,
)
from airbyte_cdk.sources import Source  # noqa: E402
from airbyte_cdk.sources.message import InMemoryMessageRepository  # noqa: E402
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase  # noqa: E402
from airbyte_cdk.utils.traced_exception import AirbyteTracedException  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error::airbyte_cdk.test.standard_tests.DiscoveredCatalogWarning")


class BinarySource(Source):
    """Our binary as the `Source` the CDK's entrypoint runs: each command of the binary on the
    same config, catalog and state, its messages handed back unchanged."""

    # The binary checks the config against its spec itself (the CDK still does so for `check`).
    check_config_against_spec = False

    def __init__(self):
        self.message_repository = InMemoryMessageRepository()

    def _run(self, logger, *args, **files):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [str(BIN), *args]
            for name, content in files.items():
                if content is None:
                    continue
                path = Path(tmp) / f"{name}.json"
                path.write_text(json.dumps(content))
                argv += [f"--{name}", str(path)]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        for line in out.stderr.splitlines():
            logger.info(line)
        messages = [AirbyteMessageSerializer.load(json.loads(line)) for line in out.stdout.splitlines()]
        errors = [m for m in messages if m.type == Type.TRACE and m.trace.error is not None]
        if out.returncode != 0 and not errors:
            raise RuntimeError(f"{args[0]} exited with {out.returncode} and no error message")
        return messages, errors

    def _queue_all_but(self, messages, kind):
        for m in messages:
            if m.type != kind:
                self.message_repository.emit_message(m)

    def spec(self, logger):
        messages, _ = self._run(logger, "spec")
        return next(m.spec for m in messages if m.type == Type.SPEC)

    def check(self, logger, config) -> AirbyteConnectionStatus:
        messages, errors = self._run(logger, "check", config=config)
        statuses = [m.connectionStatus for m in messages if m.type == Type.CONNECTION_STATUS]
        self._queue_all_but([m for m in messages if m not in errors], Type.CONNECTION_STATUS)
        if errors and not statuses:
            error = errors[-1].trace.error
            raise AirbyteTracedException(message=error.message, internal_message=error.internal_message,
                                         failure_type=error.failure_type or FailureType.system_error)
        return statuses[-1]

    def discover(self, logger, config):
        messages, errors = self._run(logger, "discover", config=config)
        catalogs = [m.catalog for m in messages if m.type == Type.CATALOG]
        self._queue_all_but(messages, Type.CATALOG)
        if errors and not catalogs:
            error = errors[-1].trace.error
            raise AirbyteTracedException(message=error.message, internal_message=error.internal_message,
                                         failure_type=error.failure_type or FailureType.system_error)
        return catalogs[-1]

    # The catalog and state reach the binary as the files the suite wrote (a bad catalog too).
    def read_catalog(self, catalog_path):
        return json.loads(Path(catalog_path).read_text())

    def read_state(self, state_path):
        return json.loads(Path(state_path).read_text()) if state_path else None

    def read(self, logger, config, catalog, state=None):
        messages, _ = self._run(logger, "read", config=config, catalog=catalog, state=state)
        yield from messages


def _write(path, config):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)


@pytest.fixture(scope="module", autouse=True)
def scenario_configs(fake_graph_info):
    """The scenarios' configs, for this session's fakes, and the connector's environment."""
    info = fake_graph_info
    url, token = info["FAKE_GRAPH_URL"], info["FAKE_GRAPH_TOKEN"]
    secrets = HERE / "secrets"
    # The public-content streams read only what these lists name (the fake knows them).
    public = {"competitor_usernames": ["rival_roasters", "summit_gear"], "hashtags": ["sunset", "coffee"]}
    _write(secrets / "facebook/config.json", {"access_token": token, "api_base_url": url, **public})
    _write(secrets / "instagram/config.json", {"access_token": token, "api_base_url": url, "login": "instagram"})
    _write(secrets / "invalid/expired_token.json", {"access_token": "expired-token", "api_base_url": url})
    _write(secrets / "invalid/unknown_login.json", {"access_token": token, "api_base_url": url, "login": "myspace"})
    _write(secrets / "invalid/hashtags_not_a_list.json",
           {"access_token": token, "api_base_url": url, "login": "instagram", "hashtags": "sunset"})
    proof_fake, proof_info = start_fake_graph("--require-appsecret-proof")
    proof_url = proof_info["FAKE_GRAPH_URL"]
    _write(secrets / "app_secret_proof/config.json",
           {"access_token": token, "api_base_url": proof_url, "client_id": proof_info["FAKE_GRAPH_APP_ID"],
            "client_secret": proof_info["FAKE_GRAPH_APP_SECRET"], "access_token_renewed_at": info["FAKE_GRAPH_NOW"],
            **public})
    _write(secrets / "invalid/no_app_secret.json", {"access_token": token, "api_base_url": proof_url})
    saved = {k: os.environ.get(k) for k in ("SOURCE_INSTAGRAM_FAKE_NOW", "SOURCE_INSTAGRAM_CACHE_DIR")}
    os.environ["SOURCE_INSTAGRAM_FAKE_NOW"] = info["FAKE_GRAPH_NOW"]
    os.environ.setdefault("SOURCE_INSTAGRAM_CACHE_DIR", str(ROOT / "target/component-cache"))
    yield
    proof_fake.terminate()
    proof_fake.wait(timeout=10)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def connector_image_override(request):
    """The release image (packaging/build.sh), unless --connector-image names another."""
    return request.config.getoption("--connector-image") or IMAGE


class TestSourceInstagramWasm(SourceTestSuiteBase):
    """Airbyte's standard source tests, as they are."""

    @classmethod
    def create_connector(cls, scenario):
        return BinarySource()
