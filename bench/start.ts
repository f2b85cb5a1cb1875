// Start-time and memory benchmark (`npm run bench:start`). Everything is
// measured in this one run, on this machine, so the ratios are meaningful
// even where absolute times are noisy (TCG, shared hosts):
//   - a bare QEMU boot of the same kernel and initramfs to a trivial init
//     (the floor),
//   - `hako run -- true` end to end (CLI start to exit, VM torn down),
//   - their ratio, of the medians and as the median of each run's ratio to
//     the bare boot just before it,
//   - `hako run -- true` with confinement off ([security] confine = false)
//     and with the guest kernel's CPU mitigations off, each against the
//     default, run by run,
//   - the host PSS of QEMU, virtiofsd and the hako process, and the agent's
//     RSS inside the guest, for an idle container.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { connectProxy } from '../src/oci-cli/proxy.js';
import { netDirFor, runDirFor } from '../src/runtime/run-dir.js';
import { listTemplates, templateRamBytes } from '../src/runtime/template-dir.js';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { buildArgv } from '../src/hypervisor/qemu/argv.js';
import { planQemuFds } from '../src/hypervisor/qemu/fds.js';
import { jailedArgv, UNCONFINED } from '../src/confinement/jail.js';
import { helperBinary } from '../src/home.js';
import { chooseAccel, probeHost, readCpuinfo } from '../src/hypervisor/accel.js';
import { resolveGuestImage } from '../src/image/guest-image.js';
import { hostTscKhz } from '../src/runtime/kernel-cmdline.js';
import { vmSpec } from '../src/runtime/vm-spec.js';
import { commandsNaming } from '../test/helpers/hako.js';
import { AGENT_BIN, HAKO } from '../test/helpers/paths.js';
import { makeBundle } from '../test/helpers/fixtures.js';
import { exec, fmt, median, pssMiB, timeCommand, timeUntilOutput } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 9);
const MARKER = 'HAKO-BARE-INIT';

/** The bare VM's argv; its QMP socket goes in `dir`. */
async function bareBootArgv(dir: string): Promise<string[]> {
  const { config } = await loadConfig();
  const cpuinfo = await readCpuinfo();
  const base = {
    config,
    image: await resolveGuestImage(config),
    accel: chooseAccel(await probeHost(cpuinfo), config.hypervisor.accelerator),
    tscKhz: hostTscKhz(cpuinfo),
  };
  const spec = vmSpec(base, {
    id: 'bench',
    dir,
    devices: [],
    transportArgs: [],
    dieWithParent: false,
    extraKernelArgs: ['rdinit=/bin/echo', '--', MARKER],
  });
  const fds = planQemuFds(spec);
  const qemu = buildArgv(config.hypervisor.path, spec, fds);
  const serial = qemu.indexOf('-serial');
  qemu[serial + 1] = 'stdio';
  // Started as sandboxes' QEMU is (the helper passes its QMP socket), unconfined.
  return jailedArgv(helperBinary(), UNCONFINED, { dieWithParent: true, fds: fds.passed }, qemu);
}

async function idleMemory(root: string): Promise<Record<string, number>> {
  const child = spawn(HAKO, ['--root', root, 'run', '--', 'sh', '-c', 'echo ready; exec sleep 600'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('container did not start')), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 2000)); // let it settle
  const procs = await commandsNaming(root);
  const qemu = procs.find((p) => p.argv[0]?.includes('qemu-system'));
  const fsd = procs.find((p) => p.argv[0]?.includes('virtiofsd'));
  const result: Record<string, number> = { 'hako process': await pssMiB(child.pid ?? -1) };
  if (qemu) result['QEMU'] = await pssMiB(qemu.pid);
  if (fsd) result['virtiofsd'] = await pssMiB(fsd.pid);
  // The default network's passt, found by its directory.
  for (const entry of readdirSync(root).filter((e) => !e.startsWith('.'))) {
    const passt = (await commandsNaming(netDirFor(join(root, entry)))).find((p) => p.argv[0] === 'passt');
    if (passt) result['passt'] = await pssMiB(passt.pid);
  }
  // The container's init ignores SIGTERM (PID 1 of its namespace); a second
  // SIGTERM, sent after the first was handled, escalates to SIGKILL.
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGTERM');
  await new Promise((r) => child.on('close', r));
  return result;
}

