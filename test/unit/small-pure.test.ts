// Accelerator choice, kernel command line, container transitions, errors.
import { test } from 'node:test';
import {
  decodeFds,
  encodeFds,
  preservedFds,
  withPreservedFds,
  type FdPort,
} from '../../src/oci-cli/preserved-fds.js';
import assert from 'node:assert/strict';
import { chooseAccel, type KvmProbe } from '../../src/hypervisor/accel.js';
import { guestAslr, guestWarmUp, hostTscKhz, kernelCmdline } from '../../src/runtime/kernel-cmdline.js';
import { nextStatus } from '../../src/runtime/container.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { HakoError } from '../../src/errors.js';
import { sanitizeGuestText } from '../../src/agent-client/errors.js';
import { checkId, checkSocketPath } from '../../src/runtime/ids.js';

const goodKvm: KvmProbe = { devKvmUsable: true, cpuFlags: new Set(['vmx']), pvm: false, kvmModule: 'intel' };

test('KVM is chosen only where it can run a normal guest', () => {
  assert.equal(chooseAccel(goodKvm, 'auto').accel, 'kvm');
  const pvm = chooseAccel({ ...goodKvm, pvm: true, cpuFlags: new Set(), kvmModule: 'none' }, 'auto');
  assert.equal(pvm.accel, 'tcg');
  assert.match(pvm.reason, /PVM/);
  assert.match(pvm.reason, /no VMX\/SVM/);
  assert.match(chooseAccel({ ...goodKvm, devKvmUsable: false }, 'auto').reason, /\/dev\/kvm is missing/);
  assert.equal(chooseAccel(goodKvm, 'tcg').accel, 'tcg');
  const forced = chooseAccel({ ...goodKvm, pvm: true }, 'kvm');
  assert.equal(forced.accel, 'kvm');
  assert.match(forced.reason, /configured/);
});

test('the kernel command line', () => {
  const args = kernelCmdline({
    machine: 'microvm',
    debug: false,
    agentDebug: true,
    aslr: false,
    tscKhz: 2100000,
    warmUp: true,
    transportArgs: ['hako.port=p'],
    extra: ' a=1  b ',
  });
  assert.ok(args.includes('quiet'));
  assert.ok(args.includes('tsc_early_khz=2100000'));
  assert.ok(args.includes('pci=off'));
  assert.ok(args.includes('hako.port=p'));
  assert.ok(args.includes('hako.debug=1'));
  assert.ok(args.includes('norandmaps'));
  assert.ok(args.includes('hako.warmup=1'));
  assert.deepEqual(args.slice(-2), ['a=1', 'b']);
  const q35 = kernelCmdline({
    machine: 'q35',
    debug: true,
    agentDebug: false,
    aslr: true,
    tscKhz: undefined,
    warmUp: false,
    transportArgs: [],
    extra: '',
  });
  assert.ok(!q35.includes('pci=off') && !q35.includes('quiet') && q35.includes('loglevel=7'));
  assert.ok(!q35.includes('norandmaps') && !q35.includes('hako.warmup=1'));
  assert.equal(guestWarmUp('tcg', 2), true);
  assert.equal(guestWarmUp('tcg', 1), false);
  assert.equal(guestWarmUp('kvm', 4), false);
  assert.equal(guestAslr('auto', 'tcg'), false);
  assert.equal(guestAslr('auto', 'kvm'), true);
  assert.equal(guestAslr('on', 'tcg'), true);
  assert.equal(guestAslr('off', 'kvm'), false);
  assert.equal(hostTscKhz('cpu MHz\t\t: 2100.000\n'), 2100000);
  assert.equal(hostTscKhz('nothing'), undefined);
});

test('container transitions follow the table', () => {
  assert.equal(nextStatus('created', 'start'), 'running');
  assert.equal(nextStatus('running', 'exit'), 'stopped');
  assert.equal(nextStatus('created', 'exit'), 'stopped');
  assert.equal(nextStatus('stopped', 'delete'), 'deleted');
  assert.throws(() => nextStatus('running', 'start'), /cannot start a container that is running/);
  assert.throws(() => nextStatus('running', 'delete'), /cannot delete a container that is running/);
  assert.throws(() => nextStatus('deleted', 'start'), /deleted/);
});

test('CLI exit codes for runtime failures', () => {
  assert.equal(exitCodeFor(new HakoError('EXECUTABLE_NOT_FOUND', 'x')), 127);
  assert.equal(exitCodeFor(new HakoError('EXECUTABLE_PERMISSION', 'x')), 126);
  assert.equal(exitCodeFor(new HakoError('VM_EXITED', 'x')), 125);
  assert.equal(exitCodeFor(new Error('x')), 125);
});

test('guest text is truncated and stripped of control characters', () => {
  assert.equal(sanitizeGuestText('a\u001b[31mb\nc'), 'a?[31mb\nc');
  assert.equal(sanitizeGuestText('x'.repeat(10), 4), 'xxxx…');
});

test('ids and socket paths', () => {
  assert.equal(checkId('abc-1.2_3'), 'abc-1.2_3');
  assert.throws(() => checkId('../x'), /must be 1 to 128 characters/);
  assert.throws(() => checkId(''), /must be/);
  assert.throws(() => checkSocketPath(`/${'x'.repeat(120)}`), /longer than 107 bytes/);
});

