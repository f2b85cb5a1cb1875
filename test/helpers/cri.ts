// A CRI client (what kubelet speaks to containerd), with @grpc/grpc-js and
// the CRI runtime.v1 proto kept as a fixture, and a private containerd with
// its CRI plugin, runtime handler `hako`, and Debian's CNI bridge plugin,
// all inside a network namespace the test made: the bridge, the pods'
// namespaces and their traffic never touch the host's network.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { after, before } from 'node:test';
import { Containerd } from './containerd.js';
import { fileNetns } from './netns.js';
import { assertNoLeaks } from './leaks.js';
import { REPO } from './paths.js';

export const CRI_NAMESPACE = 'k8s.io';
export const CRI_IMAGE = 'docker.io/library/hako-busybox:test';
export const PAUSE_IMAGE = 'docker.io/library/hako-pause:test';
/** The test bridge's subnet and its gateway (the node's address on it). */
export const CNI_SUBNET = '10.99.0.0/24';
export const CNI_GATEWAY = '10.99.0.1';

const PROTO = join(REPO, 'test', 'fixtures', 'cri-api', 'api.proto');
const CALL_MS = 180_000;

/** Each container in its pod's network and IPC namespaces, its own PID namespace. */
const NAMESPACES = { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } };

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, res: unknown) => void,
) => void;

/** The CRI plugin's configuration; the runtime handler hako unless `hako install` is to add it. */
function criConfig(dir: string, withHako: boolean): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    `[${cri}]`,
    `  sandbox_image = "${PAUSE_IMAGE}"`,
    // This machine's root lacks CAP_SYS_RESOURCE (environment.md).
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `[${cri}.cni]`,
    '  bin_dir = "/usr/lib/cni"',
    `  conf_dir = "${join(dir, 'net.d')}"`,
    `[${cri}.containerd]`,
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    ...(withHako
      ? [
          `[${cri}.containerd.runtimes.hako]`,
          '  runtime_type = "io.containerd.hako.v2"',
          // As `hako install containerd` writes it: the pod's io.hako.* annotations reach the shim.
          '  pod_annotations = ["io.hako.*"]',
        ]
      : []),
  ].join('\n');
}

/** Debian's bridge plugin on `hkcni0` with host-local addresses (its state in `dir`). */
function writeCniConfig(dir: string): void {
  mkdirSync(join(dir, 'net.d'), { recursive: true });
  const conf = {
    cniVersion: '0.4.0',
    name: 'hako-test',
    plugins: [
      {
        type: 'bridge',
        bridge: 'hkcni0',
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: CNI_SUBNET, gateway: CNI_GATEWAY }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(dir, 'ipam'),
        },
      },
    ],
  };
  writeFileSync(join(dir, 'net.d', '10-hako-test.conflist'), JSON.stringify(conf));
}

export interface PodConfig {
  readonly metadata: { name: string; uid: string; namespace: string; attempt: number };
  readonly hostname: string;
  readonly logDirectory: string;
  readonly linux: unknown;
  readonly annotations?: Record<string, string>;
}

export class Cri {
  private constructor(
    readonly containerd: Containerd,
    private readonly runtime: grpc.Client & Record<string, Unary>,
    /** The namespace containerd (and its streaming server, on 127.0.0.1) runs in. */
    private readonly netns: string,
  ) {}

