// `hako run` flags → OCI spec and rootfs, checked before any VM starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRunTarget, type RunFlags } from '../../src/cli/run-spec.js';
import { specCommand } from '../../src/oci-cli/commands/spec.js';
import { parseSpec, type OciSpec } from '../../src/oci/spec.js';
import { isHakoError } from '../../src/errors.js';

const flags: RunFlags = { env: [], tty: false, readonly: false, hostname: 'h' };

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync('/tmp/hks-');
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a rootfs gets the default spec with the command, env and workdir',
  withDir(async (dir) => {
    const t = await resolveRunTarget(
      { ...flags, rootfs: dir, env: ['A=1', 'HOME'], workdir: '/w' },
      ['ls', '-l'],
      () => Promise.reject(new Error('unused')),
      { HOME: '/root' },
    );
    assert.deepEqual(t.spec.process?.args, ['ls', '-l']);
    assert.equal(t.spec.process?.cwd, '/w');
    assert.ok(t.spec.process?.env?.includes('A=1'));
    assert.ok(t.spec.process?.env?.includes('HOME=/root'));
    assert.equal(t.rootfs, dir);
    // The container uses its VM's network; `hako spec`'s template keeps runc's namespace.
    const types = (spec: OciSpec) =>
      (spec.linux as { namespaces?: { type: string }[] } | undefined)?.namespaces?.map((n) => n.type);
    assert.deepEqual(types(t.spec), ['pid', 'ipc', 'uts', 'mount', 'cgroup']);
    await specCommand(dir);
    const template = parseSpec(readFileSync(join(dir, 'config.json'), 'utf8'), 'config.json');
    assert.ok(types(template)?.includes('network'));
  }),
);

test(
  'the built-in image is used when neither --rootfs nor --bundle is given',
  withDir(async (dir) => {
    const t = await resolveRunTarget(flags, ['true'], () => Promise.resolve(dir));
    assert.equal(t.rootfs, dir);
  }),
);

test(
  'a bundle keeps its spec; the command line overrides args, env and cwd',
  withDir(async (dir) => {
    mkdirSync(join(dir, 'rootfs'));
    const spec = {
      ociVersion: '1.0.2',
      root: { path: 'rootfs' },
      process: { args: ['sh'], env: ['A=1', 'B=2'], cwd: '/', extra: 'kept' },
      custom: 1,
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    const t = await resolveRunTarget({ ...flags, bundle: dir, env: ['B=3'] }, ['echo', 'x'], () =>
      Promise.reject(new Error('unused')),
    );
    assert.deepEqual(t.spec.process?.args, ['echo', 'x']);
    assert.deepEqual(t.spec.process?.env, ['A=1', 'B=3']);
    assert.equal((t.spec.process as Record<string, unknown>)['extra'], 'kept');
    assert.equal((t.spec as Record<string, unknown>)['custom'], 1);
    assert.equal(t.rootfs, join(dir, 'rootfs'));
  }),
);

test('bad input is named before anything starts', async () => {
  const reject = (p: Promise<unknown>, code: string, re: RegExp) =>
    assert.rejects(p, (e: unknown) => isHakoError(e) && e.code === code && re.test(e.message));
  const none = () => Promise.reject(new Error('unused'));
  await reject(
    resolveRunTarget({ ...flags, rootfs: '/no/such/dir' }, ['true'], none),
    'ROOTFS_NOT_FOUND',
    /rootfs \/no\/such\/dir does not exist/,
  );
  await reject(
    resolveRunTarget({ ...flags, rootfs: '/etc/hostname' }, ['true'], none),
    'ROOTFS_NOT_FOUND',
    /is not a directory/,
  );
  await reject(
    resolveRunTarget({ ...flags, bundle: '/no/bundle' }, [], none),
    'BUNDLE_INVALID',
    /cannot read \/no\/bundle\/config\.json/,
  );
  await reject(
    resolveRunTarget({ ...flags, bundle: '/a', rootfs: '/b' }, ['x'], none),
    'INVALID_ARGUMENT',
    /cannot be used together/,
  );
  await reject(
    resolveRunTarget({ ...flags, workdir: 'rel' }, ['x'], none),
    'INVALID_ARGUMENT',
    /must be an absolute path/,
  );
  await reject(
    resolveRunTarget({ ...flags, env: ['=x'] }, ['x'], none),
    'INVALID_ARGUMENT',
    /invalid environment variable/,
  );
  await reject(resolveRunTarget(flags, [], none), 'INVALID_ARGUMENT', /no command given/);
});

test('spec parsing names the first wrong field', () => {
  assert.throws(() => parseSpec('{', 'c.json'), /c\.json is not valid JSON/);
  assert.throws(() => parseSpec('{"root":{"path":"r"}}', 'c.json'), /c\.json: ociVersion/);
  assert.throws(
    () => parseSpec('{"ociVersion":"1","root":{"path":"r"},"process":{"cwd":"/","args":[]}}', 'c.json'),
    /process\.args: must list at least/,
  );
  assert.throws(
    () => parseSpec('{"ociVersion":"1","root":{"path":"r"},"hooks":{"prestart":[{"path":"rel"}]}}', 'c.json'),
    /hooks\.prestart\.0\.path/,
  );
});
