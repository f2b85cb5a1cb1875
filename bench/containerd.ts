// containerd benchmark (`npm run bench:containerd`), all measured in one run:
//   - `ctr run --rm … true` with Hako's shim, with runc's shim, and `hako run -- true`;
//   - host PSS of the shim daemon, QEMU and virtiofsd for 1 idle container
//     and for 10 idle containers (per-sandbox average).
import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Containerd, IMAGE } from '../test/helpers/containerd.js';
import { processesNaming } from '../test/helpers/hako.js';
import { REPO } from '../test/helpers/paths.js';
import { fmt, median, pssMiB, timeCommand } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const NS = 'bench';

async function ctrRun(c: Containerd, runtime: string, id: string): Promise<number> {
  const r = await timeCommand(c.ctrArgv(NS, ['run', '--rm', '--runtime', runtime, IMAGE, id, 'true']));
  if (r.code !== 0) throw new Error(`${runtime}: ${r.stderr}`);
  return r.ms;
}

async function footprint(
  c: Containerd,
): Promise<{ shim: number; qemu: number; virtiofsd: number; sandboxes: number }> {
  const sum = { shim: 0, qemu: 0, virtiofsd: 0, sandboxes: 0 };
  for (const pid of await processesNaming(c.hakoStateDir)) {
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const pss = await pssMiB(pid).catch(() => 0);
    if (cmd.some((a) => a.includes('containerd-shim-hako-v2'))) sum.shim += pss;
    else if (cmd[0]?.includes('qemu-system')) {
      sum.qemu += pss;
      sum.sandboxes += 1;
    } else if (cmd[0]?.includes('virtiofsd')) sum.virtiofsd += pss;
  }
  return sum;
}

async function idle(c: Containerd, count: number) {
  const ids = Array.from({ length: count }, (_, i) => `idle${count}-${i}`);
  for (const id of ids) {
    const r = await c.ctr(NS, [
      'run',
      '-d',
      '--runtime',
      'io.containerd.hako.v2',
      IMAGE,
      id,
      'sleep',
      '3600',
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  await new Promise((r) => setTimeout(r, 3000));
  const f = await footprint(c);
  for (const id of ids) {
    await c.ctr(NS, ['task', 'kill', '-s', 'SIGKILL', id]);
  }
  await new Promise((r) => setTimeout(r, 2000));
  for (const id of ids) {
    await c.ctr(NS, ['task', 'delete', id]);
    await c.ctr(NS, ['container', 'delete', id]);
  }
  return f;
}

async function main(): Promise<void> {
  const c = await Containerd.start();
  const root = mkdtempSync('/tmp/hkb-');
  try {
    await c.importImage(NS);
    const hako: number[] = [];
    const runc: number[] = [];
    const run: number[] = [];
    await ctrRun(c, 'io.containerd.hako.v2', 'warm1');
    await ctrRun(c, 'io.containerd.runc.v2', 'warm2');
    for (let i = 0; i < RUNS; i++) {
      hako.push(await ctrRun(c, 'io.containerd.hako.v2', `h${i}`));
      runc.push(await ctrRun(c, 'io.containerd.runc.v2', `r${i}`));
      run.push((await timeCommand([join(REPO, 'bin', 'hako'), '--root', root, 'run', '--', 'true'])).ms);
    }
    const one = await idle(c, 1);
    const ten = await idle(c, 10);
    console.log(`runs per case: ${RUNS} (medians)`);
    console.log(
      `ctr run --rm true, hako shim   ${fmt(median(hako))} ms   [${hako.map((x) => fmt(x)).join(', ')}]`,
    );
    console.log(
      `ctr run --rm true, runc shim   ${fmt(median(runc))} ms   [${runc.map((x) => fmt(x)).join(', ')}]`,
    );
    console.log(
      `hako run -- true               ${fmt(median(run))} ms   [${run.map((x) => fmt(x)).join(', ')}]`,
    );
    console.log(`ratio hako shim / runc shim    ${fmt(median(hako) / median(runc), 2)}`);
    for (const [label, f, n] of [
      ['1 idle container', one, 1],
      ['10 idle containers', ten, 10],
    ] as const) {
      const per = (x: number) => fmt(x / Math.max(1, f.sandboxes), 1);
      console.log(`host PSS, ${label} (${f.sandboxes} sandboxes of ${n}), per sandbox:`);
      console.log(
        `  shim daemon ${per(f.shim)} MiB, QEMU ${per(f.qemu)} MiB, virtiofsd ${per(f.virtiofsd)} MiB, total ${per(f.shim + f.qemu + f.virtiofsd)} MiB`,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    await c.stop();
  }
}

await main();