  /**
   * containerd with CRI in the namespace at `netns`, the test images
   * imported. With `install`, the configuration has no hako runtime until
   * `install` (given the file) adds it.
   */
  static async start(
    netns: string,
    install?: (configFile: string) => Promise<void>,
    /** Appended to the shims' Hako configuration. */
    hakoConfig = '',
  ): Promise<Cri> {
    const containerd = await Containerd.start({
      netns,
      hakoConfig,
      cri: (dir) => {
        writeCniConfig(dir);
        return criConfig(dir, install === undefined);
      },
      ...(install ? { configure: install } : {}),
    });
    try {
      await containerd.importImage(CRI_NAMESPACE, CRI_IMAGE);
      await containerd.importImage(CRI_NAMESPACE, PAUSE_IMAGE, ['sleep', '2147483647']);
      const def = protoLoader.loadSync(PROTO, { longs: String, enums: String, defaults: true, oneofs: true });
      const pkg = grpc.loadPackageDefinition(def) as unknown as {
        runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } };
      };
      const client = new pkg.runtime.v1.RuntimeService(
        `unix://${containerd.address}`,
        grpc.credentials.createInsecure(),
      ) as unknown as grpc.Client & Record<string, Unary>;
      return new Cri(containerd, client, netns);
    } catch (e) {
      await containerd.stop();
      throw e;
    }
  }

  /** One RuntimeService call. */
  call<T>(method: string, req: unknown): Promise<T> {
    const fn = this.runtime[method];
    if (!fn) throw new Error(`no CRI method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(this.runtime, req, new grpc.Metadata(), { deadline: Date.now() + CALL_MS }, (e, res) =>
        e ? reject(new Error(`CRI ${method}: ${e.message}`)) : resolve(res as T),
      );
    });
  }

  /**
   * A pod's configuration (its logs under the containerd directory); with
   * `cgroupParent`, its host cgroup's parent (as kubelet gives one).
   */
  podConfig(name: string, cgroupParent?: string, annotations?: Record<string, string>): PodConfig {
    const logDirectory = join(this.containerd.dir, 'pod-logs', name);
    mkdirSync(logDirectory, { recursive: true });
    return {
      metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 },
      hostname: name,
      logDirectory,
      ...(annotations ? { annotations } : {}),
      linux: {
        securityContext: NAMESPACES,
        ...(cgroupParent ? { cgroupParent } : {}),
      },
    };
  }

  /** RunPodSandbox with runtime handler `hako` (or `runc`); the pod's id. */
  async runPod(config: PodConfig, runtimeHandler = 'hako'): Promise<string> {
    const r = await this.call<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler });
    return r.podSandboxId;
  }

  /** The pod's IP, as CNI gave it. */
  async podIp(pod: string): Promise<string> {
    const r = await this.call<{ status: { network: { ip: string } } }>('PodSandboxStatus', {
      podSandboxId: pod,
    });
    return r.status.network.ip;
  }

  /** CreateContainer + StartContainer of `command` in the busybox image; the container's id. */
  async runContainer(
    pod: string,
    config: PodConfig,
    name: string,
    command: readonly string[],
    /** CRI's LinuxContainerResources (memoryLimitInBytes, cpuQuota…). */
    resources?: Record<string, unknown>,
    /** Its restart count in the pod (kubelet's attempt). */
    attempt = 0,
    /** More of CRI's ContainerConfig (tty, stdin…). */
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const created = await this.call<{ containerId: string }>('CreateContainer', {
      podSandboxId: pod,
      config: {
        metadata: { name, attempt },
        image: { image: CRI_IMAGE },
        command,
        logPath: `${name}.${attempt}.log`,
        ...extra,
        linux: {
          // The pod's namespace options, as kubelet gives them to each container.
          securityContext: (config.linux as { securityContext?: unknown }).securityContext ?? NAMESPACES,
          ...(resources ? { resources } : {}),
        },
      },
      sandboxConfig: config,
    });
    await this.call('StartContainer', { containerId: created.containerId });
    return created.containerId;
  }

  /** Waits for the container to exit; its exit code. */
  async waitExit(container: string, timeoutMs = 60_000): Promise<number> {
    return (await this.waitExited(container, timeoutMs)).exitCode;
  }

  /** Waits for the container to exit; its exit code and CRI's reason (Completed, Error, OOMKilled). */
  async waitExited(container: string, timeoutMs = 60_000): Promise<{ exitCode: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.call<{ status: { state: string; exitCode: number; reason: string } }>(
        'ContainerStatus',
        { containerId: container },
      );
      if (r.status.state === 'CONTAINER_EXITED')
        return { exitCode: r.status.exitCode, reason: r.status.reason };
      if (Date.now() > deadline) throw new Error(`container ${container} still ${r.status.state}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  /** What a container wrote to `stream`, from its CRI log ("TIME stdout F text" lines). */
  logOf(config: PodConfig, name: string, stream: 'stdout' | 'stderr' = 'stdout', attempt = 0): string {
    const text = readFileSync(join(config.logDirectory, `${name}.${attempt}.log`), 'utf8');
    return text
      .split('\n')
      .map((l) => new RegExp(`^\\S+ ${stream} [FP] (.*)$`).exec(l)?.[1])
      .filter((l): l is string => l !== undefined)
      .map((l) => `${l}\n`)
      .join('');
  }

  /** ExecSync: runs `cmd` in the container, `timeout` seconds at most (0: none). */
  async execSync(
    container: string,
    cmd: readonly string[],
    timeout = 0,
  ): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.call<{ stdout: Buffer; stderr: Buffer; exitCode: number }>('ExecSync', {
      containerId: container,
      cmd,
      timeout,
    });
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
  }

  /**
   * Streams a session (CRI Exec or Attach, by the URL containerd returns)
   * with the k8s channel protocol, from inside containerd's namespace;
   * `steps` as k8s-stream-client.ts takes them.
   */
  async stream(
    url: string,
    steps: readonly unknown[],
    mode: 'session' | 'portforward' = 'session',
  ): Promise<{ stdout: string; stderr: string; status: string; ms?: number }> {
    const client = join(REPO, 'dist', 'test', 'helpers', 'k8s-stream-client.js');
    const argv = [`--net=${this.netns}`, process.execPath, client, url, JSON.stringify(steps), mode];
    const r = await promisify(execFile)('nsenter', argv, {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 64 << 20,
    }).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`stream client: ${e.stderr || e.message}`);
    });
    return JSON.parse(r.stdout) as { stdout: string; stderr: string; status: string; ms?: number };
  }

  /** CRI Exec: the streaming URL for `cmd` in the container. */
  execUrl(container: string, cmd: readonly string[], o: { tty: boolean; stdin: boolean }): Promise<string> {
    return this.#streamUrl('Exec', container, o, { cmd });
  }

  /** CRI Attach: the streaming URL of the container's own process. */
  attachUrl(container: string, o: { tty: boolean; stdin: boolean }): Promise<string> {
    return this.#streamUrl('Attach', container, o);
  }

  /** Waits (30 s at most) until `url` is served inside the container (busybox wget). */
  async untilServed(container: string, url: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    const probe = ['sh', '-c', `wget -q -O /dev/null ${url} && echo up`];
    while ((await this.execSync(container, probe)).stdout !== 'up\n') {
      if (Date.now() > deadline) throw new Error(`${url} is not served in ${container}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** CRI PortForward: the streaming URL for `port` of the pod. */
  async portForwardUrl(pod: string, port: number): Promise<string> {
    return (await this.call<{ url: string }>('PortForward', { podSandboxId: pod, port: [port] })).url;
  }

  /** Stdout always; stderr apart unless on a terminal (which merges them). */
  async #streamUrl(
    method: 'Exec' | 'Attach',
    container: string,
    o: { tty: boolean; stdin: boolean },
    more: Record<string, unknown> = {},
  ): Promise<string> {
    const req = { containerId: container, ...more, tty: o.tty, stdin: o.stdin, stdout: true, stderr: !o.tty };
    return (await this.call<{ url: string }>(method, req)).url;
  }

  /** StopContainer (`timeout` s for SIGTERM) + RemoveContainer. */
  async removeContainer(container: string, timeout = 0): Promise<void> {
    await this.call('StopContainer', { containerId: container, timeout });
    await this.call('RemoveContainer', { containerId: container });
  }

  /**
   * Runs `fn` with a pod of `config`, which then goes whatever `fn` did;
   * afterwards nothing of Hako's may remain.
   */
  async inPod(config: PodConfig, fn: (pod: string) => Promise<void>): Promise<void> {
    const pod = await this.runPod(config);
    try {
      await fn(pod);
    } finally {
      await this.removePod(pod);
    }
    await assertNoLeaks(this.containerd.hakoStateDir);
  }

  /** StopPodSandbox + RemovePodSandbox (its containers go with it). */
  async removePod(pod: string): Promise<void> {
    await this.call('StopPodSandbox', { podSandboxId: pod });
    await this.call('RemovePodSandbox', { podSandboxId: pod });
  }

  async stop(): Promise<void> {
    this.runtime.close();
    await this.containerd.stop();
  }
}

/**
 * A test file's CRI node: before its tests, a network namespace (named by
 * `tag`) with containerd and its CRI plugin in it, handed to `set`; after
 * them, `cleanup`, then both go. Returns the namespace.
 */
export function criSuite(
  tag: string,
  set: (cri: Cri) => void,
  opts: { hakoConfig?: string; cleanup?: () => void } = {},
): ReturnType<typeof fileNetns> {
  const node = fileNetns(tag);
  let cri: Cri | undefined;
  before(async () => {
    node.make();
    cri = await Cri.start(node.path, undefined, opts.hakoConfig ?? '');
    set(cri);
  });
  after(async () => {
    try {
      await cri?.stop();
    } finally {
      node.remove();
      opts.cleanup?.();
    }
  });
  return node;
}