test('a child log stops at its bound, saying so; guest text loses its control characters', async () => {
  const { CappedLog } = await import('../../src/sys/capped-log.js');
  const { sanitizeGuestLines, sanitizeGuestText } = await import('../../src/sanitize.js');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/hkl-');
  try {
    const log = new CappedLog(`${dir}/l`, 10).retain();
    log.write(Buffer.from('0123456'));
    log.write(Buffer.from('789abcdef'));
    log.write(Buffer.from('more'));
    log.close();
    assert.equal(readFileSync(`${dir}/l`, 'utf8'), '0123456789\n[hako: log truncated at 10 bytes]\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(sanitizeGuestText('a\u001b[2Jb\rc\td'), 'a?[2Jb?c\td');
  assert.equal(sanitizeGuestLines('one\u0007\ntwo\u009b'), 'one?\ntwo?');
});

test('run styles: runc only with one word, no --, no docker flag, and a bundle', async () => {
  const { chooseRunStyle, wordsAfterDashDash } = await import('../../src/cli/run-style.js');
  const base = { afterDashDash: undefined, dockerFlag: false, bundleFlag: false, cwdHasConfig: false };
  assert.deepEqual(chooseRunStyle({ ...base, words: ['ls'] }), { style: 'docker', command: ['ls'] });
  assert.equal(chooseRunStyle({ ...base, words: ['c1'], bundleFlag: true }).style, 'runc');
  assert.equal(chooseRunStyle({ ...base, words: ['c1'], cwdHasConfig: true }).style, 'runc');
  assert.equal(
    chooseRunStyle({ ...base, words: ['c1'], cwdHasConfig: true, dockerFlag: true }).style,
    'docker',
  );
  assert.equal(
    chooseRunStyle({ ...base, words: ['ls'], cwdHasConfig: true, afterDashDash: 1 }).style,
    'docker',
  );
  assert.equal(chooseRunStyle({ ...base, words: ['ls', '-l'], bundleFlag: true }).style, 'docker');
  assert.throws(
    () => chooseRunStyle({ ...base, words: ['alpine', '--', 'true'], afterDashDash: 1 }),
    /images by name/,
  );
  assert.equal(wordsAfterDashDash(['node', 'hako', '--root', 'r', 'run', '--', 'sh', '-c', 'a -- b']), 3);
  assert.equal(wordsAfterDashDash(['node', 'hako', 'run', 'ls']), undefined);
});

test('--memory and --cpus: parsing, and the VM they make', async () => {
  const { parseMemory, parseCpus, vmSize } = await import('../../src/cli/run-flags.js');
  assert.equal(parseMemory('256m'), 256 << 20);
  assert.equal(parseMemory('1G'), 1 << 30);
  assert.equal(parseMemory('8388608'), 8 << 20);
  assert.throws(() => parseMemory('-1m'), /expected a size/);
  assert.equal(parseCpus('1.5', 2), 1.5);
  assert.throws(() => parseCpus('3', 2), /this host has 2 CPUs/);
  const defaults = { vcpus: 2, memoryMiB: 512 };
  assert.deepEqual(vmSize({}, defaults), defaults);
  assert.deepEqual(vmSize({ memoryBytes: 256 << 20, cpus: 1.5 }, defaults), { vcpus: 2, memoryMiB: 320 });
  assert.deepEqual(vmSize({ memoryBytes: 8 << 20, cpus: 0.5 }, defaults), { vcpus: 1, memoryMiB: 128 });
});

test('--preserve-fds: pipes and files relayed by direction; sockets, devices, both-way and closed descriptors refused by name', () => {
  const port = (kinds: Record<number, [ReturnType<FdPort['kind']>, number]>): FdPort => ({
    kind: (fd) => kinds[fd]?.[0],
    accessMode: (fd) => kinds[fd]?.[1] ?? 2,
    describe: (fd) => `thing-${fd}`,
  });
  assert.deepEqual(preservedFds(undefined), []);
  assert.deepEqual(preservedFds('0'), []);
  assert.deepEqual(preservedFds('2', port({ 3: ['fifo', 1], 4: ['file', 0] })), [
    { output: true },
    { output: false },
  ]);
  const refused: [string, Record<number, [ReturnType<FdPort['kind']>, number]>, RegExp][] = [
    ['1', { 3: ['socket', 1] }, /descriptor 3 is thing-3 \(a socket\), not a pipe or a regular file/],
    ['1', { 3: ['character device', 1] }, /descriptor 3 is thing-3 \(a character device\)/],
    ['1', { 3: ['file', 2] }, /descriptor 3 is open for reading and writing/],
    ['2', { 3: ['file', 1] }, /descriptor 4 is not open/],
    ['33', {}, /--preserve-fds 33: not a count from 0 to 32/],
    ['x', {}, /--preserve-fds x: not a count/],
  ];
  for (const [n, kinds, message] of refused) assert.throws(() => preservedFds(n, port(kinds)), message);
  assert.equal(encodeFds([{ output: true }, { output: false }]), 'w,r');
  assert.deepEqual(decodeFds('w,r'), [{ output: true }, { output: false }]);
  assert.throws(() => decodeFds('w,x'), /not a list of w and r/);
  assert.deepEqual(withPreservedFds(['ignore', 'ignore', 'ignore', 'pipe'], [{ output: true }]), [
    'ignore',
    'ignore',
    'ignore',
    'pipe',
    'ignore',
    'ignore',
    3,
  ]);
});
