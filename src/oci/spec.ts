// Reading a bundle's config.json. Parsing checks the fields Hako relies on
// and names the first wrong one; unknown fields are kept, as the runtime
// spec requires.
import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { HakoError } from '../errors.js';

const ProcessSchema = z.looseObject({
  terminal: z.boolean().optional(),
  user: z.looseObject({ uid: z.number().int().min(0), gid: z.number().int().min(0) }).optional(),
  args: z.array(z.string()).min(1, 'must list at least the program to run').optional(),
  env: z.array(z.string()).optional(),
  cwd: z.string().refine((c) => c.startsWith('/'), 'must be an absolute path'),
});

const HookSchema = z.looseObject({
  path: z.string().refine(isAbsolute, 'must be an absolute path'),
  args: z.array(z.string()).optional(),
  env: z.array(z.string()).optional(),
  timeout: z.number().int().positive().optional(),
});

export const SpecSchema = z.looseObject({
  ociVersion: z.string(),
  process: ProcessSchema.optional(),
  root: z.looseObject({ path: z.string().min(1), readonly: z.boolean().optional() }),
  hostname: z.string().optional(),
  mounts: z
    .array(
      z.looseObject({ destination: z.string(), type: z.string().optional(), source: z.string().optional() }),
    )
    .optional(),
  hooks: z.record(z.string(), z.array(HookSchema)).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  linux: z.looseObject({}).optional(),
});

export type OciSpec = z.infer<typeof SpecSchema>;
export type OciProcess = z.infer<typeof ProcessSchema>;

export function parseSpec(json: string, source: string): OciSpec {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new HakoError('BUNDLE_INVALID', `${source} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const r = SpecSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.map(String).join('.') || '(top level)';
    throw new HakoError('BUNDLE_INVALID', `${source}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

export interface Bundle {
  readonly dir: string;
  readonly spec: OciSpec;
  /** The root filesystem on the host (absolute). */
  readonly rootfs: string;
}

/** A config.json larger than this is refused (the guest takes 1 MiB of spec at most). */
export const MAX_SPEC_FILE = 4 << 20;

/**
 * Reads a config.json that may be anything: a device or a FIFO is refused
 * before it is opened (opening some devices acts: a watchdog, a tape), the
 * file is opened without following a link (the one checked) and without
 * blocking, and read only if it is a regular file of at most MAX_SPEC_FILE
 * bytes (/dev/zero would eat memory).
 */
async function readSpecFile(path: string): Promise<string> {
  let f;
  let checked;
  try {
    const real = await realpath(path);
    checked = await stat(real);
    if (!checked.isFile()) throw new HakoError('BUNDLE_INVALID', `${path} is not a regular file`);
    f = await open(
      real,
      constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW,
    );
  } catch (e) {
    if (e instanceof HakoError) throw e;
    throw new HakoError('BUNDLE_INVALID', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const s = await f.stat();
    if (!s.isFile() || s.ino !== checked.ino || s.dev !== checked.dev) {
      throw new HakoError('BUNDLE_INVALID', `${path} is not a regular file`);
    }
    if (s.size > MAX_SPEC_FILE) {
      throw new HakoError(
        'BUNDLE_INVALID',
        `${path} is ${s.size} bytes, more than the ${MAX_SPEC_FILE} allowed`,
      );
    }
    const buf = Buffer.alloc(s.size + 1);
    const { bytesRead } = await f.read(buf, 0, buf.length, 0);
    if (bytesRead > s.size) throw new HakoError('BUNDLE_INVALID', `${path} grew while it was read`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await f.close();
  }
}

export async function readBundle(dir: string): Promise<Bundle> {
  const abs = resolve(dir);
  const configPath = join(abs, 'config.json');
  const text = await readSpecFile(configPath);
  const spec = parseSpec(text, configPath);
  return { dir: abs, spec, rootfs: resolve(abs, spec.root.path) };
}
