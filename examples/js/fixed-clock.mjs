// `wasi:clocks/wall-clock` pinned to SOURCE_INSTAGRAM_FAKE_NOW (RFC 3339), for reproducible runs
// of the composed command under `jco run --jco-map wasi:clocks/wall-clock=…/fixed-clock.mjs`;
// without the variable it is the real clock.
import { clocks } from "@bytecodealliance/preview2-shim";

const fixed = process.env.SOURCE_INSTAGRAM_FAKE_NOW;
const seconds = fixed === undefined ? undefined : BigInt(Math.floor(Date.parse(fixed) / 1000));

export const now = seconds === undefined ? clocks.wallClock.now : () => ({ seconds, nanoseconds: 0 });
export const resolution = seconds === undefined ? clocks.wallClock.resolution : () => ({ seconds: 1n, nanoseconds: 0 });
