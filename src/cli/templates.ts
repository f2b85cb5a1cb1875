// `hako template ls` and `hako template rm [--all] [KEY…]`: the VM templates
// this host keeps in [factory] template_path (guest RAM, in memory), with
// their size and last use. Removing one never touches a running VM: each
// started from its own copy of the RAM.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { discard, listTemplates, secureRoot, templateRamBytes } from '../runtime/template-dir.js';
import { loadGlobalConfig, type GlobalOptions } from './wiring.js';

const MIB = 1024 * 1024;

interface TemplateInfo {
  readonly key: string;
  readonly vmMemoryMiB: number;
  readonly ramMiB: number;
  readonly lastUsed: string;
}

async function templateRoot(g: GlobalOptions): Promise<string> {
  const { config } = await loadGlobalConfig(g);
  const root = config.factory.templatePath;
  await secureRoot(root, false);
  return root;
}

async function describe(root: string, key: string): Promise<TemplateInfo> {
  const dir = join(root, key);
  const [memory, self] = await Promise.all([stat(join(dir, 'memory')).catch(() => undefined), stat(dir)]);
  return {
    key,
    vmMemoryMiB: Math.round((memory?.size ?? 0) / MIB),
    ramMiB: Math.round((await templateRamBytes(dir)) / MIB),
    lastUsed: self.mtime.toISOString(),
  };
}

export async function templateLsCommand(
  g: GlobalOptions,
  format: string,
  out: (line: string) => void,
): Promise<number> {
  const root = await templateRoot(g);
  const all = await Promise.all((await listTemplates(root)).map((k) => describe(root, k)));
  all.sort((a, b) => b.lastUsed.localeCompare(a.lastUsed));
  if (format === 'json') {
    out(JSON.stringify(all));
    return 0;
  }
  out(`${'KEY'.padEnd(34)}${'VM MEMORY'.padEnd(11)}${'RAM HELD'.padEnd(10)}LAST USED`);
  for (const t of all) {
    out(
      `${t.key.padEnd(34)}${`${t.vmMemoryMiB} MiB`.padEnd(11)}${`${t.ramMiB} MiB`.padEnd(10)}${t.lastUsed}`,
    );
  }
  return 0;
}

export async function templateRmCommand(
  g: GlobalOptions,
  keys: readonly string[],
  all: boolean,
  out: (line: string) => void,
): Promise<number> {
  if (all === keys.length > 0) throw new HakoError('INVALID_ARGUMENT', 'give template keys, or --all');
  const root = await templateRoot(g);
  const present = await listTemplates(root);
  const chosen = all ? present : keys;
  for (const key of chosen) {
    if (!present.includes(key)) throw new HakoError('NOT_FOUND', `no VM template ${key} in ${root}`);
  }
  for (const key of chosen) {
    await discard(root, join(root, key));
    out(key);
  }
  return 0;
}
