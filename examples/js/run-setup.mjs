// Set-up for the composed command under `jco run --jco-import …/run-setup.mjs`: grants the
// current directory to the component as `.` (jco 1.35 preopens nothing by default), so relative
// `--config`/`--catalog`/`--state` paths resolve there, like `wasmtime run --dir .`.
import { _setPreopens } from "@bytecodealliance/preview2-shim/filesystem";

_setPreopens({ ".": process.cwd() });
