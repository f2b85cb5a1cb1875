// `hako list [--format table|json] [--quiet]`: every runc-style container under --root.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { OciContext } from '../context.js';
import { readContainer, stateJson, statusOf } from '../record.js';

export async function listCommand(ctx: OciContext, format: string, quiet: boolean): Promise<number> {
  const names = await readdir(ctx.root).catch(() => [] as string[]);
  const states: Record<string, unknown>[] = [];
  for (const name of names.sort()) {
    const c = await readContainer(join(ctx.root, name));
    if (c) states.push(stateJson(c, await statusOf(c, ctx.procs), userInfo().username));
  }
  if (quiet) process.stdout.write(states.map((s) => `${String(s['id'])}\n`).join(''));
  else if (format === 'json') process.stdout.write(`${JSON.stringify(states.length > 0 ? states : null)}\n`);
  else {
    const row = (cols: string[]) => cols.map((c, i) => (i < cols.length - 1 ? c.padEnd(12) : c)).join(' ');
    const lines = [row(['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'])];
    for (const s of states) {
      lines.push(row([s['id'], s['pid'], s['status'], s['bundle'], s['created'], s['owner']].map(String)));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
