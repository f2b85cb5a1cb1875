// Finds, reads and validates the configuration file. Which file: the one
// named by --config, else $HAKO_CONFIG, else /etc/hako/configuration.toml if
// it exists, else the built-in defaults.
import { readFile } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { HakoError } from '../errors.js';
import { ConfigSchema, fromRaw, type HakoConfig } from './schema.js';

export const SYSTEM_CONFIG = '/etc/hako/configuration.toml';

export interface LoadedConfig {
  readonly config: HakoConfig;
  /** The file read, or "built-in defaults". */
  readonly source: string;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${path || '(top level)'}: ${issue.message}`;
}

/** Validates a parsed TOML document. */
export function parseConfig(doc: unknown, source: string): HakoConfig {
  const result = ConfigSchema.safeParse(doc);
  if (!result.success) {
    const problems = result.error.issues.map(describeIssue).join('; ');
    throw new HakoError('CONFIG_INVALID', `configuration ${source}: ${problems}`);
  }
  return fromRaw(result.data);
}

export function parseConfigText(text: string, source: string): HakoConfig {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new HakoError('CONFIG_INVALID', `configuration ${source}: not valid TOML: ${msg}`, { cause: e });
  }
  return parseConfig(doc, source);
}

export async function loadConfig(
  explicitPath?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  const named = explicitPath ?? env['HAKO_CONFIG'];
  const path = named ?? SYSTEM_CONFIG;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (named === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') {
      return { config: parseConfig({}, 'built-in defaults'), source: 'built-in defaults' };
    }
    throw new HakoError('CONFIG_INVALID', `cannot read configuration ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return { config: parseConfigText(text, path), source: path };
}
