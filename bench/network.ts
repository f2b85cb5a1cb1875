// Network benchmark (`npm run bench:network`): Hako against runc on the same
// pod network, measured in this one run. A "pod" namespace whose eth0 is a
// veth to a "node" namespace (as CNI's bridge plugin leaves a pod's), both
// made here; all traffic stays between them.
//   - TCP throughput with iperf3, node to pod and pod to node,
//   - latency of 1,000 small HTTP requests from the node to the pod's
//     httpd, p50 and p99,
//   - `hako run -- true` start time with a network (the pod's, carried; and
//     passt, `--network user`) against `--network none`, run by run.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HAKO } from '../test/helpers/paths.js';
import { makeBundle } from '../test/helpers/fixtures.js';
import { httpGetEventually, inNetns, sh } from '../test/helpers/netns.js';
import { fmt, median, timeCommand } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const SECONDS = Number(process.env['BENCH_IPERF_SECONDS'] ?? 5);
const REQUESTS = 1000;
const POD_IP = '10.77.0.2';
const NODE_IP = '10.77.0.1';

/** iperf3 and the libraries it loads, copied into a rootfs (busybox has none). */
function addIperf3(rootfs: string): void {
  const bin = execFileSync('sh', ['-c', 'command -v iperf3'], { encoding: 'utf8' }).trim();
  const libs = execFileSync('ldd', [bin], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  for (const f of [bin, ...libs]) {
    mkdirSync(join(rootfs, dirname(f)), { recursive: true });
    copyFileSync(f, join(rootfs, f));
  }
}

/** The node's view: iperf3 both ways and 1,000 HTTP GETs, against the pod's servers. */
function measureFromNode(node: string): { toPod: number; fromPod: number; p50: number; p99: number } {
  const iperf = (reverse: boolean): number => {
    const argv = ['iperf3', '-c', POD_IP, '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])];
    // The server may still be starting: a few tries.
    for (let i = 0; ; i++) {
      const r = spawnSync('nsenter', [`--net=${node}`, ...argv], { encoding: 'utf8' });
      const out = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } } };
      const bps = out.end?.sum_received?.bits_per_second;
      if (r.status === 0 && bps !== undefined) return bps / 1e6;
      if (i === 20) throw new Error(`iperf3: ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
      spawnSync('sleep', ['0.5']);
    }
  };
  const script = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: false });
    const get = () => new Promise((ok, fail) => {
      const t0 = process.hrtime.bigint();
      http.get({ host: '${POD_IP}', port: 8080, path: '/i', agent }, (r) => {
        r.resume();
        r.on('end', () => ok(Number(process.hrtime.bigint() - t0) / 1e6));
      }).on('error', fail);
    });
    (async () => {
      const ms = [];
      for (let i = 0; i < ${REQUESTS}; i++) ms.push(await get());
      ms.sort((a, b) => a - b);
      console.log(JSON.stringify({ p50: ms[Math.floor(ms.length * 0.5)], p99: ms[Math.floor(ms.length * 0.99)] }));
    })();`;
  const latency = JSON.parse(inNetns(node, process.execPath, '-e', script)) as { p50: number; p99: number };
  return { toPod: iperf(false), fromPod: iperf(true), ...latency };
}

/** Waits until the pod's httpd answers from the node (iperf3 starts right after it). */
async function waitForServers(node: string): Promise<void> {
  if ((await httpGetEventually(node, POD_IP, 8080, '/i')) !== 'ok\n')
    throw new Error('the pod did not serve');
}

async function main(): Promise<void> {
  const base = `hkb${process.pid}`;
  const [pod, node] = [`/var/run/netns/${base}p`, `/var/run/netns/${base}n`];
  const work = mkdtempSync('/tmp/hkbn-');
  sh('ip', 'netns', 'add', `${base}p`);
  sh('ip', 'netns', 'add', `${base}n`);
  try {
    sh(
      'ip',
      'link',
      'add',
      'eth0',
      'netns',
      `${base}p`,
      'type',
      'veth',
      'peer',
      'name',
      'hkbn',
      'netns',
      `${base}n`,
    );
    for (const [ns, dev, ip] of [
      [pod, 'eth0', POD_IP],
      [node, 'hkbn', NODE_IP],
    ] as const) {
      inNetns(ns, 'ip', 'link', 'set', 'lo', 'up');
      inNetns(ns, 'ip', 'addr', 'add', `${ip}/24`, 'dev', dev);
      inNetns(ns, 'ip', 'link', 'set', dev, 'up');
    }
    const bundle = join(work, 'b');
    makeBundle(bundle, {
      args: ['sh', '-c', 'mkdir -p /www && echo ok > /www/i && httpd -p 8080 -h /www && exec iperf3 -s'],
      networkPath: pod,
    });
    addIperf3(join(bundle, 'rootfs'));
    const results: Record<string, ReturnType<typeof measureFromNode>> = {};
    for (const [name, rt] of [
      ['runc', ['runc', '--root', join(work, 'runc')]],
      ['hako', [HAKO, '--root', join(work, 'hako')]],
    ] as const) {
      const id = `bench-${name}`;
      const run = spawnSync(rt[0], [...rt.slice(1), 'run', '-d', '--bundle', bundle, id], {
        stdio: 'ignore',
      });
      if (run.status !== 0) throw new Error(`${name} run -d failed`);
      try {
        await waitForServers(node);
        results[name] = measureFromNode(node);
      } finally {
        spawnSync(rt[0], [...rt.slice(1), 'delete', '--force', id], { stdio: 'ignore' });
      }
    }
    const [r, h] = [results['runc'], results['hako']];
    if (!r || !h) throw new Error('missing results');
    console.log(
      `iperf3 node→pod: runc ${fmt(r.toPod)} Mbit/s, hako ${fmt(h.toPod)} Mbit/s, ratio ${fmt(h.toPod / r.toPod, 3)}`,
    );
    console.log(
      `iperf3 pod→node: runc ${fmt(r.fromPod)} Mbit/s, hako ${fmt(h.fromPod)} Mbit/s, ratio ${fmt(h.fromPod / r.fromPod, 3)}`,
    );
    console.log(
      `HTTP ×${REQUESTS} p50: runc ${fmt(r.p50, 2)} ms, hako ${fmt(h.p50, 2)} ms, ratio ${fmt(h.p50 / r.p50, 2)}`,
    );
    console.log(
      `HTTP ×${REQUESTS} p99: runc ${fmt(r.p99, 2)} ms, hako ${fmt(h.p99, 2)} ms, ratio ${fmt(h.p99 / r.p99, 2)}`,
    );

    // Start time, run by run: none, the pod's namespace, passt.
    const root = join(work, 'start');
    const variants = {
      none: ['--network', 'none'],
      pod: ['--network', `ns:${pod}`],
      user: ['--network', 'user'],
    } as const;
    const times: Record<keyof typeof variants, number[]> = { none: [], pod: [], user: [] };
    const ratios: Record<'pod' | 'user', number[]> = { pod: [], user: [] };
    // The first start makes the VM template; it is not counted.
    await timeCommand([HAKO, '--root', root, 'run', '--network', 'none', '--', 'true']);
    for (let i = 0; i < RUNS; i++) {
      for (const k of Object.keys(variants) as (keyof typeof variants)[]) {
        const t = await timeCommand([HAKO, '--root', root, 'run', ...variants[k], '--', 'true']);
        if (t.code !== 0) throw new Error(`hako run ${variants[k].join(' ')}: ${t.stderr}`);
        times[k].push(t.ms);
      }
      ratios.pod.push((times.pod[i] ?? NaN) / (times.none[i] ?? NaN));
      ratios.user.push((times.user[i] ?? NaN) / (times.none[i] ?? NaN));
    }
    const none = median(times.none);
    console.log(`start, --network none: ${fmt(none)} ms (median of ${RUNS})`);
    for (const k of ['pod', 'user'] as const) {
      const m = median(times[k]);
      console.log(
        `start, --network ${k === 'pod' ? 'ns:POD' : 'user'}: ${fmt(m)} ms, ratio ${fmt(m / none, 3)} (per run ${fmt(median(ratios[k]), 3)})`,
      );
    }
  } finally {
    sh('ip', 'netns', 'del', `${base}p`);
    sh('ip', 'netns', 'del', `${base}n`);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
