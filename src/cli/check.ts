// `hako check`: is this host ready to run sandboxes? Each line names a
// requirement, what was found, and how to fix it when missing. Exits 1 if
// anything is missing.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HakoConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import { listTemplates, secureRoot, templateRamBytes } from '../runtime/template-dir.js';
import { chooseAccel, probeHost, readCpuinfo } from '../hypervisor/accel.js';
import { readCurrent } from '../image/guest-image.js';
import { guestAslr } from '../runtime/kernel-cmdline.js';
import { confinementFindings } from '../confinement/report.js';
import { helperBinary } from '../home.js';
import type { Runner } from '../sys/runner.js';
import { loadGlobalConfig, type GlobalOptions } from './wiring.js';

interface Finding {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly fix?: string;
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** Where `name` is on PATH, if it is. */
async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(':').filter((d) => d.startsWith('/'))) {
    if (await executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export async function checkCommand(
  g: GlobalOptions,
  runner: Runner,
  out: (line: string) => void,
): Promise<number> {
  const { config, source } = await loadGlobalConfig(g);
  const h = config.hypervisor;
  const findings: Finding[] = [{ name: 'config', ok: true, detail: source }];

  if (await executable(h.path)) {
    const v = await runner.run([h.path, '--version']).catch(() => undefined);
    findings.push({
      name: 'qemu',
      ok: true,
      detail: `${h.path} (${v?.stdout.split('\n')[0] ?? 'version unknown'})`,
    });
  } else {
    findings.push({
      name: 'qemu',
      ok: false,
      detail: `${h.path} not found`,
      fix: 'apt-get install qemu-system-x86',
    });
  }

  const accel = chooseAccel(await probeHost(await readCpuinfo()), h.accelerator);
  findings.push({ name: 'accelerator', ok: true, detail: `${accel.accel}: ${accel.reason}` });
  if (!guestAslr(h.guestAslr, accel.accel)) {
    findings.push({
      name: 'guest ASLR',
      ok: true,
      detail: `off (guest_aslr = "${h.guestAslr}"${h.guestAslr === 'auto' ? ', TCG' : ''}); set guest_aslr = "on" to keep it`,
    });
  }

  if (h.sharedFs === 'virtio-fs') {
    const ok = await executable(h.virtiofsDaemon);
    findings.push({
      name: 'virtiofsd',
      ok,
      detail: ok ? h.virtiofsDaemon : `${h.virtiofsDaemon} not found`,
      ...(ok ? {} : { fix: 'apt-get install qemu-system-common, or set shared_fs = "virtio-9p"' }),
    });
  } else {
    findings.push({ name: 'shared fs', ok: true, detail: 'virtio-9p (no daemon needed)' });
  }

  // hako run's default network.
  const passt = await onPath('passt');
  findings.push({
    name: 'passt',
    ok: passt !== undefined,
    detail: passt ?? 'not found: hako run has no outbound network (--network none still works)',
    ...(passt ? {} : { fix: 'apt-get install passt' }),
  });

  const current = await readCurrent(config.runtime.imageCacheDir);
  const build = 'hako image build';
  const kernel = h.kernel || current?.kernel;
  const initrd = h.initrd || current?.initrd;
  const fileFinding = async (name: string, path: string | undefined, extra = '') => {
    const ok =
      path !== undefined &&
      (await access(path).then(
        () => true,
        () => false,
      ));
    findings.push({
      name,
      ok,
      detail: ok ? `${path}${extra}` : `${path ?? 'not built'}`,
      ...(ok ? {} : { fix: build }),
    });
  };
  const release = current && !h.kernel ? ` (${current.kernelRelease}, ${current.kernelSource})` : '';
  await fileFinding('kernel', kernel, release);
  await fileFinding('initramfs', initrd);
  await fileFinding('default image', current ? `${current.rootfs}/bin/busybox` : undefined);
  if (current?.kernelSource === 'debian-cloud') {
    findings.push({
      name: 'kernel warning',
      ok: true,
      detail: "using Debian's cloud kernel fallback: slower boot; rebuild with linux-source-6.1 installed",
    });
  }

  const stateDir = config.runtime.stateDir;
  const writable = await mkdir(stateDir, { recursive: true })
    .then(() => access(stateDir, constants.W_OK))
    .then(
      () => true,
      () => false,
    );
  findings.push({
    name: 'state dir',
    ok: writable,
    detail: writable ? stateDir : `${stateDir} is not writable`,
    ...(writable ? {} : { fix: 'run as root or set runtime.state_dir' }),
  });
  findings.push({ name: 'VM templates', ok: true, detail: await templatesFinding(config) });
  const helper = await executable(helperBinary());
  findings.push({
    name: 'host helper',
    ok: helper,
    detail: helper ? helperBinary() : `${helperBinary()} not built`,
    ...(helper ? {} : { fix: 'scripts/setup.sh (cargo build in tools/host-helper)' }),
  });
  findings.push(...(await confinementFindings(config, runner)));
  const isRoot = process.getuid?.() === 0;
  findings.push({
    name: 'privileges',
    ok: isRoot,
    detail: isRoot ? 'root' : 'not root',
    ...(isRoot ? {} : { fix: 'run as root (mounts, virtiofsd)' }),
  });

  for (const f of findings) {
    out(`${f.ok ? 'ok     ' : 'MISSING'} ${f.name}: ${f.detail}${f.fix ? `\n        fix: ${f.fix}` : ''}`);
  }
  const missing = findings.filter((f) => !f.ok).length;
  out(missing === 0 ? 'host is ready' : `host is not ready: ${missing} requirement(s) missing`);
  return missing === 0 ? 0 : 1;
}

/** Whether sandboxes start from VM templates, and what the templates hold. */
async function templatesFinding(config: HakoConfig): Promise<string> {
  const f = config.factory;
  if (!f.enableTemplate) return 'off (factory.enable_template = false): every VM boots';
  if (config.hypervisor.sharedFs !== 'virtio-fs') return 'on, but unused with virtio-9p: every VM boots';
  const unusable = await secureRoot(f.templatePath, false).then(
    () => undefined,
    (e: unknown) => messageOf(e),
  );
  if (unusable) return `on, but unusable, so every VM boots: ${unusable}`;
  const keys = await listTemplates(f.templatePath);
  const bytes = await Promise.all(keys.map((k) => templateRamBytes(join(f.templatePath, k))));
  const mib = bytes.reduce((a, b) => a + b, 0) / (1 << 20);
  return `on: ${keys.length} in ${f.templatePath} (${mib.toFixed(0)} MiB of RAM); the first start needing a new one makes it`;
}
