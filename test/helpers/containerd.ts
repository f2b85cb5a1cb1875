// A private containerd 1.6 for one test file: its own root, state, sockets
// and Hako configuration (private state_dir), with bin/ first on its PATH so
// that `--runtime io.containerd.hako.v2` finds our shim. Images are built
// locally from the busybox rootfs and imported with `ctr image import`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { dockerArchive } from './image-archive.js';
import { runCommand, type CommandResult } from './exec.js';
import { privateHako } from './private-hako.js';
import { mountsUnder } from './hako.js';
import { REPO } from './paths.js';

export const IMAGE = 'docker.io/library/hako-busybox:test';

export type CtrResult = CommandResult;

export class Containerd {
  private constructor(
    /** Its private directory; `config` is the Hako configuration its shims read. */
    readonly dir: string,
    readonly address: string,
    readonly hakoStateDir: string,
    private readonly child: ChildProcess,
  ) {}

  /**
   * `env` reaches the shims (containerd passes its environment on). With
   * `netns`, containerd (and so its shims, and CNI) runs in that network
   * namespace. `cri(dir)` gives the CRI plugin's configuration, which is
   * otherwise disabled.
   */
  static async start(
    opts: {
      env?: Readonly<Record<string, string>>;
      netns?: string;
      cri?: (dir: string) => string;
      /** Changes the written configuration file before containerd reads it. */
      configure?: (configFile: string) => Promise<void>;
      /** Appended to the shims' Hako configuration. */
      hakoConfig?: string;
    } = {},
  ): Promise<Containerd> {
    const { dir, hakoStateDir, config } = privateHako('/tmp/hkd-', opts.hakoConfig);
    const address = join(dir, 'containerd.sock');
    const disabled = [
      ...(opts.cri ? [] : ['io.containerd.grpc.v1.cri']),
      'io.containerd.snapshotter.v1.btrfs',
      'io.containerd.snapshotter.v1.zfs',
      'io.containerd.snapshotter.v1.devmapper',
      'io.containerd.snapshotter.v1.aufs',
    ];
    writeFileSync(
      join(dir, 'config.toml'),
      [
        'version = 2',
        `root = "${join(dir, 'root')}"`,
        `state = "${join(dir, 'state')}"`,
        `disabled_plugins = ${JSON.stringify(disabled)}`,
        '[grpc]',
        `  address = "${address}"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(dir, 'opt')}"`,
        opts.cri?.(dir) ?? '',
        '',
      ].join('\n'),
    );
    await opts.configure?.(join(dir, 'config.toml')).catch((e: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    });
    const enter = opts.netns !== undefined ? ['nsenter', `--net=${opts.netns}`] : [];
    const [cmd = 'containerd', ...args] = [...enter, 'containerd', '--config', join(dir, 'config.toml')];
    const child = spawn(cmd, [...args, '--log-level', 'info'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        PATH: `${join(REPO, 'bin')}:${process.env['PATH'] ?? ''}`,
        HAKO_CONFIG: config,
        ...opts.env,
      },
    });
    const log: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => log.push(b));
    // For a failure's post-mortem: containerd's log, with its shims' lines, kept where asked.
    const keep = process.env['HAKO_TEST_CONTAINERD_LOG'];
    if (keep) child.stderr?.on('data', (b: Buffer) => appendFileSync(keep, b));
    for (let i = 0; i < 400; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(address);
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) return new Containerd(dir, address, hakoStateDir, child);
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`containerd did not start: ${Buffer.concat(log).toString().slice(-2000)}`);
  }

  /** The argv of a ctr command against this containerd. */
  ctrArgv(namespace: string, args: readonly string[]): string[] {
    return ['ctr', '--address', this.address, '--namespace', namespace, ...args];
  }

  /** Runs ctr against this containerd. */
  ctr(
    namespace: string,
    args: readonly string[],
    opts: { input?: string; timeoutMs?: number } = {},
  ): Promise<CtrResult> {
    return runCommand(this.ctrArgv(namespace, args), {
      timeoutMs: opts.timeoutMs ?? 120_000,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  }

  /** A ctr command started in the background (events, long-running tasks). */
  ctrBackground(namespace: string, args: readonly string[]): { child: ChildProcess; output: () => string } {
    const [cmd = 'ctr', ...rest] = this.ctrArgv(namespace, args);
    const child = spawn(cmd, rest, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    return { child, output: () => out };
  }

  /** Imports the busybox test image into `namespace` (as `tag`, with `cmd`). */
  async importImage(namespace: string, tag = IMAGE, cmd?: readonly string[]): Promise<void> {
    const tar = dockerArchive(this.dir, tag, cmd);
    const r = await this.ctr(namespace, ['image', 'import', tar]);
    if (r.code !== 0) throw new Error(`ctr image import: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await new Promise((r) => this.child.once('exit', r));
    spawnSync('umount', ['-R', join(this.dir, 'root')]);
    // What a failed test left mounted must not be emptied by the removal below.
    for (const m of (await mountsUnder(this.dir)).sort((a, b) => b.length - a.length)) {
      spawnSync('umount', ['-l', m]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
