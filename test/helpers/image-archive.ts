// The busybox test image as archives the clients import: a plain rootfs tar
// (podman import) and a docker-archive (ctr image import, docker load).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultRootfs } from './fixtures.js';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.toString()}`);
}

/** A tar of the busybox rootfs, in `dir`. */
export function rootfsTar(dir: string): string {
  const out = join(dir, 'rootfs.tar');
  run('tar', ['--numeric-owner', '-C', defaultRootfs(), '-cf', out, '.']);
  return out;
}

/** A docker-archive image of the busybox rootfs tagged `tag` (its command `cmd`), in `dir`. */
export function dockerArchive(dir: string, tag: string, cmd: readonly string[] = ['sh']): string {
  const work = join(dir, 'image');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const layer = join(work, 'layer.tar');
  run('tar', ['--numeric-owner', '-C', defaultRootfs(), '-cf', layer, '.']);
  const diffId = createHash('sha256').update(readFileSync(layer)).digest('hex');
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: cmd },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
  });
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  writeFileSync(join(work, configName), config);
  writeFileSync(
    join(work, 'manifest.json'),
    JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['layer.tar'] }]),
  );
  const out = join(dir, 'image.tar');
  run('tar', ['-C', work, '-cf', out, 'manifest.json', configName, 'layer.tar']);
  return out;
}
