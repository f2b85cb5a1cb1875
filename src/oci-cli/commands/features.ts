// `hako features`: what this runtime supports, as the runtime-spec's
// features document describes it.
import { HOOK_NAMES } from '../hooks.js';

export function featuresCommand(): number {
  const features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.2.0',
    hooks: [...HOOK_NAMES],
    mountOptions: ['ro', 'rw', 'bind', 'rbind', 'nosuid', 'nodev', 'noexec', 'relatime', 'noatime'],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      cgroup: { v1: false, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: true },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: {
      'io.github.hako.vm':
        "every container runs in its own VM (QEMU); cgroups and namespaces are the guest kernel's",
    },
  };
  process.stdout.write(`${JSON.stringify(features, null, 2)}\n`);
  return 0;
}
