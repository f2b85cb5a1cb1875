// The fallback kernel: Debian's cloud kernel with its virtio modules,
// cached like everything else (guest/kernel/cloud-fallback.sh does the work).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { cached, hashFile, keyOf } from './cache.js';
import type { ImageBuildDeps } from './build.js';

export async function cloudKernel(
  deps: ImageBuildDeps,
  opts: { cacheDir: string; repoDir: string },
): Promise<{ kernel: string; release: string; source: 'debian-cloud'; modules: string[] }> {
  const script = join(opts.repoDir, 'guest', 'kernel', 'cloud-fallback.sh');
  const policy = await deps.runner.run(['apt-cache', 'policy', 'linux-image-cloud-amd64']);
  const version = /Candidate:\s*(\S+)/.exec(policy.stdout)?.[1];
  if (!version || version === '(none)') {
    throw new HakoError(
      'IMAGE_BUILD_FAILED',
      'no kernel: linux-source-6.1 and linux-image-cloud-amd64 are both unavailable',
    );
  }
  const key = keyOf([
    ['script', await hashFile(script)],
    ['version', version],
  ]);
  const entry = await cached(opts.cacheDir, 'cloud-kernel', key, async (dir) => {
    const r = await deps.runner.run(['sh', script, dir], {
      timeoutMs: 30 * 60 * 1000,
      onLine: (l) => deps.progress(`  ${l}`),
    });
    if (r.code !== 0)
      throw new HakoError('IMAGE_BUILD_FAILED', `cloud kernel fallback failed: ${r.stderr.trim()}`);
  });
  const release = (await readFile(join(entry.dir, 'release'), 'utf8')).trim();
  const order = (await readFile(join(entry.dir, 'modules', 'load-order'), 'utf8'))
    .split('\n')
    .filter(Boolean);
  return {
    kernel: join(entry.dir, 'vmlinuz'),
    release,
    source: 'debian-cloud',
    modules: order.map((m) => join(entry.dir, 'modules', m)),
  };
}
