// Run the source-instagram component from Node with jco (npm `@bytecodealliance/jco`).
//
// A host for the bare component, as another platform would embed it. Transpile it once, then run:
//   npx jco transpile source-instagram.wasm --instantiation async -o gen
//   node host.mjs gen/source-instagram.js spec
//   node host.mjs gen/source-instagram.js check|discover --config CONFIG.json
//   node host.mjs gen/source-instagram.js read --config CONFIG.json --catalog CATALOG.json [--state STATE.json]
// WASI (including wasi:http) comes from `@bytecodealliance/preview2-shim`, the `emitter` import is
// implemented here (one Airbyte message per call, on stdout), and the config is passed unchanged,
// so the component sends `access_token` itself (the portable token contract). Compared to the
// native `source-instagram` host it has no allow-list, pacing, retries or memory/time limits.
// SOURCE_INSTAGRAM_FAKE_NOW (RFC 3339) pins the component's wall clock for reproducible runs.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { clocks } from "@bytecodealliance/preview2-shim";
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { config: { type: "string" }, catalog: { type: "string" }, state: { type: "string" } },
});
const [modulePath, command] = positionals;
if (!modulePath || !["spec", "check", "discover", "read"].includes(command)) {
  console.error("usage: node host.mjs TRANSPILED.js spec|check|discover|read [--config F] [--catalog F] [--state F]");
  process.exit(2);
}

const emit = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const trace = (type, body) => emit({ type: "TRACE", trace: { type, emitted_at: Date.now(), [type.toLowerCase()]: body } });

// The `emitter` import: what the component says becomes Airbyte messages.
const emitter = {
  emitRecord: (stream, data) => emit({ type: "RECORD", record: { stream, data: JSON.parse(data), emitted_at: Date.now() } }),
  emitState: (stream, state, count) => emit({ type: "STATE", state: { type: "STREAM", sourceStats: { recordCount: Number(count) },
    stream: { stream_descriptor: { name: stream }, stream_state: JSON.parse(state) } } }),
  log: (level, message) => emit({ type: "LOG", log: { level: level.toUpperCase(), message } }),
  status: (stream, status) => trace("STREAM_STATUS", { stream_descriptor: { name: stream }, status: status.toUpperCase() }),
  estimate: (stream, rows) => trace("ESTIMATE", { name: stream, type: "STREAM", row_estimate: Number(rows) }),
  streamError: (e) => trace("ERROR", errorBody(e)),
};

function errorBody(e) {
  const body = { message: e.message, failure_type: e.failureType.replace("-", "_") };
  if (e.internalMessage) body.internal_message = e.internalMessage;
  if (e.stream) body.stream_descriptor = { name: e.stream };
  return body;
}

let clockShim = clocks;
if (process.env.SOURCE_INSTAGRAM_FAKE_NOW) {
  const seconds = BigInt(Math.floor(Date.parse(process.env.SOURCE_INSTAGRAM_FAKE_NOW) / 1000));
  clockShim = { ...clocks, wallClock: { now: () => ({ seconds, nanoseconds: 0 }), resolution: () => ({ seconds: 1n, nanoseconds: 0 }) } };
}
const imports = {
  ...new WASIShim({ clocks: clockShim }).getImportObject(),
  "airbyte:connector/emitter": emitter,
  "airbyte:connector/types": {},
};

const moduleUrl = pathToFileURL(modulePath);
const { instantiate } = await import(moduleUrl);
const getCoreModule = (name) => WebAssembly.compile(readFileSync(new URL(name, moduleUrl)));
const { source } = await instantiate(getCoreModule, imports);

const file = (path) => (path === undefined ? undefined : readFileSync(path, "utf8"));
function fail(error) {
  const e = error?.payload;
  if (!e) throw error; // a trap, not a connector error
  trace("ERROR", errorBody(e));
  process.exitCode = 1;
}

try {
  if (command === "spec") {
    emit({ type: "SPEC", spec: JSON.parse(source.spec()) });
  } else if (command === "check") {
    try {
      source.check(file(values.config));
      emit({ type: "CONNECTION_STATUS", connectionStatus: { status: "SUCCEEDED" } });
    } catch (error) {
      if (error?.payload?.failureType !== "config-error") throw error;
      emit({ type: "CONNECTION_STATUS", connectionStatus: { status: "FAILED", message: error.payload.message } });
    }
  } else if (command === "discover") {
    emit({ type: "CATALOG", catalog: JSON.parse(source.discover(file(values.config))) });
  } else {
    source.read(file(values.config), file(values.catalog), file(values.state));
  }
} catch (error) {
  fail(error);
}
