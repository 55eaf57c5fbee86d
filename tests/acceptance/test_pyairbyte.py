"""PyAirbyte as a real client: check, discover and a full read into its DuckDB cache, with the
record counts per stream equal to what the connector itself prints for the same read."""

import json
import subprocess
from collections import Counter

import airbyte as ab

from conftest import BIN

STREAMS = {"users", "media", "media_insights", "stories", "story_insights", "user_insights", "user_insights_breakdowns",
           "user_lifetime_insights", "media_comments", "tagged_media",
           "competitor_profiles", "competitor_media", "hashtag_media"}


def direct_counts(config_path, tmp_path):
    """Records per stream from running the binary directly (the expected answer)."""
    catalog = {
        "streams": [
            {"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for s in sorted(STREAMS)
        ]
    }
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    out = subprocess.run([str(BIN), "read", "--config", str(config_path), "--catalog", str(catalog_path)],
                         capture_output=True, text=True, check=True).stdout
    counts = Counter()
    for line in out.splitlines():
        msg = json.loads(line)
        if msg["type"] == "RECORD":
            counts[msg["record"]["stream"]] += 1
    return counts


def test_pyairbyte_check_discover_read(connector_env, tmp_path):
    url, token, _ = connector_env
    # The public-content streams read only what these lists name (the fake knows both).
    config = {"access_token": token, "api_base_url": url,
              "competitor_usernames": ["rival_roasters", "summit_gear"], "hashtags": ["sunset", "coffee"]}
    source = ab.get_source("source-instagram", config=config, local_executable=str(BIN))
    source.check()
    assert set(source.get_available_streams()) == STREAMS
    spec = source.config_spec
    assert spec["properties"]["access_token"]["airbyte_secret"] is True

    source.select_all_streams()
    cache = ab.DuckDBCache(db_path=str(tmp_path / "cache.duckdb"), schema_name="instagram")
    result = source.read(cache=cache)
    counts = {name: len(list(dataset)) for name, dataset in result.streams.items()}

    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    expected = direct_counts(config_path, tmp_path)
    assert counts == dict(expected)
    assert all(counts[s] > 0 for s in STREAMS)


def test_pyairbyte_check_fails_on_a_bad_token(connector_env):
    url, _, _ = connector_env
    source = ab.get_source("source-instagram", config={"access_token": "wrong-token-123", "api_base_url": url},
                           local_executable=str(BIN))
    try:
        source.check()
    except Exception as e:  # PyAirbyte raises AirbyteConnectorCheckFailedError
        assert "190" in str(e) or "access token" in str(e).lower()
        assert "wrong-token-123" not in str(e)
    else:
        raise AssertionError("check passed with a bad token")


def test_pyairbyte_incremental_reads_resume_from_the_cache_state(connector_env, tmp_path):
    """A second PyAirbyte read into the same cache sends the state it kept and gets only the
    lookback windows back; records merge on their primary keys."""
    url, token, _ = connector_env
    source = ab.get_source("source-instagram", config={"access_token": token, "api_base_url": url},
                           local_executable=str(BIN))
    streams = ("users", "media", "user_insights", "user_insights_breakdowns")
    source.select_streams(list(streams))
    cache = ab.DuckDBCache(db_path=str(tmp_path / "incremental.duckdb"), schema_name="instagram")
    first = source.read(cache=cache)
    totals = {name: len(list(first[name])) for name in streams}
    second = source.read(cache=cache)
    assert 0 < second.processed_records < first.processed_records
    assert {name: len(list(second[name])) for name in totals} == totals
