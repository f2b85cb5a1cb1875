// A private dockerd 20.10 with Hako added as a runtime (`--add-runtime
// hako=…`): its own data-root, exec-root and socket, no iptables, no bridge,
// and a Hako configuration with a private state_dir (HAKO_CONFIG reaches the
// runtime through containerd and its runc shim).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type CommandResult } from './exec.js';
import { dockerArchive } from './image-archive.js';
import { HAKO } from './paths.js';
import { privateHako } from './private-hako.js';

export const DOCKER_IMAGE = 'hako-busybox:test';

export class Dockerd {
  private constructor(
    readonly dir: string,
    readonly hakoStateDir: string,
    private readonly child: ChildProcess,
  ) {}

  /**
   * With `netns`, dockerd runs in that network namespace (a test's) with its
   * bridge and iptables rules, all inside it; without, it has no network.
   */
  static async start(opts: { netns?: string } = {}): Promise<Dockerd> {
    const { dir, hakoStateDir, config } = privateHako('/tmp/hkk-');
    const socket = join(dir, 'docker.sock');
    const network =
      opts.netns !== undefined
        ? []
        : ['--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none'];
    const [cmd = 'dockerd', ...wrapped] = [
      ...(opts.netns !== undefined ? ['nsenter', `--net=${opts.netns}`] : []),
      'dockerd',
    ];
    const child = spawn(
      cmd,
      [
        ...wrapped,
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '--pidfile',
        join(dir, 'docker.pid'),
        '-H',
        `unix://${socket}`,
        ...network,
        '--add-runtime',
        `hako=${HAKO}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HAKO_CONFIG: config } },
    );
    let log = '';
    child.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
    const d = new Dockerd(dir, hakoStateDir, child);
    for (let i = 0; i < 300 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 100; i++) {
      if ((await d.docker(['version'])).code === 0) {
        const loaded = await d.docker(['load', '-i', dockerArchive(dir, DOCKER_IMAGE)]);
        if (loaded.code !== 0) throw new Error(`docker load: ${loaded.stderr}`);
        return d;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGKILL');
    throw new Error(`dockerd did not start: ${log}`);
  }

  docker(args: readonly string[]): Promise<CommandResult> {
    return runCommand(['/usr/bin/docker', '-H', `unix://${join(this.dir, 'docker.sock')}`, ...args]);
  }

  async stop(): Promise<void> {
    await this.docker(['rm', '-f', ...(await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean)]);
    this.child.kill('SIGTERM');
    await new Promise((r) => this.child.once('exit', r));
    spawnSync('umount', ['-R', join(this.dir, 'data')]);
    spawnSync('umount', ['-R', join(this.dir, 'exec')]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
