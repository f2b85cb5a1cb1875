// Builds dist/hako.blob, a V8 startup snapshot of the CLI: esbuild bundles
// dist/src/cli/snapshot-entry.js into one CommonJS file, and Node runs it
// with --build-snapshot. bin/hako starts from the blob when it exists
// (about 0.25 s faster per command on the build machines), else from dist/.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'hako-snapshot.cjs');
const blob = join(root, 'dist', 'hako.blob');
rmSync(blob, { force: true });
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'snapshot-entry.js')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: bundle,
  logLevel: 'error',
});
execFileSync(process.execPath, ['--no-warnings', '--snapshot-blob', blob, '--build-snapshot', bundle], {
  cwd: join(root, 'dist'),
  stdio: 'inherit',
});
