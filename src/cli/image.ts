// `hako image build`: builds (or reuses from cache) the guest image.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, DEFAULT_KERNEL_SOURCE } from '../image/build.js';
import type { Runner } from '../sys/runner.js';
import { loadGlobalConfig, type GlobalOptions } from './wiring.js';

/** The source tree this CLI runs from: $HAKO_HOME (set by bin/hako), else dist/src/cli/../../.. */
export function repoDir(): string {
  const home = process.env['HAKO_HOME'];
  if (home) return home;
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export async function imageBuildCommand(
  g: GlobalOptions,
  o: { cacheDir?: string; kernelSource?: string },
  runner: Runner,
  out: (line: string) => void,
): Promise<number> {
  const { config } = await loadGlobalConfig(g);
  await buildImage(
    { runner, progress: out },
    {
      cacheDir: o.cacheDir ?? config.runtime.imageCacheDir,
      repoDir: repoDir(),
      kernelSource: o.kernelSource ?? DEFAULT_KERNEL_SOURCE,
    },
  );
  return 0;
}
