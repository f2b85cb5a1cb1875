// `hako image build`: builds (or reuses from cache) the guest image.
import { repoDir } from '../home.js';
import { buildImage, DEFAULT_KERNEL_SOURCE } from '../image/build.js';
import type { Runner } from '../sys/runner.js';
import { loadGlobalConfig, type GlobalOptions } from './wiring.js';

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
