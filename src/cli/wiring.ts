// The CLI's global options: logging and the configuration they select.
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import type { SandboxEnv } from '../runtime/env.js';
import { buildEnv, sweepStale } from '../wiring.js';

export interface GlobalOptions {
  readonly config?: string;
  /** Overrides runtime.state_dir. */
  readonly root?: string;
  readonly debug: boolean;
  readonly log?: string;
  readonly logFormat: 'text' | 'json';
}

export function makeLogger(g: GlobalOptions): Logger {
  return createLogger({
    level: g.debug ? 'debug' : 'warn',
    format: g.logFormat,
    ...(g.log !== undefined ? { file: g.log } : {}),
  });
}

export async function loadGlobalConfig(g: GlobalOptions): Promise<LoadedConfig> {
  const loaded = await loadConfig(g.config);
  if (g.root === undefined) return loaded;
  const config = { ...loaded.config, runtime: { ...loaded.config.runtime, stateDir: g.root } };
  return { ...loaded, config };
}

export async function makeEnv(g: GlobalOptions, loaded: LoadedConfig): Promise<SandboxEnv> {
  return buildEnv(loaded.config, makeLogger(g));
}

export { sweepStale };
