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
export const PODMAN_LIMITS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];
export const PODMAN_RUN_FLAGS = ['--network', 'none', ...PODMAN_LIMITS];

export class Podman {
  private constructor(
    readonly dir: string,
    readonly hakoStateDir: string,
    /** When set, podman runs in this network namespace (its bridge, rules and ports live there). */
    readonly netns: string | undefined,
  ) {}

  static async create(opts: { netns?: string } = {}): Promise<Podman> {
    const { dir, hakoStateDir } = privateHako('/tmp/hkp-');
    const p = new Podman(dir, hakoStateDir, opts.netns);
    const r = await p.podman(['import', rootfsTar(dir), PODMAN_IMAGE]);
    if (r.code !== 0) throw new Error(`podman import: ${r.stderr}`);
    return p;
  }

  get baseArgs(): string[] {
    const d = this.dir;
    return [
      ...(this.netns !== undefined ? ['nsenter', `--net=${this.netns}`] : []),
      'podman',
      '--network-config-dir',
      join(d, 'net.d'),
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
