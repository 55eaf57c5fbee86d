"""Every message printed by every end-to-end test (transcripts written by the Rust suite when
SOURCE_INSTAGRAM_TRANSCRIPTS is set) validates against Airbyte's published protocol models."""

import os
from pathlib import Path

import pytest
from airbyte_protocol.models import AirbyteMessage

TRANSCRIPTS = Path(os.environ.get("SOURCE_INSTAGRAM_TRANSCRIPTS", Path(__file__).resolve().parents[2] / "target/transcripts"))


def transcript_files():
    return sorted(TRANSCRIPTS.glob("*.jsonl"))


def test_transcripts_exist():
    assert len(transcript_files()) > 20, f"no transcripts in {TRANSCRIPTS}: run the Rust suite first"


@pytest.mark.parametrize("path", transcript_files(), ids=lambda p: p.name)
def test_every_message_is_a_valid_airbyte_message(path):
    lines = [l for l in path.read_text().splitlines() if l.strip()]
    for number, line in enumerate(lines, 1):
        try:
            AirbyteMessage.model_validate_json(line)
        except Exception as e:  # pydantic.ValidationError
            raise AssertionError(f"{path.name}:{number} is not an AirbyteMessage: {e}\n{line[:500]}")
