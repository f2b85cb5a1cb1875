// A sandbox: one VM with its shared filesystem and its agent connection,
// holding containers. Lifecycle: creating → running → stopping → stopped.
// Every step that creates something is recorded on disk first, so stop()
// and cleanupSandbox() can undo it; a failed start undoes itself.
import type { UserNetwork } from '../network/user-net.js';
import { randomMac, startPasst, userNetworkConfig } from '../network/user-net.js';
import { podNetnsPath } from '../network/spec-netns.js';
import { readPodNetwork } from '../network/netns.js';
import type { PodInterface, PodNetwork } from '../network/pod-network.js';
import { startPortForward, type PortForward } from '../network/port-forward.js';
import { guestPorts } from './guest-ports.js';
import { makeTaps, nextTapIndex, removeTaps, tapIndex, tapLinks } from '../network/tcfilter.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentClient, StorageInit } from '../agent-client/client.js';
import { sanitizeGuestText } from '../agent-client/errors.js';
import { OomFilter } from './oom-filter.js';
import { reachAgent } from './reach-agent.js';
import { pausePoint } from '../test-pause.js';
import { HakoError, isHakoError, messageOf } from '../errors.js';
import type { SandboxJail } from '../confinement/confinement.js';
import type { JailPlan } from '../confinement/jail.js';
import type { Device, TapNic, Vm, VmExit, VmResources } from '../hypervisor/types.js';
import { MEMORY_BLOCK_MIB, onlineCpus, sizeOfBoot } from '../hypervisor/resize-plan.js';
import { within } from '../within.js';
import { podSize, shareOf } from './sizing.js';
import { NineP } from '../storage/ninep.js';
import type { SharedFs } from '../storage/types.js';
import { Virtiofs } from '../storage/virtiofs.js';
import { refOf } from '../sys/procs.js';
import { describeExit, type Child, type ChildExit } from '../sys/runner.js';
import { VirtioSerialTransport } from '../transport/virtio-serial.js';
import { cleanupSandbox, type CleanupOptions } from './cleanup.js';
import { Container, type ContainerHost } from './container.js';
import type { SandboxEnv } from './env.js';
import { GUEST_SHARED_DIR, guestContainerDir, guestLayer, guestRootfs } from './guest-paths.js';
import { detachOps, shareOps, stageOps, unstageOps, viewDir } from '../storage/staging.js';
import { planVolumes } from '../storage/volumes.js';
import { checkId, checkSocketPath } from './ids.js';
import { netDirFor, runDirFor } from './run-dir.js';
import { startVm, usesTemplate } from './vm-start.js';
import type { ContainerRecord, SandboxRecord } from './state-store.js';
import type { ExtraFd } from './process-io.js';

export type SandboxStatus = SandboxRecord['status'] | 'stopped';

export interface SandboxOptions {
  readonly id: string;
  readonly hostname?: string;
  /** The VM and virtiofsd die with this process (for `hako run`). */
  readonly dieWithParent: boolean;
  /** The sandbox directory was already created (by store.create) for this sandbox. */
  readonly adopt?: boolean;
  /** Asked before the first container is created: true leaves it uncreated. */
  readonly abandoned?: () => boolean;
  /**
   * The first container's spec, when the sandbox starts without it (the
   * shim's does): the pod's network namespace and host cgroup it names are
   * the sandbox's.
   */
  readonly firstSpec?: Readonly<Record<string, unknown>>;
  /**
   * Connections to 127.0.0.1 in the pod's network namespace reach the
   * guest's loopback (kubectl port-forward: network/port-forward.ts).
   */
  readonly forwardPorts?: boolean;
}

/** A container to create in a sandbox. */
export interface ContainerRequest {
  readonly id: string;
  readonly spec: Readonly<Record<string, unknown>>;
  /** The host directory that becomes its root filesystem. */
  readonly rootfs: string;
  readonly readonly: boolean;
  /**
   * The rootfs is shared read-only and the container writes to a layer of
   * its own in the guest, which goes with it (the built-in image: every run
   * starts from it pristine).
   */
  readonly layer?: boolean;
  /** The bundle, against which relative bind mount sources resolve. */
  readonly bundleDir?: string;
  /** Also start it (in one step in the guest). */
  readonly start?: boolean;
  /** Descriptors its process gets beyond stdio, at 3, 4, ... (relayed pipes). */
  readonly extraFds?: readonly ExtraFd[];
  /**
   * Without a pod namespace in its spec: the sandbox's own user-mode network
   * (passt), outbound, with these ports published (`hako run --network user`).
   */
  readonly userNetwork?: UserNetwork;
}

