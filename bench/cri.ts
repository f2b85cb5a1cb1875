// Kubernetes benchmark (`npm run bench:cri`): hako pods against runc pods
// through containerd's CRI plugin, measured in this one run, with
// containerd, CNI's bridge and every pod inside a network namespace made
// here (test/helpers/cri.ts):
//   - RunPodSandbox + CreateContainer + StartContainer until the
//     container's first output reaches its CRI log, median of BENCH_RUNS;
//   - ExecSync latency of `true`, p50 and p99 of 100 calls;
//   - kubectl port-forward: a 4 MiB download from a server on the pod's
//     localhost, from the WebSocket's opening to its last byte, median of
//     BENCH_RUNS;
//   - host memory (PSS) per idle pod with 10 pods up: each pod's shim and
//     every process under it (hako: QEMU and virtiofsd; runc: the pause
//     and the container's processes).
import { readdirSync, readFileSync } from 'node:fs';
import { Cri } from '../test/helpers/cri.js';
import { fileNetns } from '../test/helpers/netns.js';
import { pidsWith } from '../test/helpers/hako.js';
import { fmt, median, pssMiB } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const EXECS = 100;
const PODS = 10;
const HANDLERS = ['runc', 'hako'] as const;
type Handler = (typeof HANDLERS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

let serial = 0;

/** A pod running one container that prints "ready" and stays; ms until "ready" is in its log. */
async function startPod(cri: Cri, handler: Handler): Promise<{ pod: string; container: string; ms: number }> {
  const config = cri.podConfig(`${handler}-${serial++}`);
  const t0 = performance.now();
  const pod = await cri.runPod(config, handler);
  const container = await cri.runContainer(pod, config, 'app', ['sh', '-c', 'echo ready; exec sleep 3600']);
  for (;;) {
    let log = '';
    try {
      log = cri.logOf(config, 'app');
    } catch {
      // Not written yet.
    }
    if (log.includes('ready')) break;
    if (performance.now() - t0 > 120_000) throw new Error(`${handler} pod: no output in 120 s`);
    await sleep(2);
  }
  return { pod, container, ms: performance.now() - t0 };
}

/** A live process's parent, from /proc/PID/stat (after the command's closing parenthesis). */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Every pid below `root` (its children, theirs, …). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const ppid = ppidOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** The shims of this containerd for `handler` (their command line names its socket). */
const shims = (cri: Cri, handler: Handler) =>
  pidsWith(cri.containerd.address, `containerd-shim-${handler}-v2`);

async function podMemory(cri: Cri, handler: Handler): Promise<number> {
  const pods = [];
  for (let i = 0; i < PODS; i++) pods.push(await startPod(cri, handler));
  // Idle: the boot's work is over.
  await sleep(5000);
  let total = 0;
  for (const shim of await shims(cri, handler)) {
    for (const pid of [shim, ...descendants(shim)]) total += await pssMiB(pid).catch(() => 0);
  }
  await Promise.all(pods.map((p) => cri.removePod(p.pod)));
  return total / PODS;
}

const FORWARD_MIB = 4;

/** ms from the WebSocket's opening to the last byte of a FORWARD_MIB download through port-forward, RUNS times. */
async function forwardTimes(cri: Cri, handler: Handler): Promise<number[]> {
  const config = cri.podConfig(`${handler}-pf-${serial++}`);
  const pod = await cri.runPod(config, handler);
  try {
    const serve = `mkdir -p /tmp/w && head -c ${FORWARD_MIB << 20} /dev/zero > /tmp/w/f && echo END >> /tmp/w/f && exec httpd -f -p 127.0.0.1:8080 -h /tmp/w`;
    const c = await cri.runContainer(pod, config, 'web', ['sh', '-c', serve]);
    await cri.untilServed(c, 'http://127.0.0.1:8080/f');
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const url = await cri.portForwardUrl(pod, 8080);
      const r = await cri.stream(
        url,
        [{ stdin: 'GET /f HTTP/1.0\r\n\r\n' }, { until: 'END\n' }],
        'portforward',
      );
      if (r.ms === undefined || !r.stdout.endsWith('END\n'))
        throw new Error(`${handler}: the download did not arrive`);
      times.push(r.ms);
    }
    return times;
  } finally {
    await cri.removePod(pod);
  }
}

async function main(): Promise<void> {
  const node = fileNetns(`bcri${process.pid}`);
  node.make();
  const cri = await Cri.start(node.path);
  try {
    // Once each first: templates, image unpacking and page cache are warm for both.
    for (const h of HANDLERS) await cri.removePod((await startPod(cri, h)).pod);
    const start: Record<Handler, number[]> = { runc: [], hako: [] };
    for (let i = 0; i < RUNS; i++) {
      for (const h of HANDLERS) {
        const r = await startPod(cri, h);
        start[h].push(r.ms);
        await cri.removePod(r.pod);
      }
    }
    const execs: Record<Handler, number[]> = { runc: [], hako: [] };
    for (const h of HANDLERS) {
      const r = await startPod(cri, h);
      for (let i = 0; i < EXECS; i++) {
        const t0 = performance.now();
        await cri.execSync(r.container, ['true']);
        execs[h].push(performance.now() - t0);
      }
      await cri.removePod(r.pod);
    }
    const forwards: Record<Handler, number[]> = { runc: [], hako: [] };
    for (const h of HANDLERS) forwards[h] = await forwardTimes(cri, h);
    const memory: Record<Handler, number> = { runc: 0, hako: 0 };
    for (const h of HANDLERS) memory[h] = await podMemory(cri, h);

    const startRunc = median(start.runc);
    const startHako = median(start.hako);
    console.log(
      `pod start to first output (median of ${RUNS}): runc ${fmt(startRunc)} ms, hako ${fmt(startHako)} ms`,
    );
    console.log(`  ratio hako/runc ${fmt(startHako / startRunc, 2)}`);
    for (const p of [50, 99]) {
      const r = percentile(execs.runc, p);
      const k = percentile(execs.hako, p);
      console.log(
        `ExecSync p${p} (${EXECS} calls): runc ${fmt(r, 1)} ms, hako ${fmt(k, 1)} ms, ratio ${fmt(k / r, 2)}`,
      );
    }
    const fr = median(forwards.runc);
    const fh = median(forwards.hako);
    console.log(
      `port-forward, ${FORWARD_MIB} MiB download (median of ${RUNS}): runc ${fmt(fr)} ms, hako ${fmt(fh)} ms, ratio ${fmt(fh / fr, 2)}`,
    );
    console.log(
      `host PSS per idle pod (${PODS} pods): runc ${fmt(memory.runc, 1)} MiB, hako ${fmt(memory.hako, 1)} MiB, ratio ${fmt(memory.hako / memory.runc, 1)}`,
    );
  } finally {
    await cri.stop();
    node.remove();
  }
}

await main();
