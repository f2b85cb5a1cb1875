// Generates the TypeScript protobuf bindings (src/gen/) from proto/*.proto
// with Debian's protoc and @bufbuild/protoc-gen-es.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src', 'gen');
const protos = readdirSync(join(root, 'proto'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.proto'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(
  'protoc',
  [
    `--plugin=protoc-gen-es=${join(root, 'node_modules', '.bin', 'protoc-gen-es')}`,
    `--es_out=${out}`,
    '--es_opt=target=ts,import_extension=js',
    `-I${join(root, 'proto')}`,
    ...protos,
  ],
  { stdio: 'inherit' },
);
