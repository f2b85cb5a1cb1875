// hako-shim.json lives in a bundle, which is not Hako's: only a file of
// ours whose every field is what Hako writes steers the cleanup; and the
// state root must be ours alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { socketPath } from '../../src/shim/address.js';
import { readBundleState, writeBundleState, type BundleState } from '../../src/shim/bundle-state.js';
import { secureStateRoot } from '../../src/runtime/state-store.js';

function scratch(): string {
  return mkdtempSync('/tmp/hks-');
}

test('a state file of ours, with the fields Hako writes, is trusted; anything else is not', async () => {
  const bundle = scratch();
  const state = scratch();
  try {
    await secureStateRoot(state);
    const good: BundleState = {
      sandboxId: 'pod1',
      stateDir: state,
      socket: socketPath(state, '/run/containerd/containerd.sock', 'k8s.io', 'pod1'),
      pid: 0,
    };
    await writeBundleState(bundle, good);
    assert.deepEqual(await readBundleState(bundle), good);
    const file = join(bundle, 'hako-shim.json');
    const bad: [string, Record<string, unknown>][] = [
      ['an id that climbs', { ...good, sandboxId: '../etc' }],
      ['a relative state dir', { ...good, stateDir: 'run/hako' }],
      ['a state dir with ..', { ...good, stateDir: `${state}/../x` }],
      ['a socket elsewhere', { ...good, socket: '/etc/passwd' }],
      ['another directory', { ...good, stateDir: '/', socket: socketPath('/', 'a', 'b', 'c') }],
      ['an unknown field', { ...good, rm: '/' }],
    ];
    for (const [what, value] of bad) {
      writeFileSync(file, JSON.stringify(value), { mode: 0o600 });
      const r = await readBundleState(bundle);
      assert.ok(r !== undefined && 'invalid' in r, `${what}: ${JSON.stringify(r)}`);
    }
    writeFileSync(file, JSON.stringify(good));
    chmodSync(file, 0o666);
    assert.ok('invalid' in ((await readBundleState(bundle)) ?? {}), 'writable by others');
    rmSync(file);
    writeFileSync(join(bundle, 'elsewhere.json'), JSON.stringify(good), { mode: 0o600 });
    symlinkSync(join(bundle, 'elsewhere.json'), file);
    assert.ok('invalid' in ((await readBundleState(bundle)) ?? {}), 'a link');
    rmSync(file);
    assert.equal(await readBundleState(bundle), undefined);
  } finally {
    rmSync(bundle, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});

test('the state root must be a directory of ours that others cannot write to, not a link', async () => {
  const dir = scratch();
  try {
    const root = join(dir, 'root');
    await secureStateRoot(root);
    assert.equal(readFileSync(join(root, '.hako-state-root'), 'utf8'), '');
    chmodSync(root, 0o777);
    await assert.rejects(secureStateRoot(root), /must be a directory of uid \d+ that others cannot write to/);
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    await assert.rejects(secureStateRoot(join(dir, 'link')), /is a symbolic link/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
