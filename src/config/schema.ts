// The configuration schema, in the spirit of Kata's configuration.toml:
// every key, its type and its default. Unknown keys are rejected by name.
// The documented file is config/configuration.toml at the repository root.
import { z } from 'zod';

/** The [hypervisor.qemu] keys a pod annotation may set where enable_annotations lists them (annotations.ts). */
export const ANNOTATABLE = [
  'default_vcpus',
  'default_memory',
  'default_maxvcpus',
  'default_maxmemory',
  'kernel_params',
] as const;
export type Annotatable = (typeof ANNOTATABLE)[number];

export const Qemu = z.strictObject({
  path: z.string().min(1).default('/usr/bin/qemu-system-x86_64'),
  kernel: z.string().default(''),
  initrd: z.string().default(''),
  machine_type: z.enum(['microvm', 'q35']).default('microvm'),
  accelerator: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  default_vcpus: z.number().int().min(1).max(64).default(2),
  default_memory: z.number().int().min(64).max(65536).default(512),
  // How far a VM can grow for its containers' limits (q35): 0 = the host's CPUs, its memory.
  default_maxvcpus: z.number().int().min(0).max(240).default(0),
  default_maxmemory: z.number().int().min(0).max(1_048_576).default(0),
  memory_slots: z.number().int().min(0).max(32).default(6),
  // Pod annotations io.hako.config.hypervisor.<name> allowed to change these (none by default).
  enable_annotations: z.array(z.enum(ANNOTATABLE)).default([]),
  kernel_params: z.string().default(''),
  shared_fs: z.enum(['virtio-fs', 'virtio-9p']).default('virtio-fs'),
  virtio_fs_daemon: z.string().min(1).default('/usr/lib/qemu/virtiofsd'),
  virtio_fs_cache: z.enum(['auto', 'always', 'none']).default('auto'),
  guest_aslr: z.enum(['auto', 'on', 'off']).default('auto'),
  enable_debug: z.boolean().default(false),
});

const Agent = z.strictObject({
  dial_timeout: z.number().positive().max(3600).default(60),
  request_timeout: z.number().positive().max(3600).default(60),
  enable_debug: z.boolean().default(false),
});

const Runtime = z.strictObject({
  state_dir: z.string().min(1).default('/run/hako'),
  image_cache_dir: z.string().min(1).default('/var/cache/hako'),
  hook_timeout: z.number().positive().max(3600).default(60),
});

const Security = z
  .strictObject({
    confine: z.boolean().default(true),
    vmm_uid_base: z.number().int().min(1000).max(4_294_967_293).default(2_000_000_000),
    vmm_uid_count: z
      .number()
      .int()
      .min(1)
      .max(1 << 24)
      .default(65536),
    cgroup_parent: z
      .string()
      .regex(
        /^$|^(\/[A-Za-z0-9._-]+)+$/,
        'must be "" or an absolute cgroup path of letters, digits and . _ -',
      )
      .refine((p) => !p.split('/').some((c) => c === '.' || c === '..'), 'must not hold . or .. components')
      .default('/hako'),
  })
  // 4294967295 is no id (setresuid takes it as "unchanged").
  .refine((s) => s.vmm_uid_base + s.vmm_uid_count - 1 <= 4_294_967_294, {
    message: 'vmm_uid_base + vmm_uid_count - 1 must be at most 4294967294',
    path: ['vmm_uid_count'],
  });

/** Room for `/.build-<pid>-<key>-<random>/agent.sock` in a socket path. */
const MAX_TEMPLATE_PATH = 36;

const Factory = z.strictObject({
  enable_template: z.boolean().default(true),
  // Sockets go under it, whose paths may not exceed 107 bytes; plain
  // characters keep it out of any option syntax.
  template_path: z
    .string()
    .regex(/^\/[A-Za-z0-9._/+-]*$/, 'must be an absolute path of letters, digits and . _ / + -')
    .max(MAX_TEMPLATE_PATH, `must be at most ${MAX_TEMPLATE_PATH} characters (sockets go under it)`)
    .default('/dev/shm/hako-templates'),
});

