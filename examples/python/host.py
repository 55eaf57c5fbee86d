"""Run the source-instagram component from Python with wasmtime-py (PyPI `wasmtime`).

A host for the bare component (`source-instagram component --out source-instagram.wasm`), as
another platform would embed it: WASI p2 and `wasi:http` from wasmtime, the `emitter` interface
implemented here (one Airbyte message per call, on stdout), and the config passed unchanged, so
the component sends `access_token` itself (the portable token contract). Compared to the native
`source-instagram` host it has no allow-list, rate-limit pacing, retries or memory/time limits.

    python host.py COMPONENT.wasm spec
    python host.py COMPONENT.wasm check|discover --config CONFIG.json
    python host.py COMPONENT.wasm read --config CONFIG.json --catalog CATALOG.json [--state STATE.json]

SOURCE_INSTAGRAM_FAKE_NOW (RFC 3339) pins the component's wall clock, as the native host does
for reproducible runs (tests against the fake Graph API).
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime

from wasmtime import Config, Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record

WIT = "airbyte:connector"


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")


def now_ms():
    return int(time.time() * 1000)


def trace(kind, body):
    emit({"type": "TRACE", "trace": {"type": kind, "emitted_at": now_ms(), kind.lower(): body}})


def define_emitter(root):
    """The `emitter` import: what the component says becomes Airbyte messages."""
    with root.add_instance(f"{WIT}/emitter@0.1.0") as emitter:
        emitter.add_func("emit-record", lambda _s, stream, data: emit(
            {"type": "RECORD", "record": {"stream": stream, "data": json.loads(data), "emitted_at": now_ms()}}))
        emitter.add_func("emit-state", lambda _s, stream, state, count: emit(
            {"type": "STATE", "state": {"type": "STREAM", "sourceStats": {"recordCount": float(count)},
                                        "stream": {"stream_descriptor": {"name": stream}, "stream_state": json.loads(state)}}}))
        emitter.add_func("log", lambda _s, level, message: emit(
            {"type": "LOG", "log": {"level": level.upper(), "message": message}}))
        emitter.add_func("status", lambda _s, stream, status: trace(
            "STREAM_STATUS", {"stream_descriptor": {"name": stream}, "status": status.upper()}))
        emitter.add_func("estimate", lambda _s, stream, rows: trace(
            "ESTIMATE", {"name": stream, "type": "STREAM", "row_estimate": rows}))
        emitter.add_func("stream-error", lambda _s, error: trace("ERROR", error_body(error)))
    with root.add_instance(f"{WIT}/types@0.1.0"):
        pass  # types only


def define_fixed_clock(root, fixed):
    """Shadow WASI's wall clock with a fixed instant (reproducible runs)."""
    def datetime_record(seconds):
        r = Record()
        r.seconds, r.nanoseconds = seconds, 0
        return r

    seconds = int(datetime.fromisoformat(fixed.replace("Z", "+00:00")).timestamp())
    with root.add_instance("wasi:clocks/wall-clock@0.2.12") as clock:
        clock.add_func("now", lambda _s: datetime_record(seconds))
        clock.add_func("resolution", lambda _s: datetime_record(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("component")
    parser.add_argument("command", choices=["spec", "check", "discover", "read"])
    parser.add_argument("--config")
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    args = parser.parse_args()
    read = lambda path: open(path).read() if path else None  # noqa: E731

    engine = Engine(Config())
    component = Component.from_file(engine, args.component)
    linker = Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()
    linker.allow_shadowing = True
    with linker.root() as root:
        define_emitter(root)
        if os.environ.get("SOURCE_INSTAGRAM_FAKE_NOW"):
            define_fixed_clock(root, os.environ["SOURCE_INSTAGRAM_FAKE_NOW"])
    store = Store(engine)
    wasi = WasiConfig()
    wasi.inherit_stderr()  # the component's own stdout is not the protocol stream
    store.set_wasi(wasi)
    store.set_wasi_http()
    instance = linker.instantiate(store, component)
    source = instance.get_export_index(store, f"{WIT}/source@0.1.0")

    def call(name, *params):
        func = instance.get_func(store, instance.get_export_index(store, name, source))
        result = func(store, *params)
        if hasattr(func, "post_return"):
            func.post_return(store)
        return result

    if args.command == "spec":
        emit({"type": "SPEC", "spec": json.loads(call("spec"))})
        return 0
    if not args.config:
        parser.error(f"{args.command} needs --config")
    config = read(args.config)
    if args.command == "check":
        error = call("check", config)
        if error is None:
            emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})
        elif getattr(error, "failure-type") == "config-error":
            emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "FAILED", "message": error.message}})
        else:
            return fail(error)
        return 0
    if args.command == "discover":
        result = call("discover", config)
        if isinstance(result, str):
            emit({"type": "CATALOG", "catalog": json.loads(result)})
            return 0
        return fail(result)
    if not args.catalog:
        parser.error("read needs --catalog")
    error = call("read", config, read(args.catalog), read(args.state))
    return 0 if error is None else fail(error)


def error_body(error):
    # Record fields keep their WIT (kebab-case) names.
    body = {"message": error.message, "failure_type": getattr(error, "failure-type").replace("-", "_")}
    if getattr(error, "internal-message"):
        body["internal_message"] = getattr(error, "internal-message")
    if error.stream:
        body["stream_descriptor"] = {"name": error.stream}
    return body


def fail(error):
    trace("ERROR", error_body(error))
    return 1


if __name__ == "__main__":
    sys.exit(main())
