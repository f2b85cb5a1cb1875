// podman 4.3 with Hako as its OCI runtime, all in private directories: its
// own storage, run root and tmp, and a Hako configuration with a private
// state_dir (HAKO_CONFIG reaches the runtime through conmon).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type CommandResult } from './exec.js';
import { rootfsTar } from './image-archive.js';
import { HAKO } from './paths.js';
import { privateHako } from './private-hako.js';

export const PODMAN_IMAGE = 'localhost/hako-busybox:test';
/** This machine's root lacks CAP_SYS_RESOURCE: podman's default limits must be lowered (environment.md). */
export const PODMAN_RUN_FLAGS = [
  '--network',
  'none',
  '--ulimit',
  'nofile=20000:20000',
  '--ulimit',
  'nproc=32768:32768',
];

export class Podman {
  private constructor(
    readonly dir: string,
    readonly hakoStateDir: string,
  ) {}

  static async create(): Promise<Podman> {
    const { dir, hakoStateDir } = privateHako('/tmp/hkp-');
    const p = new Podman(dir, hakoStateDir);
    const r = await p.podman(['import', rootfsTar(dir), PODMAN_IMAGE]);
    if (r.code !== 0) throw new Error(`podman import: ${r.stderr}`);
    return p;
  }

  get baseArgs(): string[] {
    const d = this.dir;
    return [
      'podman',
      '--root',
      join(d, 'storage'),
      '--runroot',
      join(d, 'run'),
      '--tmpdir',
      join(d, 'tmp'),
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      '--runtime',
      HAKO,
    ];
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, HAKO_CONFIG: join(this.dir, 'hako.toml') };
  }

  podman(args: readonly string[], opts: { input?: string } = {}): Promise<CommandResult> {
    return runCommand([...this.baseArgs, ...args], { env: this.env, ...opts });
  }

  async destroy(): Promise<void> {
    await this.podman(['rm', '-af', '-t', '0']);
    spawnSync('umount', ['-R', join(this.dir, 'storage', 'overlay')]);
    spawnSync('umount', ['-R', join(this.dir, 'storage')]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
