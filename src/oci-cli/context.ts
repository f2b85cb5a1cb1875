// What every runc-style command needs: the state root (--root, else the
// configured state_dir), and where a container lives in it.
import { join } from 'node:path';
import type { GlobalOptions } from '../cli/wiring.js';
import { loadGlobalConfig } from '../cli/wiring.js';
import type { HakoConfig } from '../config/schema.js';
import { checkId } from '../runtime/ids.js';
import { runDirFor } from '../runtime/run-dir.js';
import { RealProcessTable, type ProcessTable } from '../sys/procs.js';

export interface OciContext {
  readonly g: GlobalOptions;
  readonly config: HakoConfig;
  readonly root: string;
  readonly procs: ProcessTable;
}

export async function ociContext(g: GlobalOptions): Promise<OciContext> {
  const { config } = await loadGlobalConfig(g);
  return { g, config, root: config.runtime.stateDir, procs: new RealProcessTable() };
}

export function containerDir(ctx: OciContext, id: string): string {
  return join(ctx.root, checkId(id));
}

export function containerRunDir(ctx: OciContext, id: string): string {
  return runDirFor(containerDir(ctx, id));
}
