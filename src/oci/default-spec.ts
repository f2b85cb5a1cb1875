// The OCI spec Hako uses when given only a root filesystem (`hako run
// --rootfs` or the built-in image) and the template of `hako spec`: the
// usual namespaces and kernel filesystems, Docker's default capabilities, a
// masked /proc.
import type { OciSpec } from './spec.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export interface DefaultSpecOptions {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly terminal: boolean;
  readonly hostname: string;
  readonly readonly: boolean;
  /**
   * Stay in the sandbox's network (the VM's, as a pod's containers share
   * theirs) instead of a network namespace of the container's own.
   */
  readonly sandboxNetwork?: boolean;
}

export function defaultSpec(o: DefaultSpecOptions): OciSpec {
  const env = [`PATH=${DEFAULT_PATH}`, ...(o.terminal ? ['TERM=xterm'] : []), ...o.env];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal,
      user: { uid: 0, gid: 0 },
      args: [...o.args],
      env,
      cwd: o.cwd,
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: o.readonly },
    hostname: o.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      namespaces: [
        { type: 'pid' },
        ...(o.sandboxNetwork ? [] : [{ type: 'network' }]),
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
