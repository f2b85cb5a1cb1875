// The executables' entry point when not started from the startup snapshot:
// `node hako.js [containerd-shim-hako-v2] args…`.
import { runEntry } from '../entry.js';

const argv =
  process.argv[2] === 'containerd-shim-hako-v2'
    ? [process.argv[0] ?? 'node', ...process.argv.slice(2)]
    : process.argv;
await runEntry(argv);
