// A JavaScript program for componentize-qjs (QuickJS): two components composed into one,
// printing through wasi:cli/stdout directly (QuickJS has no console).
import { getStdout } from "wasi:cli/stdout@0.2.12";

function bytes(text) {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

export const run = {
  run() {
    const out = getStdout();
    out.blockingWriteAndFlush(bytes("hello from quickjs\n"));
    const squares = [0, 1, 2, 3, 4, 5].map((i) => i * i);
    out.blockingWriteAndFlush(bytes(JSON.stringify({ squares }) + "\n"));
  },
};