/** A container whose host side is ready: what the agent is sent to create it. */
interface Staged {
  readonly id: string;
  readonly ociSpecJson: Uint8Array;
  readonly layer: boolean;
  readonly extraFds: readonly ExtraFd[];
}

const DESTROY_TIMEOUT_MS = 5000;
const VM_STOP_GRACE_MS = 2000;
/** How long an agent error may precede the VM's exit and still be blamed on it. */
const EXIT_SETTLE_MS = 300;
/** The id of the VM's NIC on a tap: the tap's number (tap3_hako: net3). */
const nicId = (tap: string) => `net${tapIndex(tap)}`;
/** How long the pod's namespace must be still before the VM's NICs are synced with it. */
const NETWORK_SETTLE_MS = 250;
/** How long the guest may take to see hot-plugged CPUs and memory and bring them online. */
const ONLINE_WAIT_MS = 5000;

const sameSize = (a: VmResources, b: VmResources) => a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB;

/** The guest's writable layer over a container's read-only rootfs (tmpfs, in guest RAM). */
function layerStorage(id: string): StorageInit {
  return {
    driver: 'overlay',
    source: guestRootfs(id),
    fstype: 'overlay',
    options: [],
    mountPoint: guestLayer(id),
  };
}

export class Sandbox implements ContainerHost {
  readonly id: string;
  readonly dir: string;
  /** Sockets and logs (the sandbox directory unless that makes socket paths too long). */
  readonly runDir: string;
  readonly #env: SandboxEnv;
  readonly #record: SandboxRecord;
  #status: SandboxStatus = 'creating';
  #vm: Vm | undefined;
  #vmExit: VmExit | undefined;
  #fs: SharedFs | undefined;
  /** How the shared-fs daemon ended, if it did while the sandbox ran. */
  #fsExit: ChildExit | undefined;
  #agent: AgentClient | undefined;
  /** The pod's network namespace, whose interfaces the VM carries. */
  #podNetns: string | undefined;
  /** The pod's network as the guest was last told it (JSON), to tell it only of changes. */
  #appliedNetwork: string | undefined;
  /** Syncs of the VM's NICs with the namespace, one at a time. */
  #netSync: Promise<void> = Promise.resolve();
  /** `ip monitor` in the pod's namespace, while the sandbox runs (started once). */
  #netWatch: Promise<Child> | undefined;
  /** kubectl port-forward's way into the guest, once started. */
  #portForward: Promise<PortForward | undefined> | undefined;
  #stopping: Promise<void> | undefined;
  #saved: Promise<void> = Promise.resolve();
  readonly #containers = new Map<string, Container>();
  /** The volume names each staged container has under its mounts/. */
  readonly #volumes = new Map<string, readonly string[]>();
  /** What each container adds to the VM (sizing.ts). */
  readonly #shares = new Map<string, VmResources>();
  /** The VM's size at boot (the configuration's), on which containers' shares add up. */
  readonly #bootSize: VmResources;
  /** The size last asked of the VM, and what the guest was last told to have online. */
  #wanted: VmResources;
  #size: VmResources;
  /** Resizes of the VM, one at a time. */
  #resizing: Promise<void> = Promise.resolve();

  private constructor(env: SandboxEnv, record: SandboxRecord) {
    this.#env = env;
    this.id = record.id;
    this.dir = env.store.dir(record.id);
    this.runDir = runDirFor(this.dir);
    this.#record = record;
    this.#bootSize = this.#wanted = this.#size = sizeOfBoot(env.config.hypervisor);
  }

  get status(): SandboxStatus {
    return this.#status;
  }

