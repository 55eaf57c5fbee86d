"""The names the ecosystem resolves agree: PyAirbyte and Airbyte's registry derive the PyPI
distribution (`airbyte-<name>`) and the command (`<name>`) from the image in metadata.yaml, so
the image, the wheel, its script, the registry entry and the spec must all say the same thing,
and none of them may be Airbyte's own `source-instagram` (PyPI `airbyte-source-instagram`)."""

import json
import subprocess
import tomllib

import yaml

from conftest import BIN, ROOT
from test_pyairbyte import STREAMS

METADATA = yaml.safe_load((ROOT / "packaging/metadata.yaml").read_text())["data"]
NAME = METADATA["dockerRepository"].removeprefix("airbyte/")


def test_image_wheel_command_and_definition_agree():
    assert METADATA["dockerRepository"] == "airbyte/source-instagram-wasm"
    assert NAME != "source-instagram", "Airbyte's own connector has that name"
    project = tomllib.loads((ROOT / "packaging/python/pyproject.toml").read_text())
    assert project["project"]["name"] == f"airbyte-{NAME}"
    assert METADATA["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": f"airbyte-{NAME}"}
    # The wheel ships exactly the binary of that name (maturin builds the binaries whose
    # required features the wheel's build turns on).
    host = tomllib.loads((ROOT / "host/Cargo.toml").read_text())
    maturin = project["tool"]["maturin"]
    features = set(maturin["features"]) | (set() if maturin.get("no-default-features") else set(host["features"]["default"]))
    shipped = [b["name"] for b in host["bin"] if set(b.get("required-features", [])) <= features]
    assert shipped == [NAME]
    containerfile = (ROOT / "packaging/Containerfile").read_text()
    assert f'ENTRYPOINT ["/usr/local/bin/{NAME}"]' in containerfile
    assert f"AIRBYTE_ENTRYPOINT=/usr/local/bin/{NAME}" in containerfile
    assert f'io.airbyte.name="{METADATA["dockerRepository"]}"' in containerfile
    assert f'io.airbyte.version="{METADATA["dockerImageTag"]}"' in containerfile
    image = f'{METADATA["dockerRepository"]}:{METADATA["dockerImageTag"]}'
    assert f'tag="${{2:-{image}}}"' in (ROOT / "packaging/image.sh").read_text()


def test_registry_entry_declares_our_docs_streams_and_heartbeat():
    spec = json.loads(subprocess.run([str(BIN), "spec"], capture_output=True, text=True, check=True).stdout)["spec"]
    assert spec["documentationUrl"] == METADATA["documentationUrl"]
    assert "docs.airbyte.com" not in METADATA["documentationUrl"], "our own docs, not Airbyte's connector's"
    suggested = METADATA["suggestedStreams"]["streams"]
    assert suggested and set(suggested) <= STREAMS
    assert isinstance(METADATA["maxSecondsBetweenMessages"], int)
    # Longer than any silence of a read: the minute between RATE_LIMITED heartbeats, and the
    # 3 minutes a request may spend failing before it gives up.
    assert METADATA["maxSecondsBetweenMessages"] >= 10 * 60
