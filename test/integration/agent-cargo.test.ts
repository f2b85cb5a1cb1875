// The Rust unit tests (the agent's and the host helper's), run as part of the suite so that CI runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/paths.js';

for (const [name, dir] of [
  ['hako-agent', 'agent'],
  ['hako-host-helper', join('tools', 'host-helper')],
] as const) {
  test(`cargo test of ${name} passes`, () => {
    const cargo = [process.env['CARGO'], '/root/.cargo/bin/cargo', '/usr/bin/cargo'].find(
      (c) => c && existsSync(c),
    );
    assert.ok(cargo, 'cargo not found');
    const r = spawnSync(cargo, ['test', '--release', '--locked'], {
      cwd: join(REPO, dir),
      encoding: 'utf8',
    });
    const summary = (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('test result:'));
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(summary.length > 0 && summary.every((l) => l.includes(' 0 failed')), summary.join('\n'));
  });
}