export const ConfigSchema = z.strictObject({
  hypervisor: z.strictObject({ qemu: Qemu.prefault({}) }).prefault({}),
  agent: z.strictObject({ hako: Agent.prefault({}) }).prefault({}),
  runtime: Runtime.prefault({}),
  factory: Factory.prefault({}),
  security: Security.prefault({}),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

/** The configuration as the rest of the code sees it. */
export interface HakoConfig {
  readonly hypervisor: {
    readonly path: string;
    readonly kernel: string;
    readonly initrd: string;
    readonly machineType: 'microvm' | 'q35';
    readonly accelerator: 'auto' | 'kvm' | 'tcg';
    readonly vcpus: number;
    readonly memoryMiB: number;
    /** At most this many vCPUs and MiB, in `memorySlots` hot-plugged DIMMs at most; 0: the host's. */
    readonly maxVcpus: number;
    readonly maxMemoryMiB: number;
    readonly memorySlots: number;
    /** The sandbox annotations that may change this configuration (config/annotations.ts). */
    readonly enableAnnotations: readonly Annotatable[];
    readonly kernelParams: string;
    readonly sharedFs: 'virtio-fs' | 'virtio-9p';
    readonly virtiofsDaemon: string;
    readonly virtiofsCache: 'auto' | 'always' | 'none';
    readonly guestAslr: 'auto' | 'on' | 'off';
    readonly debug: boolean;
  };
  readonly agent: {
    readonly dialTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly debug: boolean;
  };
  readonly runtime: {
    readonly stateDir: string;
    readonly imageCacheDir: string;
    /** An OCI hook without a timeout of its own gets this one. */
    readonly hookTimeoutMs: number;
  };
  /** VM templates: sandboxes start from a saved, booted VM instead of booting one. */
  readonly factory: {
    readonly enableTemplate: boolean;
    readonly templatePath: string;
  };
  /** How each sandbox's QEMU and virtiofsd are confined on the host. */
  readonly security: {
    readonly confine: boolean;
    readonly vmmUidBase: number;
    readonly vmmUidCount: number;
    /** '' for no cgroup per sandbox. */
    readonly cgroupParent: string;
  };
}

export function fromRaw(raw: RawConfig): HakoConfig {
  const q = raw.hypervisor.qemu;
  const a = raw.agent.hako;
  return {
    hypervisor: {
      path: q.path,
      kernel: q.kernel,
      initrd: q.initrd,
      machineType: q.machine_type,
      accelerator: q.accelerator,
      vcpus: q.default_vcpus,
      memoryMiB: q.default_memory,
      maxVcpus: q.default_maxvcpus,
      maxMemoryMiB: q.default_maxmemory,
      memorySlots: q.memory_slots,
      enableAnnotations: q.enable_annotations,
      kernelParams: q.kernel_params,
      sharedFs: q.shared_fs,
      virtiofsDaemon: q.virtio_fs_daemon,
      virtiofsCache: q.virtio_fs_cache,
      guestAslr: q.guest_aslr,
      debug: q.enable_debug,
    },
    agent: {
      dialTimeoutMs: a.dial_timeout * 1000,
      requestTimeoutMs: a.request_timeout * 1000,
      debug: a.enable_debug,
    },
    runtime: {
      stateDir: raw.runtime.state_dir,
      imageCacheDir: raw.runtime.image_cache_dir,
      hookTimeoutMs: raw.runtime.hook_timeout * 1000,
    },
    factory: { enableTemplate: raw.factory.enable_template, templatePath: raw.factory.template_path },
    security: {
      confine: raw.security.confine,
      vmmUidBase: raw.security.vmm_uid_base,
      vmmUidCount: raw.security.vmm_uid_count,
      cgroupParent: raw.security.cgroup_parent,
    },
  };
}
