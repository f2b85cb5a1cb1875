// The agent's stream locks, against a real guest: an exec whose child keeps
// its stdout open (`sh -c 'sleep 600 &'`) is deleted while the host still
// waits for its output. Deleting must wake that wait instead of blocking a
// thread behind it; 300 such deletes must leave the agent answering at
// once, SignalProcess included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connectProxy } from '../../src/oci-cli/proxy.js';
import { runDirFor } from '../../src/runtime/run-dir.js';
import { inPrivateRoot, runHako } from '../helpers/hako.js';
import { makeBundle, withTempDir } from '../helpers/fixtures.js';

const EXECS = 300;
const CONCURRENCY = 6;

test(`${EXECS} execs whose children keep stdout open, each deleted while its output is awaited: the agent still answers at once`, async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sleep', '600'] });
      const id = 'locks';
      const started = await runHako(root, ['run', '--detach', '--bundle', dir, id], { until: 'exit' });
      assert.equal(started.code, 0, started.stderr);
      const agent = await connectProxy(runDirFor(join(root, id)));
      try {
        const process = new TextEncoder().encode(
          JSON.stringify({
            args: ['sh', '-c', 'sleep 600 &'],
            cwd: '/',
            env: ['PATH=/bin'],
            terminal: false,
          }),
        );
        let next = 0;
        const worker = async () => {
          while (next < EXECS) {
            const execId = `e${next++}`;
            await agent.execProcess(id, execId, process);
            // The host's relay always has a read waiting: the sleep holds stdout open.
            const output = agent.read('stdout', id, execId);
            assert.equal((await agent.waitProcess(id, execId)).status, 0);
            await agent.deleteProcess(id, execId);
            // Deleting ends the wait for output.
            assert.equal((await output).length, 0);
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        const t0 = performance.now();
        await agent.check(5000);
        const checkMs = performance.now() - t0;
        assert.ok(checkMs < 1000, `Check took ${Math.round(checkMs)} ms`);
        await agent.signalProcess(id, '', 9);
        assert.equal((await agent.waitProcess(id, '')).signal, 9);
      } finally {
        agent.close();
        await runHako(root, ['delete', '--force', id]);
      }
    }),
  );
});
