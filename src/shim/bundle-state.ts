// <bundle>/hako-shim.json: what the `delete` action needs to clean up a
// container without a running daemon (its sandbox, the state directory,
// the configuration used and the daemon's socket).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const BundleStateSchema = z.object({
  sandboxId: z.string(),
  stateDir: z.string(),
  configPath: z.string().optional(),
  socket: z.string(),
  pid: z.number().int().nonnegative(),
});

export type BundleState = z.infer<typeof BundleStateSchema>;

const FILE = 'hako-shim.json';

export async function writeBundleState(bundle: string, state: BundleState): Promise<void> {
  const tmp = join(bundle, `.${FILE}`);
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, join(bundle, FILE));
}

export async function readBundleState(bundle: string): Promise<BundleState | undefined> {
  try {
    const r = BundleStateSchema.safeParse(JSON.parse(await readFile(join(bundle, FILE), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