/** The agent's own RSS in the guest, asked through a runc-style container's agent proxy. */
async function agentRss(root: string): Promise<number> {
  const bundle = mkdtempSync('/tmp/hkb-');
  try {
    makeBundle(bundle, { args: ['sleep', '600'] });
    const started = await exec([HAKO, '--root', root, 'run', '--detach', '--bundle', bundle, 'agent-rss']);
    if (started !== 0) throw new Error(`hako run --detach failed (${String(started)})`);
    await new Promise((r) => setTimeout(r, 2000));
    const agent = await connectProxy(runDirFor(join(root, 'agent-rss')));
    try {
      return (await agent.metrics()).get('hako_agent_rss_bytes') ?? NaN;
    } finally {
      agent.close();
      await exec([HAKO, '--root', root, 'delete', '--force', 'agent-rss']);
    }
  } finally {
    rmSync(bundle, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync('/tmp/hkb-');
  const { config, source } = await loadConfig();
  // The same configuration with every VM booting on its own.
  const text = source === 'built-in defaults' ? '' : readFileSync(source, 'utf8');
  if (/^\s*\[factory\]/m.test(text))
    throw new Error(`${source} sets [factory]: run the benchmark without it`);
  const coldConfig = join(root, 'cold.toml');
  writeFileSync(coldConfig, `${text}\n[factory]\nenable_template = false\n`);
  if (/^\s*\[security\]/m.test(text) || /kernel_params/.test(text)) {
    throw new Error(`${source} sets [security] or kernel_params: run the benchmark without them`);
  }
  const unconfinedConfig = join(root, 'unconfined.toml');
  writeFileSync(unconfinedConfig, `${text}\n[security]\nconfine = false\n`);
  const mitigationsConfig = join(root, 'mitigations.toml');
  const mitigations = 'kernel_params = "mitigations=off"';
  writeFileSync(
    mitigationsConfig,
    /^\[hypervisor\.qemu\]$/m.test(text)
      ? text.replace(/^\[hypervisor\.qemu\]$/m, `[hypervisor.qemu]\n${mitigations}`)
      : `${text}\n[hypervisor.qemu]\n${mitigations}\n`,
  );
  const hakoRun = (cfg: readonly string[], flags: readonly string[] = []) => [
    HAKO,
    '--root',
    root,
    ...cfg,
    'run',
    ...flags,
    '--',
    'true',
  ];
  const bare: number[] = [];
  const run: number[] = [];
  const cold: number[] = [];
  const unconfined: number[] = [];
  const mitigated: number[] = [];
  const networked: number[] = [];
  const argv = await bareBootArgv(root);
  // Warm-up (page cache, first QEMU start, the VM template), not counted.
  await timeUntilOutput(argv, MARKER);
  // The container's start against the VM's: with loopback only. The default (outbound, passt) apart.
  const none = ['--network', 'none'];
  const first = await timeCommand(hakoRun([], none));
  if (first.code !== 0) throw new Error(`hako run failed: ${first.stderr}`);
  await timeCommand(hakoRun(['--config', coldConfig], none));
  await timeCommand(hakoRun(['--config', unconfinedConfig], none));
  await timeCommand(hakoRun(['--config', mitigationsConfig], none));
  await timeCommand(hakoRun([], []));
  const variants: readonly (readonly [readonly string[], number[], readonly string[]])[] = [
    [[], run, none],
    [['--config', coldConfig], cold, none],
    [['--config', unconfinedConfig], unconfined, none],
    [['--config', mitigationsConfig], mitigated, none],
    [[], networked, []],
  ];
  for (let i = 0; i < RUNS; i++) {
    bare.push(await timeUntilOutput(argv, MARKER));
    // In a rotating order, so that no variant always runs first after the bare boot.
    const order = variants.map((_, k) => variants[(k + i) % variants.length]!);
    for (const [cfg, into, flags] of order) {
      const r = await timeCommand(hakoRun(cfg, flags));
      if (r.code !== 0) throw new Error(`hako run failed: ${r.stderr}`);
      into.push(r.ms);
    }
  }
  const mem = await idleMemory(root);
  mem['agent RSS in guest'] = (await agentRss(root)) / (1 << 20);
  const agentBinary = (await stat(AGENT_BIN)).size;
  const templates = await listTemplates(config.factory.templatePath);
  const templateRam = await Promise.all(
    templates.map(async (t) => (await templateRamBytes(join(config.factory.templatePath, t))) / (1 << 20)),
  );
  rmSync(root, { recursive: true, force: true });
  const b = median(bare);
  const h = median(run);
  const c = median(cold);
  const list = (xs: number[]) => `[${xs.map((x) => fmt(x)).join(', ')}]`;
  console.log(`runs per case: ${RUNS} (medians)`);
  console.log(`bare QEMU boot to init                 ${fmt(b)} ms   ${list(bare)}`);
  console.log(`hako run --network none -- true        ${fmt(h)} ms   ${list(run)}`);
  console.log(`  the same, every VM booted (no template) ${fmt(c)} ms   ${list(cold)}`);
  console.log(`  first run of the warm-up (made the VM template if there was none) ${fmt(first.ms)} ms`);
  console.log(
    `ratio hako run / bare boot             ${fmt(h / b, 2)}   (goal for now <= 1.5, project goal <= 1.15)`,
  );
  // Each run is paired with the bare boot measured just before it, so a
  // drift of the host's speed between runs cancels out of this median.
  const paired = (xs: number[]) => median(xs.map((r, i) => r / (bare[i] ?? NaN)));
  console.log(`median of per-run ratios               ${fmt(paired(run), 2)}`);
  console.log(`ratio without templates (booted VMs)   ${fmt(c / b, 2)}   (per-run ${fmt(paired(cold), 2)})`);
  // Each against the default run of the same round.
  const against = (xs: number[]) => median(xs.map((x, i) => (run[i] ?? NaN) / x));
  const u = median(unconfined);
  const m = median(mitigated);
  console.log(`hako run, confinement off              ${fmt(u)} ms   ${list(unconfined)}`);
  console.log(
    `ratio confined / unconfined            ${fmt(h / u, 3)}   (per-run ${fmt(against(unconfined), 3)}; goal <= 1.05)`,
  );
  console.log(`hako run, guest mitigations off        ${fmt(m)} ms   ${list(mitigated)}`);
  const over = (xs: number[]) => median(xs.map((x, i) => x / (run[i] ?? NaN)));
  console.log(
    `hako run -- true (default: outbound, passt) ${fmt(median(networked))} ms   ${list(networked)}`,
  );
  console.log(
    `ratio default network / none           ${fmt(median(networked) / h, 3)}   (per-run ${fmt(over(networked), 3)}; goal <= 1.1; vs bare boot ${fmt(median(networked) / b, 2)})`,
  );
  console.log(
    `ratio mitigations off / on (default)   ${fmt(m / h, 3)}   (per-run ${fmt(over(mitigated), 3)})`,
  );
  console.log('idle container memory:');
  for (const [k, v] of Object.entries(mem)) console.log(`  ${k.padEnd(22)} ${fmt(v, 1)} MiB`);
  const host = (mem['QEMU'] ?? 0) + (mem['virtiofsd'] ?? 0) + (mem['hako process'] ?? 0);
  console.log(`  ${'host total (PSS)'.padEnd(22)} ${fmt(host, 1)} MiB`);
  console.log(
    `VM templates on this host: ${templates.length}, RAM files ${templateRam.map((m) => fmt(m, 1)).join(', ')} MiB (once per host, not per container)`,
  );
  console.log(`agent binary (static, stripped)  ${fmt(agentBinary / (1 << 20), 2)} MiB (goal < 2 MiB)`);
}

await main();
