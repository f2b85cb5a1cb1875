// OCI runtime CLI benchmark (`npm run bench:oci`), all measured in one run
// with the same bundle (busybox, `true`):
//   - create + start + (wait for exit) + delete, with hako, runc and crun;
//   - `podman run --rm IMG true` with hako and with runc.
// crun cannot run on this machine's hybrid cgroup layout; it is reported
// as unavailable rather than left out silently.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle } from '../test/helpers/fixtures.js';
import { Podman, PODMAN_IMAGE, PODMAN_RUN_FLAGS } from '../test/helpers/podman.js';
import { runCommand } from '../test/helpers/exec.js';
import { REPO } from '../test/helpers/paths.js';
import { exec, fmt, median } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

async function state(runtime: readonly string[], id: string): Promise<string> {
  const r = await runCommand([...runtime, 'state', id]);
  return /"status":\s*"(\w+)"/.exec(r.stdout)?.[1] ?? 'gone';
}

/** create + start + wait until stopped + delete; returns ms, or throws with the failing step. */
async function cycle(runtime: readonly string[], bundle: string, id: string): Promise<number> {
  const t0 = performance.now();
  if ((await exec([...runtime, 'create', '--bundle', bundle, id])) !== 0) throw new Error('create failed');
  if ((await exec([...runtime, 'start', id])) !== 0) throw new Error('start failed');
  while ((await state(runtime, id)) !== 'stopped') await new Promise((r) => setTimeout(r, 5));
  if ((await exec([...runtime, 'delete', id])) !== 0) throw new Error('delete failed');
  return performance.now() - t0;
}

async function series(name: string, runtime: readonly string[], bundle: string): Promise<number[] | string> {
  try {
    await cycle(runtime, bundle, `${name}-warm`);
    const out: number[] = [];
    for (let i = 0; i < RUNS; i++) out.push(await cycle(runtime, bundle, `${name}-${i}`));
    return out;
  } catch (e) {
    const probe = await runCommand([...runtime, 'run', '--bundle', bundle, `${name}-probe`]);
    await exec([...runtime, 'delete', '--force', `${name}-probe`]);
    return `unavailable here: ${(e as Error).message}: ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  }
}

function line(label: string, r: number[] | string): string {
  return typeof r === 'string'
    ? `${label.padEnd(38)} ${r}`
    : `${label.padEnd(38)} ${fmt(median(r))} ms   [${r.map((x) => fmt(x)).join(', ')}]`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync('/tmp/hkb-');
  const bundle = join(dir, 'bundle');
  makeBundle(bundle, { args: ['true'] });
  const hako = await series('hako', [join(REPO, 'bin', 'hako'), '--root', join(dir, 'hako')], bundle);
  const runc = await series('runc', ['runc', '--root', join(dir, 'runc')], bundle);
  const crun = await series('crun', ['crun', '--root', join(dir, 'crun')], bundle);
  const p = await Podman.create();
  const podman = async (runtime: string) => {
    const out: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const r = await runCommand(
        [...p.baseArgs.slice(0, -1), runtime, 'run', '--rm', ...PODMAN_RUN_FLAGS, PODMAN_IMAGE, 'true'],
        { env: p.env },
      );
      if (r.code !== 0) return `failed: ${r.stderr.trim().split('\n').pop() ?? ''}`;
      if (i > 0) out.push(r.ms);
    }
    return out;
  };
  const podHako = await podman(join(REPO, 'bin', 'hako'));
  const podRunc = await podman('/usr/sbin/runc');
  await p.destroy();
  rmSync(dir, { recursive: true, force: true });
  console.log(`runs per case: ${RUNS} (medians)`);
  console.log(line('create+start+delete `true`, hako', hako));
  console.log(line('create+start+delete `true`, runc', runc));
  console.log(line('create+start+delete `true`, crun', crun));
  console.log(line('podman run --rm IMG true, hako', podHako));
  console.log(line('podman run --rm IMG true, runc', podRunc));
  if (typeof hako !== 'string' && typeof runc !== 'string')
    console.log(`ratio hako / runc (cycle)              ${fmt(median(hako) / median(runc), 2)}`);
  if (typeof podHako !== 'string' && typeof podRunc !== 'string')
    console.log(`ratio hako / runc (podman)             ${fmt(median(podHako) / median(podRunc), 2)}`);
  console.log('anchor (bare metal, from the issue): crun 47 ms, runc 225 ms');
}

await main();