  /**
   * Boots the VM and prepares the guest, and creates `first` in it if given
   * (its host side is made ready while the VM boots); on failure leaves
   * nothing behind.
   */
  static async start(env: SandboxEnv, opts: SandboxOptions, first?: ContainerRequest): Promise<Sandbox> {
    const id = checkId(opts.id, 'sandbox id');
    if (first) checkId(first.id);
    checkSocketPath(join(runDirFor(env.store.dir(id)), 'agent.sock'));
    // This process owns the sandbox: once it is gone, the sandbox is stale
    // and the next sweep removes it, whoever started it.
    const owner = await refOf(env.procs, process.pid);
    if (!opts.adopt) await env.store.create(id);
    const record: SandboxRecord = {
      version: 1,
      id,
      status: 'creating',
      createdAt: new Date().toISOString(),
      containers: [],
      ...(owner ? { owner } : {}),
    };
    const sandbox = new Sandbox(env, record);
    try {
      await sandbox.#save();
      await sandbox.#boot(opts, first);
      return sandbox;
    } catch (e) {
      await sandbox
        .stop()
        .catch((err: unknown) => env.log.log('warn', `cleanup after failed start: ${messageOf(err)}`));
      throw e;
    }
  }

  /** Writes the record as it is now, after any write still under way. */
  async #save(): Promise<void> {
    // Concurrent writes would race on the store's temporary file, and an
    // older record could land last.
    const write = this.#saved.then(() => this.#env.store.write(this.#record));
    this.#saved = write.catch(() => undefined);
    await write;
  }

  #makeSharedFs(sharedDir: string, dieWithParent: boolean, jail: JailPlan): SharedFs {
    const h = this.#env.config.hypervisor;
    if (h.sharedFs === 'virtio-9p') return new NineP(sharedDir);
    const opts = {
      daemon: h.virtiofsDaemon,
      sharedDir,
      runDir: this.runDir,
      cache: h.virtiofsCache,
      dieWithParent,
      jail,
      helper: this.#env.helper,
    };
    return new Virtiofs(opts, this.#env);
  }

  /** Names, records, then makes what confines the sandbox's processes. */
  async #confine(first: ContainerRequest | undefined, opts: SandboxOptions): Promise<SandboxJail> {
    const { confinement, accel } = this.#env;
    // The host cgroup the first container's spec names holds the sandbox (runc would put that container there).
    const linux = ((first?.spec ?? opts.firstSpec)?.['linux'] ?? {}) as {
      cgroupsPath?: unknown;
      resources?: unknown;
    };
    const record = await confinement.plan(this.dir, linux.cgroupsPath);
    this.#record.jail = record;
    await this.#save();
    // The spec's limits bound that cgroup only where the VM was sized for them
    // at boot (a first container): a VM that grows by hot-plug outgrows them.
    return confinement.apply(
      record,
      { ...this.#bootSize, accel: accel.accel },
      first ? linux.resources : undefined,
    );
  }

  async #boot(opts: SandboxOptions, first: ContainerRequest | undefined): Promise<void> {
    const { log } = this.#env;
    const t0 = performance.now();
    // Derived from the directory (runDirFor), so cleanup finds it from disk.
    if (this.runDir !== this.dir) await mkdir(this.runDir, { recursive: true, mode: 0o700 });
    // The network (taps, or passt) is made while the rest is set up; awaited before QEMU starts.
    const networkReady = this.#carryNetwork(first, opts);
    networkReady.catch(() => undefined);
    // Needs only the namespace (#carryNetwork knows it at once): made while the VM boots.
    const forwarding = opts.forwardPorts ? this.#forwardPorts() : undefined;
    forwarding?.catch(() => undefined);
    const jail = await this.#confine(first, opts);
    await this.#env.fs.apply(this.dir, shareOps());
    const fs = this.#makeSharedFs(viewDir(this.dir), opts.dieWithParent, jail.fsd);
    this.#fs = fs;
    log.log('debug', 'shared dir ready', { sandbox: this.id });
    const transport = new VirtioSerialTransport(join(this.runDir, 'agent.sock'));
    const startFs = async () => {
      const fsRef = await fs.start();
      await pausePoint('fs-start');
      if (fsRef) {
        this.#record.fsDaemon = fsRef;
        await this.#save();
      }
    };
    log.log('debug', 'starting VM', {
      sandbox: this.id,
      accel: this.#env.accel.accel,
      reason: this.#env.accel.reason,
      template: usesTemplate(this.#env, fs.devices()),
    });
    const network = await networkReady;
    const vm = await startVm(this.#env, {
      id: this.id,
      dir: this.runDir,
      transport,
      fsDevices: fs.devices(),
      netDevices: network?.devices ?? [],
      dieWithParent: opts.dieWithParent,
      jail,
      startFs,
      restartDaemons: async () => {
        await fs.stop();
        await startFs();
        await network?.restart?.();
      },
    });
    this.#vm = vm;
    await pausePoint('vm-spawn');
    this.#record.vm = vm.process;
    await this.#save();
    void vm.exited.then((exit) => {
      this.#vmExit = exit;
      this.#agent?.close();
    });
    // The guest cannot survive its shared fs: every file operation on it
    // would hang. Stop the VM, so that its containers end and are reported.
    void fs.exited?.then((exit) => {
      if (this.#stopping || this.#vmExit) return;
      this.#fsExit = exit;
      log.log('error', `the shared-fs daemon of sandbox ${this.id} exited; stopping its VM`, {
        sandbox: this.id,
      });
      void vm.stop(0).catch(() => undefined);
    });
    // The first container's limits are in the boot size already (its callers size the VM for it).
    const staged = first ? this.#stage(first, true) : undefined;
    // Awaited below; until then a failure must not count as unhandled.
    staged?.catch(() => undefined);
    // Settled before anything is undone: a bind mount made after cleanup
    // would outlive the sandbox.
    await this.#handshake(vm, transport, fs, opts, t0)
      .then(async () => {
        if (!network) return;
        await this.guard(this.agent.updateNetwork(network.pod), 'configure the network');
        this.#appliedNetwork = JSON.stringify(network.pod);
      })
      .catch(async (e: unknown) => {
        await staged?.catch(() => undefined);
        throw e;
      });
    await forwarding;
    if (!staged) return;
    const ready = await staged;
    // Left staged (stop() removes it) if its caller gave up meanwhile.
    if (!opts.abandoned?.()) await this.#create(this.agent, ready, first?.start ?? false);
  }

  /**
   * Follows the pod's namespace while the sandbox runs: a change to its
   * links, addresses or routes (`docker network connect`/`disconnect`)
   * syncs the VM's NICs with it, a quarter second after the last.
   */
  async followNetwork(): Promise<void> {
    const netns = this.#podNetns;
    if (netns === undefined || this.#netWatch) return;
    let timer: NodeJS.Timeout | undefined;
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void this.syncNetwork().catch((e: unknown) =>
          this.#env.log.log('warn', `network of sandbox ${this.id}: ${messageOf(e)}`, { sandbox: this.id }),
        );
      }, NETWORK_SETTLE_MS);
      timer.unref();
    };
    this.#netWatch = this.#env.runner.spawn({
      argv: ['nsenter', `--net=${netns}`, 'ip', 'monitor', 'link', 'address', 'route'],
      dieWithParent: true,
      onStdout: changed,
    });
    await this.#netWatch;
  }

  /** Starts forwarding the pod namespace's 127.0.0.1 to the guest's; none without a namespace. */
  #forwardPorts(): Promise<PortForward | undefined> {
    const netns = this.#podNetns;
    if (netns === undefined) return Promise.resolve(undefined);
    const { runner, helper, log } = this.#env;
    this.#portForward = startPortForward({
      runner,
      helper,
      netns,
      dir: this.runDir,
      guest: guestPorts(this),
      log,
    });
    return this.#portForward;
  }

  /**
   * The pod's network, when the first container's spec names a network
   * namespace (a pod's, made by CNI, podman, docker or a hook): read, its
   * taps recorded and made, and the VM's NICs for them. None for a
   * namespace with no interface but loopback.
   */
  async #carryNetwork(
    first: ContainerRequest | undefined,
    { dieWithParent, firstSpec }: SandboxOptions,
  ): Promise<{ devices: Device[]; pod: PodNetwork; restart?: () => Promise<void> } | undefined> {
    const netns = podNetnsPath(first?.spec ?? firstSpec);
    this.#podNetns = netns;
    const { runner } = this.#env;
    if (netns === undefined && first?.userNetwork) {
      const mac = randomMac();
      const podP = userNetworkConfig(runner, mac);
      podP.catch(() => undefined);
      const net = first.userNetwork;
      const start = () =>
        startPasst(runner, netDirFor(this.dir), net, {
          dieWithParent,
          logFile: join(this.runDir, 'passt.log'),
        });
      let passt = await start();
      // passt serves one connection: a VM booted after a failed one needs a passt of its own.
      const restart = async () => {
        passt.child.kill('SIGKILL');
        await passt.child.exited;
        passt = await start();
      };
      const devices: Device[] = [{ kind: 'net-stream', id: 'net0', mac, socketPath: passt.socketPath }];
      return { devices, pod: await podP, restart };
    }
    if (netns === undefined) return undefined;
    const pod = await readPodNetwork(runner, netns);
    if (pod.interfaces.length === 0) return undefined;
    return { devices: await this.#tapNics(netns, pod.interfaces), pod };
  }

  /** Records, then makes, a tap per interface, numbered after those the sandbox has; a NIC on each. */
  async #tapNics(netns: string, interfaces: readonly PodInterface[]): Promise<TapNic[]> {
    const queues = Math.max(1, this.#env.config.hypervisor.vcpus);
    const first = nextTapIndex(this.#record.network?.links ?? []);
    const links = tapLinks(interfaces, first);
    this.#record.network = { netns, links: [...(this.#record.network?.links ?? []), ...links] };
    await this.#save();
    await makeTaps(this.#env.runner, netns, interfaces, queues, first);
    return interfaces.map((i, n) => ({
      kind: 'net',
      id: nicId(links[n]?.tap ?? ''),
      mac: i.mac,
      netns,
      tap: links[n]?.tap ?? '',
      queues,
      vhost: this.#env.vhostNet,
    }));
  }

  /**
   * Brings the VM's NICs in line with the pod's namespace as it is now:
   * interfaces that appeared since the start (configured by hooks between
   * create and start, as docker's and nerdctl's are, or by `network
   * connect`) get a tap and a NIC each, added to the running VM; those that
   * went lose theirs; then the guest is told the namespace's configuration,
   * if it changed. One sync at a time.
   */
  syncNetwork(): Promise<void> {
    const run = this.#netSync.then(() => this.#syncNetwork());
    this.#netSync = run.catch(() => undefined);
    return run;
  }

  async #syncNetwork(): Promise<void> {
    const netns = this.#podNetns;
    const vm = this.#vm;
    if (netns === undefined || !vm || this.#status !== 'running') return;
    const { runner } = this.#env;
    const pod = await readPodNetwork(runner, netns);
    const present = new Set(pod.interfaces.map((i) => i.name));
    for (const l of (this.#record.network?.links ?? []).filter((x) => !present.has(x.device))) {
      const id = nicId(l.tap);
      await this.guard(vm.unplugNic(id), `remove NIC ${id}`);
      await removeTaps(runner, netns, [l]);
      this.#record.network = { netns, links: (this.#record.network?.links ?? []).filter((x) => x !== l) };
      await this.#save();
    }
    const carried = new Set(this.#record.network?.links.map((l) => l.device));
    const fresh = pod.interfaces.filter((i) => !carried.has(i.name));
    if (fresh.length > 0) {
      for (const nic of await this.#tapNics(netns, fresh))
        await this.guard(vm.plugNic(nic), `add NIC ${nic.id}`);
    }
    const config = JSON.stringify(pod);
    if (config === this.#appliedNetwork) return;
    await this.guard(this.agent.updateNetwork(pod), 'configure the network');
    this.#appliedNetwork = config;
  }

  /** Connects to the agent, checks it and creates the sandbox in the guest. */
  async #handshake(
    vm: Vm,
    transport: VirtioSerialTransport,
    fs: SharedFs,
    opts: SandboxOptions,
    t0: number,
  ): Promise<void> {
    const { config, log } = this.#env;
    log.log('debug', 'VM process started', { sandbox: this.id });
    const agent = await reachAgent({
      sandbox: this.id,
      vm,
      transport,
      deadline: Date.now() + config.agent.dialTimeoutMs,
      requestTimeoutMs: config.agent.requestTimeoutMs,
      log,
      guard: (op, what) => this.guard(op, what),
    });
    this.#agent = agent;
    log.log('debug', 'agent answered', { sandbox: this.id });
    const tBooted = performance.now();
    await pausePoint('create-sandbox');
    await this.guard(
      agent.createSandbox({
        sandboxId: this.id,
        hostname: opts.hostname ?? this.id.slice(0, 63),
        storages: [fs.guestStorage(GUEST_SHARED_DIR)],
        hostTimeUnixNano: BigInt(Date.now()) * 1_000_000n,
      }),
      'create the sandbox',
    );
    this.#status = 'running';
    this.#record.status = 'running';
    await this.#save();
    log.log('debug', 'sandbox running', {
      sandbox: this.id,
      agentReadyMs: Math.round(tBooted - t0),
      totalMs: Math.round(performance.now() - t0),
    });
  }

  async #vmExitedError(what: string, exit: VmExit): Promise<HakoError> {
    const fsExit = this.#fsExit;
    const fsDiag = fsExit ? await this.#fs?.diagnostics() : undefined;
    const diag = [fsDiag, await this.#vm?.diagnostics()].filter((d) => d).join('\n');
    const why = fsExit ? `: its shared-fs daemon exited (${describeExit(fsExit)})` : '';
    return new HakoError(
      'VM_EXITED',
      `the sandbox VM stopped (${describeExit(exit)})${why} while trying to ${what}${diag ? `\n${diag}` : ''}`,
    );
  }

  /** Runs `op`; if the VM dies meanwhile, fails with VM_EXITED instead of a vaguer error. */
  async guard<T>(op: Promise<T>, what: string): Promise<T> {
    const vm = this.#vm;
    if (!vm) return op;
    if (this.#vmExit) {
      op.catch(() => undefined);
      throw await this.#vmExitedError(what, this.#vmExit);
    }
    const died = { died: true } as const;
    let result: { value: T } | typeof died;
    try {
      result = await Promise.race([op.then((value) => ({ value })), vm.exited.then(() => died)]);
    } catch (e) {
      // A closed connection usually means the VM is going away: give its exit a moment to arrive.
      const settled = await within(vm.exited, EXIT_SETTLE_MS);
      if (settled) throw await this.#vmExitedError(what, settled);
      throw e;
    }
    if ('died' in result) {
      op.catch(() => undefined);
      throw await this.#vmExitedError(what, this.#vmExit ?? (await vm.exited));
    }
    return result.value;
  }

  get agent(): AgentClient {
    if (!this.#agent || this.#status !== 'running') {
      throw new HakoError('FAILED_PRECONDITION', `sandbox ${this.id} is ${this.#status}`);
    }
    return this.#agent;
  }

  /** Creates a container (with `start`, also starts it, in one step in the guest). */
  async createContainer(r: ContainerRequest): Promise<Container> {
    const agent = this.agent;
    return this.#create(agent, await this.#stage(r), r.start ?? false);
  }

  /**
   * The host's part of creating a container, which needs no agent (so it can
   * be done while the VM boots): its record, and its rootfs and bind mounts
   * in the staging tree. Undone if it fails.
   */
  async #stage(r: ContainerRequest, inBootSize = false): Promise<Staged> {
    const id = checkId(r.id);
    if (this.#containers.has(id) || this.#record.containers.some((c) => c.id === id)) {
      throw new HakoError('ALREADY_EXISTS', `container ${id} already exists`);
    }
    const layer = r.layer === true && !r.readonly;
    const plan = await planVolumes(r.spec, r.bundleDir, `${guestContainerDir(id)}/mounts`);
    this.#record.containers.push({ id, status: 'creating' });
    const resources = inBootSize
      ? undefined
      : (r.spec['linux'] as { resources?: unknown } | undefined)?.resources;
    this.#shares.set(id, shareOf(resources));
    this.#volumes.set(
      id,
      plan.volumes.map((v) => v.name),
    );
    try {
      await this.#save();
      const rootfs = { source: r.rootfs, readonly: r.readonly || layer };
      await this.#env.fs.apply(this.dir, stageOps(id, rootfs, plan.volumes));
      const ociSpecJson = new TextEncoder().encode(JSON.stringify(plan.spec));
      return { id, ociSpecJson, layer, extraFds: r.extraFds ?? [] };
    } catch (e) {
      await this.#forgetContainer(id).catch(() => undefined);
      throw e;
    }
  }

  /** Creates (and with `start` starts) a staged container in the guest. */
  async #create(agent: AgentClient, staged: Staged, start: boolean): Promise<Container> {
    const { id, ociSpecJson, layer, extraFds } = staged;
    await pausePoint('first-container');
    let pid: number;
    try {
      await this.#fit();
      pid = await this.guard(
        agent.createContainer({
          containerId: id,
          ociSpecJson,
          rootfsPath: layer ? guestLayer(id) : guestRootfs(id),
          storages: layer ? [layerStorage(id)] : [],
          start,
          extraFds,
        }),
        `create container ${id}`,
      );
    } catch (e) {
      await this.#forgetContainer(id).catch(() => undefined);
      throw e;
    }
    const status = start ? 'running' : 'created';
    const container = new Container(this, id, pid, status);
    this.#containers.set(id, container);
    await this.setContainerStatus(id, status);
    return container;
  }

  container(id: string): Container {
    const c = this.#containers.get(id);
    if (!c) throw new HakoError('NOT_FOUND', `container ${id} does not exist`);
    return c;
  }

  async setContainerStatus(id: string, status: ContainerRecord['status']): Promise<void> {
    const r = this.#record.containers.find((c) => c.id === id);
    if (r) r.status = status;
    await this.#save();
  }

  async #forgetContainer(id: string): Promise<void> {
    await this.#env.fs.apply(this.dir, unstageOps(id, this.#volumes.get(id) ?? []));
    this.#volumes.delete(id);
    this.#containers.delete(id);
    // What it added goes back; a VM that cannot give it back keeps it (logged).
    if (this.#shares.delete(id) && this.#status === 'running') await this.#fit().catch(() => undefined);
    const i = this.#record.containers.findIndex((c) => c.id === id);
    if (i >= 0) this.#record.containers.splice(i, 1);
    await this.#save();
  }

  /**
   * Sizes the VM for its containers (their shares on top of the boot size):
   * hot-plugs or unplugs CPUs and memory, has the guest bring what was added
   * online, and moves the sandbox's host cgroup with it. One at a time.
   */
  #fit(): Promise<void> {
    const run = this.#resizing.then(() => this.#resize());
    this.#resizing = run.catch(() => undefined);
    return run;
  }

  async #resize(): Promise<void> {
    const vm = this.#vm;
    const boot = this.#bootSize;
    const want = podSize(boot, this.#shares.values());
    if (!vm || this.#status !== 'running' || sameSize(want, this.#wanted)) return;
    const { log } = this.#env;
    const got = await this.guard(vm.resize(want), 'resize the VM');
    this.#wanted = want;
    // What the guest is to have online: extra CPUs stay plugged, offline (resize.ts).
    const online = { vcpus: onlineCpus(boot, want, got), memoryMiB: got.memoryMiB };
    const before = this.#size;
    if (sameSize(online, before)) {
      // Nothing moved: a VM that cannot grow (a microvm), or at its maximum already.
      log.log('warn', 'the VM cannot change size', { sandbox: this.id, want, has: online });
      return;
    }
    this.#size = online;
    const grows = online.vcpus > before.vcpus || online.memoryMiB > before.memoryMiB;
    // The host cgroup makes room before the guest uses more, and shrinks once it stopped.
    if (grows) await this.#resizeCgroup(online);
    const has = await this.guard(
      this.agent.onlineCpuMem(online, ONLINE_WAIT_MS),
      'bring CPUs and memory online',
    );
    if (!grows) await this.#resizeCgroup(online);
    if (has.vcpus !== online.vcpus || has.memoryMiB + MEMORY_BLOCK_MIB <= online.memoryMiB)
      log.log('warn', 'the guest did not bring all hot-plugged CPUs and memory online', {
        sandbox: this.id,
        online,
        has,
      });
    log.log(sameSize(online, want) ? 'debug' : 'warn', 'VM resized', { sandbox: this.id, want, has: online });
  }

  async #resizeCgroup(size: VmResources): Promise<void> {
    const { log, confinement, accel } = this.#env;
    await confinement.resize(this.#record.jail ?? {}, { ...size, accel: accel.accel }).catch((e: unknown) => {
      log.log('warn', `the sandbox's host cgroup keeps its limits: ${messageOf(e)}`, { sandbox: this.id });
    });
  }

  /**
   * New limits for a container: its guest cgroup, and the VM by what its
   * share changed (grown before the cgroup is, shrunk after).
   */
  async updateResources(id: string, resources: unknown): Promise<void> {
    const old = this.#shares.get(id);
    if (!old) throw new HakoError('NOT_FOUND', `container ${id} does not exist`);
    const share = shareOf(resources);
    const json = new TextEncoder().encode(JSON.stringify(resources));
    const grows = share.vcpus > old.vcpus || share.memoryMiB > old.memoryMiB;
    this.#shares.set(id, share);
    try {
      if (grows) await this.#fit();
      await this.guard(this.agent.updateContainer(id, json), `update container ${id}`);
      if (!grows) await this.#fit();
    } catch (e) {
      this.#shares.set(id, old);
      await this.#fit().catch(() => undefined);
      throw e;
    }
  }

  /** Removes the container in the guest and its rootfs mount on the host. */
  async removeContainer(id: string): Promise<void> {
    // A VM that is gone took the container with it: only the host side is left to remove.
    if (!this.#vmExit) {
      await this.guard(this.agent.removeContainer(id), `remove container ${id}`).catch((e: unknown) => {
        if (!isHakoError(e, 'VM_EXITED')) throw e;
      });
    }
    await this.#forgetContainer(id);
  }

  /** Stops everything and removes all traces (but the directory, with keepDir); idempotent. */
  stop(opts: CleanupOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(opts);
    return this.#stopping;
  }

  async #stop(opts: CleanupOptions): Promise<void> {
    const { log } = this.#env;
    const wasRunning = this.#status === 'running';
    this.#status = 'stopping';
    // Even while it is still being started.
    void this.#netWatch?.then((w) => w.kill('SIGKILL')).catch(() => undefined);
    const forwardStopped = this.#portForward?.then((f) => f?.stop()).catch(() => undefined);
    this.#record.status = 'stopping';
    await this.#save().catch(() => undefined);
    const agent = this.#agent;
    let destroyed = false;
    if (wasRunning && agent && !this.#vmExit && !agent.connection.isClosed) {
      try {
        await this.guard(agent.destroySandbox(DESTROY_TIMEOUT_MS), 'destroy the sandbox');
        destroyed = true;
      } catch (e) {
        log.log('debug', `destroy sandbox: ${messageOf(e)}`, { sandbox: this.id });
      }
    }
    agent?.close();
    log.log('debug', 'sandbox destroyed in the guest', { sandbox: this.id });
    await pausePoint('stop');
    // A destroyed guest has synced and is powering itself off: nothing in it
    // is left to save, so its VM need not be waited for, and its mounts can
    // go while it dies.
    const vm = this.#vm;
    const ending: Promise<void>[] = [
      this.#fs?.stop() ?? Promise.resolve(),
      forwardStopped ?? Promise.resolve(),
    ];
    // cleanupSandbox below unmounts for good: an early failure is not one.
    if (destroyed) ending.push(this.#env.fs.apply(this.dir, detachOps()).catch(() => undefined));
    if (vm) ending.push(destroyed ? vm.kill() : vm.stop(VM_STOP_GRACE_MS));
    await Promise.all(ending);
    log.log('debug', 'VM and shared fs stopped', { sandbox: this.id });
    await cleanupSandbox(this.#env, this.id, opts);
    log.log('debug', 'sandbox removed', { sandbox: this.id });
    this.#status = 'stopped';
  }

  get vmExit(): VmExit | undefined {
    return this.#vmExit;
  }

  /**
   * Calls `listener` with the id of each container the guest kills for
   * memory, while running: only ids of this sandbox's containers, and at a
   * bounded rate (oom-filter.ts).
   */
  watchOom(listener: (containerId: string) => void): void {
    const filter = new OomFilter((id) => this.#containers.has(id));
    const loop = async () => {
      while (this.#status === 'running') {
        const wait = filter.delayMs();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const id = await this.agent.nextOomEvent();
        const verdict = filter.judge(id);
        if (verdict.publish) listener(id);
        else {
          this.#env.log.log('debug', `OOM event dropped: ${verdict.why}`, {
            sandbox: this.id,
            container: sanitizeGuestText(id, 128),
          });
        }
      }
    };
    loop().catch(() => undefined);
  }
}
