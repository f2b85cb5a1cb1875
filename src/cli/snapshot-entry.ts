// Entry point of the V8 startup snapshot (scripts/build-snapshot.mjs): all
// modules are loaded and initialised when the snapshot is built, so a CLI
// start only deserialises the heap instead of parsing and running ~600 KB of
// JavaScript.
import { startupSnapshot } from 'node:v8';
import { main } from './main.js';

startupSnapshot.setDeserializeMainFunction(() => {
  void main(process.argv);
});
