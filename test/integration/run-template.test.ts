// VM templates with real VMs: made by the first start that needs one, then
// loaded instead of booting; every clone reseeded; a damaged template is
// reported, removed and made again; templates can be turned off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandsNaming, exitOf, inPrivateRoot, runHako, startHako } from '../helpers/hako.js';

/** A private template directory on tmpfs, and a configuration that uses it: `top`, then `factory` in its [factory] table. */
async function withTemplates(
  top: string,
  factory: string,
  fn: (dir: string, config: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync('/dev/shm/hkt-');
  const config = join(dir, 'hako.toml');
  writeFileSync(config, `${top}\n[factory]\ntemplate_path = "${dir}/t"\n${factory}`);
  try {
    await fn(join(dir, 't'), config);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const templatesIn = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((n) => /^[0-9a-f]{32}$/.test(n));
  } catch {
    return [];
  }
};

// Random bytes, the number of PCI devices (clones run on q35; microvm has no
// PCI), and whether the guest kernel's vmgenid driver has QEMU's device.
const PROBE =
  'head -c 16 /dev/urandom | od -An -tx1; ls /sys/bus/pci/devices | wc -l; ls /sys/bus/acpi/drivers/vmgenid 2>/dev/null | grep -c QEMUVGID; true';

test('a VM template is made once, reused, and its clones draw different random numbers', async () => {
  await withTemplates('', '', (tdir, config) =>
    inPrivateRoot(async (root) => {
      const first = await runHako(root, ['run', '--', 'sh', '-c', PROBE], { config });
      assert.equal(exitOf(first), 0, first.stderr);
      const made = templatesIn(tdir);
      assert.equal(made.length, 1, 'one template');
      const state = join(tdir, made[0] ?? '', 'state');
      const savedAt = statSync(state).mtimeMs;
      const second = await runHako(root, ['run', '--', 'sh', '-c', PROBE], { config });
      assert.equal(exitOf(second), 0, second.stderr);
      assert.deepEqual(templatesIn(tdir), made, 'the same template');
      assert.equal(statSync(state).mtimeMs, savedAt, 'reused, not saved again');
      const [random1, pci1, vmgenid] = first.stdout
        .toString()
        .split('\n')
        .map((l) => l.trim());
      const [random2, pci2] = second.stdout
        .toString()
        .split('\n')
        .map((l) => l.trim());
      assert.match(random1 ?? '', /^[0-9a-f]{2}( [0-9a-f]{2}){15}$/);
      assert.notEqual(random1, random2, 'clones of one template must not share their randomness');
      assert.ok(Number(pci1) > 0 && Number(pci2) > 0, 'a clone runs on q35');
      assert.equal(vmgenid, '1', "the guest kernel reseeds on QEMU's generation id");
      assert.deepEqual(readdirSync(join(tdir, 'clones')), [], "the clones' RAM copies are not left behind");
    }),
  );
});

test('a damaged template is reported and removed, the VM boots, and the next start makes a new one', async () => {
  await withTemplates('', '', (tdir, config) =>
    inPrivateRoot(async (root) => {
      assert.equal(exitOf(await runHako(root, ['run', '--', 'true'], { config })), 0);
      const [key] = templatesIn(tdir);
      writeFileSync(join(tdir, key ?? '', 'state'), 'not a QEMU migration stream');
      const broken = await runHako(root, ['run', '--', 'echo', 'booted'], { config });
      assert.equal(broken.stdout.toString(), 'booted\n', broken.stderr);
      assert.match(
        broken.stderr,
        /the VM template in .* cannot be loaded \(removed; the next start makes a new one\).*booting the VM instead/s,
      );
      assert.deepEqual(templatesIn(tdir), []);
      const again = await runHako(root, ['run', '--', 'echo', 'back'], { config });
      assert.equal(again.stdout.toString(), 'back\n', again.stderr);
      assert.equal(templatesIn(tdir).length, 1);
      assert.deepEqual(readdirSync(join(tdir, 'clones')), []);
    }),
  );
});

test('with enable_template = false the VM boots on its own (microvm, no template made)', async () => {
  await withTemplates('', 'enable_template = false\n', (tdir, config) =>
    inPrivateRoot(async (root) => {
      const r = await runHako(root, ['run', '--', 'sh', '-c', PROBE], { config });
      assert.equal(exitOf(r), 0, r.stderr);
      assert.equal(r.stdout.toString().trim().split('\n')[1], '0', 'microvm has no PCI devices');
      assert.deepEqual(templatesIn(tdir), []);
    }),
  );
});

test('a template that cannot be made is warned about, and the VM boots instead', async () => {
  const dir = mkdtempSync('/dev/shm/hkt-');
  try {
    // The template directory would have to be made under a regular file.
    writeFileSync(join(dir, 'file'), '');
    const config = join(dir, 'hako.toml');
    writeFileSync(config, `[factory]\ntemplate_path = "${dir}/file/t"\n`);
    await inPrivateRoot(async (root) => {
      const r = await runHako(root, ['run', '--', 'echo', 'booted'], { config });
      assert.equal(r.stdout.toString(), 'booted\n', r.stderr);
      assert.equal(exitOf(r), 0);
      assert.match(r.stderr, /cannot start from a VM template \(.*\); booting the VM instead/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a template whose guest never comes up leaves no QEMU and no half-made template behind', async () => {
  // The agent waits for a port that the VM does not have.
  const top = '[hypervisor.qemu]\nkernel_params = "hako.port=nowhere"\n[agent.hako]\ndial_timeout = 4\n';
  await withTemplates(top, '', (tdir, config) =>
    inPrivateRoot(async (root) => {
      const r = await runHako(root, ['run', '--', 'true'], { config });
      assert.notEqual(exitOf(r), 0);
      assert.match(r.stderr, /cannot start from a VM template \(making a VM template: .*did not open/);
      assert.deepEqual(await commandsNaming(tdir), [], 'no QEMU of the template left');
      const names = readdirSync(tdir);
      assert.ok(!names.some((n) => n.startsWith('.build-') || n.startsWith('.lock-')), names.join(' '));
      assert.ok(
        names.some((n) => n.startsWith('.failed-')),
        'the failure is remembered',
      );
      assert.deepEqual(templatesIn(tdir), []);
    }),
  );
});

test("a clone's kernel reseeds as it resumes (vmgenid), and its agent from the host's bytes", async () => {
  // Kernel and agent debug logging, so that both reseeds show on the guest console.
  const top = '[hypervisor.qemu]\nenable_debug = true\n[agent.hako]\nenable_debug = true\n';
  await withTemplates(top, '', (tdir, config) =>
    inPrivateRoot(async (root) => {
      assert.equal(exitOf(await runHako(root, ['run', '--', 'true'], { config })), 0, 'the template is made');
      assert.equal(templatesIn(tdir).length, 1);
      // The console log goes with the sandbox: read it while the container runs.
      const run = startHako(root, ['run', '--name', 'clone1', '--', 'sh', '-c', 'echo up; sleep 3'], {
        config,
      });
      await run.waitForOutput('up');
      const console = readFileSync(join(root, 'clone1', 'console.log'), 'utf8');
      assert.match(console, /crng reseeded due to virtual machine fork/);
      assert.match(console, /random generator reseeded from the host/);
      assert.equal(exitOf(await run.result), 0);
    }),
  );
});

test('template ls lists each template with its size and last use; template rm removes one, --all the rest', async () => {
  await withTemplates('', '', (tdir, config) =>
    inPrivateRoot(async (root) => {
      assert.equal(exitOf(await runHako(root, ['run', '--', 'true'], { config })), 0);
      assert.equal(exitOf(await runHako(root, ['run', '--memory', '100m', '--', 'true'], { config })), 0);
      const ls = await runHako(root, ['template', 'ls', '--format', 'json'], { config });
      assert.equal(exitOf(ls), 0, ls.stderr);
      const list = JSON.parse(ls.stdout.toString()) as {
        key: string;
        vmMemoryMiB: number;
        lastUsed: string;
      }[];
      assert.deepEqual(list.map((t) => t.vmMemoryMiB).sort(), [164, 512]);
      assert.deepEqual(list.map((t) => t.key).sort(), templatesIn(tdir).sort());
      const table = await runHako(root, ['template', 'ls'], { config });
      assert.match(
        table.stdout.toString(),
        /^KEY\s+VM MEMORY\s+RAM HELD\s+LAST USED\n[0-9a-f]{32}\s+\d+ MiB/,
      );
      const [first] = list;
      assert.ok(first);
      assert.equal(exitOf(await runHako(root, ['template', 'rm', first.key], { config })), 0);
      assert.equal(templatesIn(tdir).length, 1);
      const missing = await runHako(root, ['template', 'rm', first.key], { config });
      assert.equal(exitOf(missing), 125);
      assert.match(missing.stderr, /no VM template/);
      assert.equal(exitOf(await runHako(root, ['template', 'rm', '--all'], { config })), 0);
      assert.deepEqual(templatesIn(tdir), []);
    }),
  );
});
