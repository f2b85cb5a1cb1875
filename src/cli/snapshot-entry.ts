// Entry point of the V8 startup snapshot (scripts/build-snapshot.mjs): all
// modules are loaded and initialised when the snapshot is built, so a start
// only deserialises the heap instead of parsing and running ~1 MB of
// JavaScript. The code every command runs is run once first (warm-up.ts),
// so that the snapshot holds it compiled. Serves both `hako` and
// `containerd-shim-hako-v2`.
import { startupSnapshot } from 'node:v8';
import { runEntry } from '../entry.js';
import { warmUp } from './warm-up.js';

// The builder runs the event loop dry before it takes the snapshot.
warmUp().catch((e: unknown) => {
  process.stderr.write(`snapshot warm-up failed: ${String(e)}\n`);
  process.exitCode = 1;
});

startupSnapshot.setDeserializeMainFunction(() => {
  void runEntry(process.argv);
});
