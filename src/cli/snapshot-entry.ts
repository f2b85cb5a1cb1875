// Entry point of the V8 startup snapshot (scripts/build-snapshot.mjs): all
// modules are loaded and initialised when the snapshot is built, so a start
// only deserialises the heap instead of parsing and running ~1 MB of
// JavaScript. Serves both `hako` and `containerd-shim-hako-v2`.
import { startupSnapshot } from 'node:v8';
import { runEntry } from '../entry.js';

startupSnapshot.setDeserializeMainFunction(() => {
  void runEntry(process.argv);
});
