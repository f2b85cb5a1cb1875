// `hako install containerd [--config FILE] [--dry-run] [--uninstall]
// [--runtime-class FILE]`: adds the runtime handler `hako` to containerd's
// CRI configuration (install-containerd.ts), idempotently, keeping the file
// as it was in FILE.hako-backup, and prints what it changed; writes the
// RuntimeClass manifest. `--uninstall` takes the block out again.
// containerd must be restarted to read the change.
import { readFile, rename, writeFile, mkdir, copyFile, access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HakoError } from '../errors.js';
import { addHakoRuntime, hakoBlock, removeHakoRuntime, runtimeClassYaml } from './install-containerd.js';

export const DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const DEFAULT_RUNTIME_CLASS = '/etc/hako/runtimeclass.yaml';
/**
 * An idle pod's host cost beyond its containers, for the scheduler: the PSS
 * `npm run bench:start` measured under TCG (hako 37.5 + QEMU 102.4 +
 * virtiofsd 1.1 + passt 19.6 ≈ 161 MiB; a CRI pod has taps instead of
 * passt) rounded up, and a quarter CPU for the VM's own work.
 */
const POD_OVERHEAD = { memory: '160Mi', cpu: '250m' };

export interface InstallOptions {
  readonly config?: string;
  readonly dryRun?: boolean;
  readonly uninstall?: boolean;
  readonly runtimeClass?: string;
}

async function readIfThere(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new HakoError('INVALID_ARGUMENT', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Replaces `path` in one step (a reader never sees half a file). */
async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.hako-tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

export async function installContainerdCommand(
  o: InstallOptions,
  out: (line: string) => void,
): Promise<number> {
  const path = o.config ?? DEFAULT_CONTAINERD_CONFIG;
  const before = await readIfThere(path);
  const result = o.uninstall ? removeHakoRuntime(before) : addHakoRuntime(before, path);
  const verb = o.dryRun ? 'would' : 'did';
  if (!result.changed) {
    out(
      o.uninstall
        ? `${path}: no Hako runtime to remove; nothing changed`
        : `${path}: the hako runtime is already there; nothing changed`,
    );
  } else {
    out(`${path}: ${o.uninstall ? `${verb} remove` : `${verb} add`} the runtime handler hako:`);
    for (const line of hakoBlock(before.trim() === '').split('\n'))
      out(`  ${o.uninstall ? '-' : '+'} ${line}`);
    if (!o.dryRun) {
      const backup = `${path}.hako-backup`;
      const hadBackup = await access(backup).then(
        () => true,
        () => false,
      );
      // The file as it was before Hako first changed it.
      if (!o.uninstall && !hadBackup && before !== '') await copyFile(path, backup);
      await writeAtomically(path, result.text);
      out(
        `restart containerd to apply it${!o.uninstall && before !== '' && !hadBackup ? ` (the file as it was: ${backup})` : ''}`,
      );
    }
  }
  if (!o.uninstall) {
    const rc = o.runtimeClass ?? DEFAULT_RUNTIME_CLASS;
    if (!o.dryRun) await writeAtomically(rc, runtimeClassYaml(POD_OVERHEAD));
    out(
      `${rc}: ${verb === 'would' ? 'would write' : 'wrote'} the RuntimeClass hako (overhead ${POD_OVERHEAD.memory}, ${POD_OVERHEAD.cpu} CPU): kubectl apply -f ${rc}`,
    );
  }
  return 0;
}
