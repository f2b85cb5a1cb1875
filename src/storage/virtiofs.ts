// virtio-fs: one virtiofsd per sandbox serving its shared directory over a
// vhost-user socket that QEMU connects to. virtiofsd sandboxes itself in its
// own mount namespace; mounts made later under the (shared-propagation)
// directory still reach it.
import { join } from 'node:path';
import { jailedArgv, type JailPlan } from '../confinement/jail.js';
import { HakoError } from '../errors.js';
import type { Device } from '../hypervisor/types.js';
import type { ProcessRef, ProcessTable } from '../sys/procs.js';
import { logSection } from '../sys/log-tail.js';
import { pathAppears } from '../sys/path-appears.js';
import { describeExit, type Child, type ChildExit, type Runner } from '../sys/runner.js';
import { SHARE_TAG, type SharedFs } from './types.js';
import type { StorageInit } from '../agent-client/client.js';

export interface VirtiofsOptions {
  readonly daemon: string;
  readonly sharedDir: string;
  /** Where the vhost-user socket and the log go. */
  readonly runDir: string;
  readonly cache: 'auto' | 'always' | 'none';
  readonly dieWithParent: boolean;
  /** How the daemon is confined, by the host helper that starts it. */
  readonly jail: JailPlan;
  readonly helper: string;
}

/** A value inside one of virtiofsd's -o option lists: commas and backslashes escaped. */
export function fuseOptValue(v: string): string {
  return v.replace(/[\\,]/g, (c) => `\\${c}`);
}

/**
 * virtiofsd's seccomp filter kills it (SIGSYS) on sched_getaffinity, which
 * glibc's malloc calls when its threads outgrow 8 arenas and it sizes the
 * arena limit from the CPU count. A fixed limit means it never asks; the
 * guest's file operations would otherwise hang for good on the dead daemon.
 */
const VIRTIOFSD_ENV = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' } as const;

export class Virtiofs implements SharedFs {
  readonly driver = 'virtio-fs';
  #child: Child | undefined;
  #ref: ProcessRef | undefined;

  constructor(
    private readonly opts: VirtiofsOptions,
    private readonly deps: { runner: Runner; procs: ProcessTable },
  ) {}

  get socketPath(): string {
    return join(this.opts.runDir, 'fs.sock');
  }

  async start(): Promise<ProcessRef> {
    const daemon = [
      this.opts.daemon,
      `--socket-path=${this.socketPath}`,
      '-o',
      `source=${fuseOptValue(this.opts.sharedDir)}`,
      '-o',
      `cache=${this.opts.cache}`,
      '-o',
      'sandbox=namespace',
      '-o',
      'no_posix_lock',
      '-o',
      'xattr',
      // Its shares are nosuid and nodev; it needs neither to make device
      // nodes nor to set file capabilities for the guest.
      '-o',
      'modcaps=-mknod:-setfcap',
      '--thread-pool-size=4',
    ];
    this.#child = await this.deps.runner.spawn({
      argv: jailedArgv(this.opts.helper, this.opts.jail, { dieWithParent: this.opts.dieWithParent }, daemon),
      logFile: this.#logPath,
      env: VIRTIOFSD_ENV,
    });
    const startTime = await this.deps.procs.startTime(this.#child.pid);
    if (startTime !== undefined) this.#ref = { pid: this.#child.pid, startTime };
    await this.#waitForSocket();
    if (!this.#ref) throw await this.#exitedError();
    return this.#ref;
  }

  get #logPath(): string {
    return join(this.opts.runDir, 'virtiofsd.log');
  }

  async #exitedError(): Promise<HakoError> {
    const exit = await this.#child?.exited;
    const how = exit ? ` (${describeExit(exit)})` : '';
    const log = await this.diagnostics();
    return new HakoError('VM_START_FAILED', `virtiofsd exited at start${how}${log ? `\n${log}` : ''}`);
  }

  async #waitForSocket(): Promise<void> {
    const seen = await pathAppears(this.socketPath, Date.now() + 5000, this.#child?.exited);
    if (seen === 'ended') throw await this.#exitedError();
    if (seen === 'timeout') {
      throw new HakoError('VM_START_FAILED', `virtiofsd did not create ${this.socketPath} within 5 s`);
    }
  }

  get exited(): Promise<ChildExit> | undefined {
    return this.#child?.exited;
  }

  diagnostics(): Promise<string> {
    return logSection(this.#logPath, 20);
  }

  devices(): Device[] {
    return [{ kind: 'vhost-user-fs', id: 'fs0', tag: SHARE_TAG, socketPath: this.socketPath }];
  }

  guestStorage(mountPoint: string): StorageInit {
    return { driver: 'virtiofs', source: SHARE_TAG, fstype: 'virtiofs', options: [], mountPoint };
  }

  async stop(): Promise<void> {
    // Our own child: its exit is reported at once, with nothing to poll.
    this.#child?.kill('SIGKILL');
    await this.#child?.exited;
  }
}
