// `hako update [--resources F|-] [--memory N] [--cpu-quota N] … <id>`:
// applies LinuxResources to the container's cgroup in the guest.
import { readFile } from 'node:fs/promises';
import { HakoError } from '../../errors.js';
import { containerDir, containerRunDir, type OciContext } from '../context.js';
import { withAgent } from '../proxy.js';
import { requireContainer, statusOf } from '../record.js';

export interface UpdateOptions {
  readonly resources?: string;
  readonly memory?: string;
  readonly memorySwap?: string;
  readonly memoryReservation?: string;
  readonly cpuQuota?: string;
  readonly cpuPeriod?: string;
  readonly cpuShare?: string;
  readonly cpusetCpus?: string;
  readonly cpusetMems?: string;
  readonly pidsLimit?: string;
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new HakoError('INVALID_ARGUMENT', `invalid value for --${flag}: ${v}`);
  return n;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function resourcesOf(o: UpdateOptions): Promise<Record<string, unknown>> {
  if (o.resources !== undefined) {
    const text = o.resources === '-' ? await readStdin() : await readFile(o.resources, 'utf8');
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      return v as Record<string, unknown>;
    } catch (e) {
      throw new HakoError('INVALID_ARGUMENT', `resources: ${(e as Error).message}`);
    }
  }
  const drop = (o: Record<string, number | string | undefined>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return {
    memory: drop({
      limit: num(o.memory, 'memory'),
      swap: num(o.memorySwap, 'memory-swap'),
      reservation: num(o.memoryReservation, 'memory-reservation'),
    }),
    cpu: drop({
      quota: num(o.cpuQuota, 'cpu-quota'),
      period: num(o.cpuPeriod, 'cpu-period'),
      shares: num(o.cpuShare, 'cpu-share'),
      cpus: o.cpusetCpus,
      mems: o.cpusetMems,
    }),
    pids: drop({ limit: num(o.pidsLimit, 'pids-limit') }),
  };
}

export async function updateCommand(ctx: OciContext, id: string, o: UpdateOptions): Promise<number> {
  const c = await requireContainer(containerDir(ctx, id));
  const status = await statusOf(c, ctx.procs);
  if (status === 'stopped' || status === 'creating')
    throw new HakoError('FAILED_PRECONDITION', 'container not running');
  const resources = await resourcesOf(o);
  const json = new TextEncoder().encode(JSON.stringify(resources));
  await withAgent(containerRunDir(ctx, id), (agent) => agent.updateContainer(id, json));
  return 0;
}
