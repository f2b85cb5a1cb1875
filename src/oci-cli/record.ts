// A runc-style container's state on disk, in its sandbox directory
// <root>/<id>/, each file with a single writer so that no two processes race:
//   oci.json   written once by `create` (bundle, creation time, annotations)
//   relay.json written by the relay once it runs (its pid and start time)
//   created    created by the relay once the container is created (until
//              then, the container is `creating`: a `start` must wait)
//   started    created by `start`;  paused: created by `pause`, removed by `resume`
//   exit.json  written by the relay when the container's process exited
import { access, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { notFound } from './errors.js';
import { isRunning, type ProcessRef, type ProcessTable } from '../sys/procs.js';

const OciRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  bundle: z.string(),
  rootfs: z.string(),
  created: z.string(),
  annotations: z.record(z.string(), z.string()),
  /** A foreground `hako run`'s: removed with its sandbox, never kept for `delete`. */
  ephemeral: z.boolean().optional(),
  /** Made by docker-style `hako run -d`: output in container.log, maybe removed at exit. */
  detached: z
    .object({
      layer: z.boolean(),
      autoRemove: z.boolean(),
      /** The VM sized by --memory and --cpus. */
      vm: z
        .object({ vcpus: z.number().int().min(1).max(256), memoryMiB: z.number().int().min(64) })
        .optional(),
      /** `--network user`, with the ports it publishes, and whether it reaches the host's loopback. */
      network: z
        .object({
          ports: z
            .array(
              z.object({
                hostIp: z.string(),
                hostPort: z.number().int().min(1).max(65535),
                containerPort: z.number().int().min(1).max(65535),
                protocol: z.enum(['tcp', 'udp']),
              }),
            )
            .max(64)
            .readonly(),
          hostLoopback: z.boolean().default(false),
        })
        .optional(),
    })
    .optional(),
});

const RefSchema = z.object({ pid: z.number().int().positive(), startTime: z.string() });
const ExitSchema = z.object({ status: z.number().int(), at: z.string() });

export type OciRecord = z.infer<typeof OciRecordSchema>;
export type Exit = z.infer<typeof ExitSchema>;
export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface OciContainer {
  readonly dir: string;
  readonly record: OciRecord;
  readonly relay: ProcessRef | undefined;
  readonly exit: Exit | undefined;
  readonly created: boolean;
  readonly started: boolean;
  readonly paused: boolean;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(value));
  await rename(`${path}.tmp`, path);
}

async function readJson<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    const r = schema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export const files = {
  record: (dir: string) => join(dir, 'oci.json'),
  relay: (dir: string) => join(dir, 'relay.json'),
  exit: (dir: string) => join(dir, 'exit.json'),
  output: (dir: string) => join(dir, 'container.log'),
  created: (dir: string) => join(dir, 'created'),
  started: (dir: string) => join(dir, 'started'),
  paused: (dir: string) => join(dir, 'paused'),
};

export const writeRecord = (dir: string, r: OciRecord) => writeJson(files.record(dir), r);
export const writeRelay = (dir: string, r: ProcessRef) => writeJson(files.relay(dir), r);
export const writeExit = (dir: string, e: Exit) => writeJson(files.exit(dir), e);
export const markCreated = (dir: string) => writeFile(files.created(dir), '');
export const markStarted = (dir: string) => writeFile(files.started(dir), '');
export const markPaused = (dir: string, paused: boolean) =>
  paused ? writeFile(files.paused(dir), '') : rm(files.paused(dir), { force: true });

/** The container in `dir`, or undefined when it does not exist (or is not a runc-style container). */
export async function readContainer(dir: string): Promise<OciContainer | undefined> {
  const record = await readJson(files.record(dir), OciRecordSchema);
  if (!record) return undefined;
  return {
    dir,
    record,
    relay: await readJson(files.relay(dir), RefSchema),
    exit: await readJson(files.exit(dir), ExitSchema),
    created: await exists(files.created(dir)),
    started: await exists(files.started(dir)),
    paused: await exists(files.paused(dir)),
  };
}

/**
 * Whether a stale sandbox in `dir` keeps its directory for `delete`: a
 * runc-style container does (its state stays until deleted), a foreground
 * `hako run`'s published one does not.
 */
export async function keepsRecord(dir: string): Promise<boolean> {
  const record = await readJson(files.record(dir), OciRecordSchema);
  return record !== undefined && record.ephemeral !== true;
}

export async function requireContainer(dir: string): Promise<OciContainer> {
  const c = await readContainer(dir);
  if (!c) throw notFound();
  return c;
}

export async function statusOf(c: OciContainer, procs: ProcessTable): Promise<OciStatus> {
  if (c.exit) return 'stopped';
  if (!c.relay) return 'creating';
  if (!(await isRunning(procs, c.relay))) return 'stopped';
  if (c.paused) return 'paused';
  if (c.started) return 'running';
  return c.created ? 'created' : 'creating';
}

/** The `state` JSON, as runc prints it. */
export function stateJson(c: OciContainer, status: OciStatus, owner = ''): Record<string, unknown> {
  const pid = status === 'stopped' || !c.relay ? 0 : c.relay.pid;
  const annotations =
    Object.keys(c.record.annotations).length > 0 ? { annotations: c.record.annotations } : {};
  return {
    ociVersion: '1.0.2',
    id: c.record.id,
    pid,
    status,
    bundle: c.record.bundle,
    rootfs: c.record.rootfs,
    created: c.record.created,
    ...annotations,
    owner,
  };
}

/** RFC 3339 with nanoseconds, UTC, as runc writes `created`. */
export function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, (_, ms: string) => `.${ms}000000Z`);
}
