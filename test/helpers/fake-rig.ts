// A sandbox environment over the fake hypervisor and fake agent, in a
// private state directory: the whole host side without a VM.
import { mkdtempSync, rmSync } from 'node:fs';
import { parseConfigText } from '../../src/config/load.js';
import { FakeHypervisor } from '../../src/hypervisor/fake/driver.js';
import type { FakeAgentOptions } from '../../src/hypervisor/fake/agent.js';
import { silentLogger } from '../../src/log.js';
import type { SandboxEnv } from '../../src/runtime/env.js';
import { FsStateStore } from '../../src/runtime/state-store.js';
import { FakeMounter } from '../../src/sys/fake-mounter.js';
import { FakeConfinedFs } from '../../src/sys/fake-confined-fs.js';
import { RealProcessTable } from '../../src/sys/procs.js';
import { RealRunner } from '../../src/sys/runner.js';
import { NoConfinement } from '../../src/confinement/confinement.js';
import { helperBinary } from '../../src/home.js';

export interface Rig {
  env: SandboxEnv;
  hv: FakeHypervisor;
  mounter: FakeMounter;
  fs: FakeConfinedFs;
  root: string;
  done(): void;
}

export function rig(agent: FakeAgentOptions = {}, requestTimeout = 5): Rig {
  const root = mkdtempSync('/tmp/hkr-');
  const runner = new RealRunner();
  const hv = new FakeHypervisor(runner, agent);
  const mounter = new FakeMounter();
  const fs = new FakeConfinedFs();
  const config = parseConfigText(
    `[hypervisor.qemu]\nshared_fs = "virtio-9p"\n[agent.hako]\ndial_timeout = 5\nrequest_timeout = ${requestTimeout}\n`,
    'test',
  );
  const env: SandboxEnv = {
    config,
    image: { kernel: '/k', initrd: '/i', rootfs: '/r' },
    accel: { accel: 'tcg', reason: 'test' },
    hypervisor: hv,
    runner,
    procs: new RealProcessTable(),
    fs,
    store: new FsStateStore(root),
    log: silentLogger,
    tscKhz: undefined,
    vhostNet: false,
    confinement: new NoConfinement(),
    helper: helperBinary(),
  };
  return { env, hv, mounter, fs, root, done: () => rmSync(root, { recursive: true, force: true }) };
}
