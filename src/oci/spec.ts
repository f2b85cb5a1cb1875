// Reading a bundle's config.json. Parsing checks the fields Hako relies on
// and names the first wrong one; unknown fields are kept, as the runtime
// spec requires.
import { readFile } from 'node:fs/promises';
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

export async function readBundle(dir: string): Promise<Bundle> {
  const abs = resolve(dir);
  const configPath = join(abs, 'config.json');
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (e) {
    throw new HakoError('BUNDLE_INVALID', `cannot read ${configPath}: ${(e as Error).message}`, { cause: e });
  }
  const spec = parseSpec(text, configPath);
  return { dir: abs, spec, rootfs: resolve(abs, spec.root.path) };
}
