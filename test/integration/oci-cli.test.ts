// The runc-compatible commands, driven directly: lifecycle, the pid-file
// process, hooks, the console socket, and the errors callers match on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandsNaming, inPrivateRoot, runHako, ROOT_ENTRIES, startHako } from '../helpers/hako.js';
import { makeBundle, patchSpec, withTempDir } from '../helpers/fixtures.js';
import { REPO } from '../helpers/paths.js';

/** Commands that leave the container's relay holding their stdio: do not wait for EOF. */
const DETACHING = new Set(['create', 'run']);

async function ok(root: string, args: readonly string[]): Promise<string> {
  const r = await runHako(root, args, { until: DETACHING.has(args[0] ?? '') ? 'exit' : 'close' });
  assert.equal(r.code, 0, `hako ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

async function status(root: string, id: string): Promise<string> {
  return (JSON.parse(await ok(root, ['state', id])) as { status: string }).status;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('create, start, exec, kill, delete: states, and a pid-file process that lives as long as the container', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.2; done'] });
      const pidFile = join(dir, 'pid');
      await ok(root, ['create', '--bundle', dir, '--pid-file', pidFile, 'c1']);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(alive(pid));
      assert.equal(await status(root, 'c1'), 'created');
      await ok(root, ['start', 'c1']);
      assert.equal(await status(root, 'c1'), 'running');
      const ex = await runHako(root, ['exec', 'c1', '--', 'sh', '-c', 'echo in-exec; exit 4']);
      assert.equal(ex.stdout.toString(), 'in-exec\n');
      assert.equal(ex.code, 4);
      assert.match(await ok(root, ['ps', '--format', 'json', 'c1']), /^\[\d+(,\d+)*\]\n$/);
      // As runc: ps's own table, its arguments passed on (here it runs in the container).
      assert.match(await ok(root, ['ps', 'c1']), /^PID\s+USER\s+COMMAND\n\s+1 root\s+sh -c trap/);
      assert.match(await ok(root, ['ps', 'c1', '-o', 'pid,comm']), /^PID\s+COMMAND\n\s+1 sh\n/);
      assert.match(await ok(root, ['list', '--format', 'json']), /"id":"c1"/);
      await ok(root, ['kill', 'c1', 'TERM']);
      await until('the pid-file process to exit with the container', () => !alive(pid));
      assert.equal(await status(root, 'c1'), 'stopped');
      await ok(root, ['delete', 'c1']);
      const gone = await runHako(root, ['state', 'c1']);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /container does not exist/);
    }),
  );
});

test('runc-style run in the foreground exits with the container status, and deletes it unless --keep', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'echo out; exit 5'] });
      const r = await runHako(root, ['run', '--bundle', dir, 'r1']);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout.toString(), 'out\n');
      // As runc: the record is gone, so the id can be run again.
      assert.deepEqual(
        (await readdir(root)).filter((e) => !ROOT_ENTRIES.includes(e)),
        [],
      );
      const again = await runHako(root, ['run', '--keep', '--bundle', dir, 'r1']);
      assert.equal(again.code, 5, again.stderr);
      assert.equal(await status(root, 'r1'), 'stopped');
      await ok(root, ['delete', 'r1']);
    }),
  );
});

test('runc-style foreground run forwards SIGTERM to the container, whose trap runs', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, {
        args: ['sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo ready; sleep 60 & wait'],
      });
      const run = startHako(root, ['run', '--bundle', dir, 'r2']);
      await run.waitForOutput('ready');
      run.kill('SIGTERM');
      const r = await run.result;
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stdout.toString(), /got TERM/);
    }),
  );
});

test("the process's ioPriority, scheduler and execCPUAffinity apply in the guest; exec --cpu-affinity; CPUs the VM lacks are refused by name", async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      const show = 'grep Cpus_allowed_list /proc/self/status; grep -E "^policy" /proc/self/sched; ionice';
      makeBundle(dir, { args: ['sh', '-c', `${show}; sleep 60`] });
      patchSpec(dir, (spec) => {
        const p = spec['process'] as Record<string, unknown>;
        p['ioPriority'] = { class: 'IOPRIO_CLASS_IDLE', priority: 0 };
        p['scheduler'] = { policy: 'SCHED_BATCH', nice: 5 };
        p['execCPUAffinity'] = { final: '1' };
      });
      // The VM has 2 vCPUs (the default), so CPU 1 exists in it.
      await ok(root, ['run', '-d', '--bundle', dir, 't1']);
      const ex = await ok(root, ['exec', '--cpu-affinity', '0', 't1', 'sh', '-c', show]);
      assert.match(ex, /^Cpus_allowed_list:\s+0\n/);
      const log = await ok(root, [
        'exec',
        't1',
        'sh',
        '-c',
        'grep Cpus_allowed_list /proc/1/status; cat /proc/1/sched | grep -E "^policy"',
      ]);
      assert.match(log, /^Cpus_allowed_list:\s+1\npolicy\s+:\s+3\n$/);
      const io = await ok(root, ['exec', 't1', 'ionice', '-p', '1']);
      assert.equal(io, 'idle\n');
      const missing = await runHako(root, ['exec', '--cpu-affinity', '7', 't1', 'true']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /execCPUAffinity: CPU 7 is not in the VM, which has CPUs 0-1/);
      await ok(root, ['delete', '--force', 't1']);
      patchSpec(dir, (spec) => {
        (spec['process'] as Record<string, unknown>)['scheduler'] = {
          policy: 'SCHED_OTHER',
          flags: ['SCHED_FLAG_RESET_ON_FORK'],
        };
      });
      const refused = await runHako(root, ['run', '--bundle', dir, 't2']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /process\.scheduler: flag SCHED_FLAG_RESET_ON_FORK cannot be honoured/);
    }),
  );
});

test('hooks in the runtime-spec order with the state on stdin: host hooks on the host, createContainer and startContainer in the container', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'cat /guest-hooks.log'], readonly: false });
      const log = join(dir, 'hooks.log');
      const hostHook = (name: string) => ({
        path: '/bin/sh',
        args: ['sh', '-c', `read -r state; echo "${name} $state" >> ${log}`],
      });
      // A hook that exists only in the container's rootfs: resolved and run there.
      writeFileSync(
        join(dir, 'rootfs', 'guest-hook.sh'),
        // $0 is the path it was run by: the log lands next to it, in the container's rootfs.
        '#!/bin/sh\nread -r state\necho "$1 $state" >> "$(dirname "$0")/guest-hooks.log"\n',
        { mode: 0o755 },
      );
      patchSpec(dir, (spec) => {
        spec['hooks'] = {
          ...Object.fromEntries(
            ['prestart', 'createRuntime', 'poststart', 'poststop'].map((n) => [n, [hostHook(n)]]),
          ),
          createContainer: [{ path: '/guest-hook.sh', args: ['guest-hook.sh', 'createContainer'] }],
          startContainer: [{ path: '/guest-hook.sh', args: ['guest-hook.sh', 'startContainer'] }],
        };
      });
      await ok(root, ['create', '--bundle', dir, 'h1']);
      await ok(root, ['start', 'h1']);
      await until('the container to stop', async () => (await status(root, 'h1')) === 'stopped');
      await ok(root, ['delete', 'h1']);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(' ')[0]),
        ['prestart', 'createRuntime', 'poststart', 'poststop'],
      );
      assert.ok(
        lines.every((l) => l.includes('"id":"h1"')),
        lines.join('\n'),
      );
      const guest = readFileSync(join(dir, 'rootfs', 'guest-hooks.log'), 'utf8');
      assert.match(guest, /^createContainer \{.*"id":"h1".*\}\nstartContainer \{.*"id":"h1".*\}\n$/);
    }),
  );
});

test('a failing poststart hook makes start fail and removes the container, as runc', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sleep', '600'] });
      patchSpec(dir, (spec) => {
        spec['hooks'] = { poststart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] }] };
      });
      await ok(root, ['create', '--bundle', dir, 'p1']);
      const r = await runHako(root, ['start', 'p1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /poststart hook failed, container removed: .*nope/);
      const gone = await runHako(root, ['state', 'p1']);
      assert.match(gone.stderr, /container does not exist/);
    }),
  );
});

test('a failing createRuntime hook fails create and leaves nothing', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      patchSpec(dir, (spec) => {
        spec['hooks'] = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] }] };
      });
      const r = await runHako(root, ['create', '--bundle', dir, 'hf'], { until: 'exit' });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /createRuntime hook \/bin\/sh failed/);
    }),
  );
});

/** Pids of processes whose command line is exactly `argv`. */
async function running(argv: readonly string[]): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === `${argv.join('\0')}\0`) found.push(Number(name));
  }
  return found;
}

test('a hook past its timeout fails within about that long and its whole process group is killed; a hook without one gets hook_timeout', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['true'] });
      // The hook exits at once, but leaves a child holding its stderr.
      const sleeper = ['sleep', `${900 + (process.pid % 97)}.5`];
      const hook = { path: '/bin/sh', args: ['sh', '-c', `${sleeper.join(' ')} &`] };
      const cases: [Record<string, unknown>, string | undefined, RegExp][] = [
        [{ ...hook, timeout: 1 }, undefined, /createRuntime hook \/bin\/sh failed \(timed out after 1 s\)/],
        [hook, '[runtime]\nhook_timeout = 1\n', /timed out after 1 s \(hook_timeout\)/],
      ];
      for (const [i, [h, configText, why]] of cases.entries()) {
        patchSpec(dir, (spec) => {
          spec['hooks'] = { createRuntime: [h] };
        });
        let config: string | undefined;
        if (configText !== undefined) {
          config = join(dir, 'hako.toml');
          writeFileSync(config, configText);
        }
        const t0 = Date.now();
        const r = await runHako(root, ['create', '--bundle', dir, `ht${i}`], {
          until: 'exit',
          ...(config !== undefined ? { config } : {}),
        });
        const took = Date.now() - t0;
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, why);
        assert.ok(took < 6000, `create took ${took} ms`);
        assert.deepEqual(await running(sleeper), [], "the hook's child was killed with its group");
      }
    }),
  );
});

test('with --console-socket the pty master is handed over and drives the container', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh'] });
      patchSpec(dir, (spec) => {
        (spec['process'] as Record<string, unknown>)['terminal'] = true;
      });
      const sock = join(dir, 'console.sock');
      const steps = [
        { expect: '# ' },
        { send: 'echo typed-$((6*7))\n' },
        { expect: 'typed-42' },
        { send: 'exit\n' },
      ];
      const receiver = spawn('python3', [
        join(REPO, 'test', 'helpers', 'console-receiver.py'),
        sock,
        JSON.stringify(steps),
      ]);
      let out = '';
      receiver.stdout.on('data', (b: Buffer) => (out += b.toString()));
      try {
        await until('the console socket', () => out.includes('listening'));
        await ok(root, ['create', '--bundle', dir, '--console-socket', sock, 't1']);
        await ok(root, ['start', 't1']);
        await new Promise((r) => receiver.on('close', r));
      } finally {
        receiver.kill('SIGKILL');
      }
      assert.match(out, /typed-42/);
      await until('the container to stop', async () => (await status(root, 't1')) === 'stopped');
      await ok(root, ['delete', 't1']);
    }),
  );
});

test('bad input gets the error text and exit code runc gives, and nothing half-made', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      for (const args of [
        ['state', 'nope'],
        ['start', 'nope'],
        ['kill', 'nope'],
        ['delete', 'nope'],
      ]) {
        const r = await runHako(root, args);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, /container does not exist/);
      }
      assert.equal((await runHako(root, ['delete', '--force', 'nope'])).code, 0);

      makeBundle(dir, { args: ['sleep', '600'] });
      await ok(root, ['create', '--bundle', dir, 'b1']);
      const dup = await runHako(root, ['create', '--bundle', dir, 'b1'], { until: 'exit' });
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /container with given ID already exists/);
      await ok(root, ['start', 'b1']);
      const twice = await runHako(root, ['start', 'b1']);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /cannot start an already running container/);
      const busy = await runHako(root, ['delete', 'b1']);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /cannot delete container b1 that is not stopped: running/);
      await ok(root, ['delete', '--force', 'b1']);

      writeFileSync(join(dir, 'config.json'), '{"ociVersion": "1.0.2", "process": {');
      const bad = await runHako(root, ['create', '--bundle', dir, 'b2'], { until: 'exit' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /config\.json is not valid JSON/);
      assert.deepEqual(
        (await readdir(root)).filter((e) => !ROOT_ENTRIES.includes(e)),
        [],
      );
    }),
  );
});

test('delete --force works from disk alone after the relay or the VM was killed', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sleep', '600'] });
      for (const victim of ['relay', 'qemu'] as const) {
        const id = `k-${victim}`;
        const pidFile = join(dir, `${id}.pid`);
        await ok(root, ['run', '--detach', '--bundle', dir, '--pid-file', pidFile, id]);
        let pid = Number(readFileSync(pidFile, 'utf8'));
        if (victim === 'qemu') {
          for (const p of await commandsNaming(root)) {
            if (p.argv.join(' ').includes('qemu-system')) pid = p.pid;
          }
        }
        process.kill(pid, 'SIGKILL');
        await until(`${victim} to die`, () => !alive(pid));
        await ok(root, ['delete', '--force', id]);
        assert.equal(existsSync(join(root, id)), false);
      }
    }),
  );
});

test('exec flags: --cap, --additional-gids, --no-new-privs and --user apply; what a VM cannot honour is refused by name', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sleep', '600'] });
      await ok(root, ['run', '-d', '--bundle', dir, 'x1']);
      const show = 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; id -u; id -G';
      const plain = await runHako(root, ['exec', 'x1', '--', 'sh', '-c', show]);
      assert.equal(plain.code, 0, plain.stderr);
      const flagged = await runHako(root, [
        'exec',
        '--cap',
        'CAP_SYS_ADMIN',
        '--additional-gids',
        '4242',
        '--no-new-privs',
        '--user',
        '0:0',
        'x1',
        '--',
        'sh',
        '-c',
        show,
      ]);
      assert.equal(flagged.code, 0, flagged.stderr);
      const capEff = (out: string) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(out)?.[1] ?? '0'}`);
      const SYS_ADMIN = 1n << 21n;
      assert.equal(capEff(plain.stdout.toString()) & SYS_ADMIN, 0n, 'not in the default set');
      assert.equal(capEff(flagged.stdout.toString()) & SYS_ADMIN, SYS_ADMIN, '--cap adds it');
      assert.match(plain.stdout.toString(), /NoNewPrivs:\s*0/);
      assert.match(flagged.stdout.toString(), /NoNewPrivs:\s*1/);
      assert.match(flagged.stdout.toString(), /\b4242\b/);
      for (const [flag, message] of [
        [['--apparmor', 'p'], /--apparmor: the guest kernel runs no AppArmor/],
        [['--process-label', 'l'], /--process-label: the guest kernel runs no SELinux/],
        // This process's fd 3 is none the caller passed (Node's own): refused, named.
        [
          ['--preserve-fds', '2'],
          /--preserve-fds 2: descriptor 3 is anon_inode:\[eventpoll\] \(a special file\), not a pipe/,
        ],
        [['--user', 'bob'], /--user bob: not a numeric id/],
        [['--cap', 'CAP_$$'], /--cap CAP_\$\$: not a capability name/],
      ] as const) {
        const r = await runHako(root, ['exec', ...flag, 'x1', '--', 'true']);
        assert.equal(r.code, 255, `${flag.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
      const gone = await runHako(root, ['exec', '--ignore-paused', 'x1', '--', 'true']);
      assert.equal(gone.code, 125);
      assert.match(gone.stderr, /unknown option '--ignore-paused'/);
      await ok(root, ['pause', 'x1']);
      const paused = await runHako(root, ['exec', 'x1', '--', 'true']);
      assert.match(paused.stderr, /cannot exec in a paused container/);
      assert.doesNotMatch(paused.stderr, /ignore-paused/);
      await ok(root, ['resume', 'x1']);
      await ok(root, ['delete', '--force', 'x1']);
    }),
  );
});

/** Runs hako, reading its stdout and stderr to EOF as subprocess.check_output does; resolves at EOF. */
function readToEof(root: string, args: readonly string[]): Promise<{ out: string; ms: number }> {
  const t0 = Date.now();
  const child = spawn(join(REPO, 'bin', 'hako'), ['--root', root, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.resume();
  return new Promise((resolve) => child.on('close', () => resolve({ out, ms: Date.now() - t0 })));
}

test('a detached container that closes its stdout and stderr closes them for its caller (run -d; create + start)', async () => {
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'echo hello; exec >&- 2>&-; sleep 30'] });
      const run = await readToEof(root, ['run', '-d', '--bundle', dir, 'e1']);
      assert.equal(run.out, 'hello\n');
      assert.ok(run.ms < 15_000, `EOF after ${run.ms} ms`);
      assert.equal(await status(root, 'e1'), 'running');
      // create's stdio is the container's: EOF comes once it starts and closes them.
      const created = readToEof(root, ['create', '--bundle', dir, 'e2']);
      await until('e2 to be created', async () => (await runHako(root, ['state', 'e2'])).code === 0);
      await until('e2 to be created', async () => (await status(root, 'e2')) === 'created');
      await ok(root, ['start', 'e2']);
      const c = await created;
      assert.equal(c.out, 'hello\n');
      assert.equal(await status(root, 'e2'), 'running');
      await ok(root, ['delete', '--force', 'e1']);
      await ok(root, ['delete', '--force', 'e2']);
    }),
  );
});

test("the spec's cgroupsPath holds the sandbox's QEMU and virtiofsd, with the container's limits plus the VM's overhead, and goes at delete", async () => {
  const top = `/hako-test-${process.pid}`;
  const parent = `${top}/pod`;
  const path = `${parent}/ctr`;
  const memory = (p: string) => `/sys/fs/cgroup/memory${p}`;
  await inPrivateRoot((root) =>
    withTempDir(async (dir) => {
      try {
        makeBundle(dir, { args: ['sleep', '60'] });
        patchSpec(dir, (spec) => {
          const linux = spec['linux'] as Record<string, unknown>;
          linux['cgroupsPath'] = path;
          linux['resources'] = { memory: { limit: 300 << 20 }, cpu: { quota: 50_000, period: 100_000 } };
        });
        await ok(root, ['run', '-d', '--bundle', dir, 'cg1']);
        const procs = (await commandsNaming(root)).filter((p) =>
          /qemu-system|virtiofsd/.test(p.argv[0] ?? ''),
        );
        assert.ok(procs.length >= 2);
        for (const p of procs) {
          const line = (await readFile(`/proc/${p.pid}/cgroup`, 'utf8'))
            .split('\n')
            .find((l) => /:memory:/.test(l));
          assert.match(
            line ?? '',
            new RegExp(`:memory:${path}/[0-9a-f]{24}$`),
            `${p.argv[0] ?? ''} in ${line ?? ''}`,
          );
        }
        // 300 MiB for the container and the VM's overhead beyond its guest (512 MiB under TCG, 256 under KVM).
        const limit = Number(readFileSync(`${memory(path)}/memory.limit_in_bytes`, 'utf8'));
        assert.ok([300 + 512, 300 + 256].map((m) => m << 20).includes(limit), `limit ${limit}`);
        const quota = readFileSync(`/sys/fs/cgroup/cpu${path}/cpu.cfs_quota_us`, 'utf8').trim();
        assert.equal(quota, '150000');
        await ok(root, ['delete', '--force', 'cg1']);
        // As runc: the spec's cgroup goes at delete; its parents stay.
        assert.ok(!existsSync(memory(path)), `${path} removed`);
        assert.ok(existsSync(memory(parent)));
        // A path that is not a plain cgroup is refused by name, and nothing is made.
        patchSpec(dir, (spec) => ((spec['linux'] as Record<string, unknown>)['cgroupsPath'] = `${top}/../x`));
        const bad = await runHako(root, ['create', '--bundle', dir, 'cg2'], { until: 'exit' });
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /linux\.cgroupsPath .*hako-test-\d+\/\.\.\/x.*is not a plain cgroup name/);
        assert.deepEqual(
          (await readdir(root)).filter((e) => !ROOT_ENTRIES.includes(e)),
          [],
        );
      } finally {
        for (const c of ['memory', 'cpu', 'pids']) {
          for (const p of [path, parent, top]) {
            try {
              rmdirSync(`/sys/fs/cgroup/${c}${p}`);
            } catch {
              // Absent already.
            }
          }
        }
      }
    }),
  );
});
