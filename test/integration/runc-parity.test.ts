// Hako beside runc (installed on this host): the same bundle, the same
// commands, the same observable result. Each case runs both runtimes, each
// in a private state root, and compares what a caller sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { inPrivateRoot } from '../helpers/hako.js';
import { HAKO } from '../helpers/paths.js';
import { makeBundle, patchSpec, withTempDir, type BundleOptions } from '../helpers/fixtures.js';

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
}

type Runtime = (
  args: readonly string[],
  until?: 'close' | 'exit',
  /** Descriptors the runtime gets at 3, 4, … */
  extra?: readonly number[],
) => Promise<Outcome & { stderr: string }>;

/** A runtime binary with its state in `root`: runc and `hako` take the same global flag. */
function runtimeIn(bin: string, root: string): Runtime {
  return (args, until = 'close', extra = []) =>
    new Promise((resolve, reject) => {
      const child = spawn(bin, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe', ...extra] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on(until, (code: number | null) => {
        setTimeout(() => {
          resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, 50);
      });
    });
}

/** Runs `fn` once with runc and once with Hako, each on its own bundle made by `bundle`. */
async function both(
  bundle: (dir: string) => void,
  fn: (rt: Runtime, dir: string, name: 'runc' | 'hako') => Promise<unknown>,
): Promise<{ runc: unknown; hako: unknown }> {
  const results: Record<string, unknown> = {};
  await inPrivateRoot((hakoRoot) =>
    withTempDir(async (tmp) => {
      for (const name of ['runc', 'hako'] as const) {
        const dir = join(tmp, name);
        mkdirSync(dir);
        bundle(dir);
        const rt = name === 'runc' ? runtimeIn('runc', join(tmp, 'runc-state')) : runtimeIn(HAKO, hakoRoot);
        results[name] = await fn(rt, dir, name);
      }
    }),
  );
  return { runc: results['runc'], hako: results['hako'] };
}

const unique = (prefix: string) => `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

/** `run` of a bundle in the foreground: exit code and output. */
async function runBoth(o: BundleOptions, patch?: (spec: Record<string, unknown>, dir: string) => void) {
  return both(
    (dir) => {
      makeBundle(dir, o);
      if (patch) patchSpec(dir, (spec) => patch(spec, dir));
    },
    async (rt, dir) => {
      const r = await rt(['run', '--bundle', dir, unique('test_parity')]);
      return { code: r.code, stdout: r.stdout, stderr: r.code === 0 ? '' : r.stderr };
    },
  );
}

test('a user namespace with uid and gid mappings: the same identity and maps as with runc', async () => {
  const { runc, hako } = await runBoth(
    { args: ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'] },
    (spec, dir) => {
      // The rootfs must be reachable by the mapped root, as runc needs.
      chmodSync(dir, 0o755);
      chmodSync(dirname(dir), 0o755);
      const linux = spec['linux'] as Record<string, unknown>;
      (linux['namespaces'] as unknown[]).push({ type: 'user' });
      linux['uidMappings'] = [{ containerID: 0, hostID: 100000, size: 65536 }];
      linux['gidMappings'] = [{ containerID: 0, hostID: 100000, size: 65536 }];
    },
  );
  assert.deepEqual(hako, runc);
  assert.match((runc as Outcome).stdout, /^0\n0\n\s+0\s+100000\s+65536\n/);
});

test('an id and a hostname of 64 bytes with underscores are taken as given, as by runc', async () => {
  const name = `test-tmpkm_3vk0t_${'x'.repeat(47)}`;
  assert.equal(name.length, 64);
  const { runc, hako } = await runBoth({ args: ['hostname'] }, (spec) => {
    spec['hostname'] = name;
  });
  assert.deepEqual(hako, runc);
  assert.deepEqual(runc, { code: 0, stdout: `${name}\n`, stderr: '' });
});

test('mounts: a single file, tmpfs with a mode and size, noexec and nosuid, as runc mounts them', async () => {
  const script = [
    'cat /data.txt',
    'stat -c %a /t',
    'cp /bin/busybox /t/x',
    '/t/x true; echo exec=$?',
    'grep " /t " /proc/mounts | grep -o "nosuid,nodev,noexec" ',
    'echo more > /data.txt; echo write=$?',
  ].join('; ');
  const { runc, hako } = await runBoth({ args: ['sh', '-c', script] }, (spec, dir) => {
    writeFileSync(join(dir, 'data.txt'), 'file contents\n');
    (spec['mounts'] as unknown[]).push(
      { destination: '/data.txt', type: 'bind', source: join(dir, 'data.txt'), options: ['bind', 'ro'] },
      {
        destination: '/t',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', 'noexec', 'mode=1770', 'size=4m'],
      },
    );
  });
  assert.deepEqual(hako, runc);
  assert.match((runc as Outcome).stdout, /^file contents\n1770\nexec=126\nnosuid,nodev,noexec\nwrite=1\n$/);
});

test('exec with --cap, --user and --additional-gids gives the process what runc gives it', async () => {
  const { runc, hako } = await both(
    (dir) => {
      makeBundle(dir, { args: ['sleep', '60'] });
      patchSpec(dir, (spec) => {
        const caps = ['CAP_CHOWN', 'CAP_KILL'];
        (spec['process'] as Record<string, unknown>)['capabilities'] = {
          bounding: caps,
          effective: caps,
          permitted: caps,
        };
      });
    },
    async (rt, dir) => {
      const id = unique('exec');
      assert.equal((await rt(['run', '-d', '--bundle', dir, id], 'exit')).code, 0);
      try {
        const caps = await rt([
          'exec',
          '--cap',
          'CAP_NET_ADMIN',
          id,
          'grep',
          '-E',
          '^Cap(Prm|Eff|Bnd|Amb)',
          '/proc/self/status',
        ]);
        const user = await rt(['exec', '--user', '1000:1000', '--additional-gids', '44', id, 'id']);
        return { caps: [caps.code, caps.stdout], user: [user.code, user.stdout] };
      } finally {
        await rt(['delete', '--force', id]);
      }
    },
  );
  assert.deepEqual(hako, runc);
  assert.deepEqual((runc as { user: unknown }).user, [0, 'uid=1000 gid=1000 groups=44\n']);
  assert.match(String((runc as { caps: unknown[] }).caps[1]), /CapEff:\t0000000000001021\n/);
});

test('state while running and after the process exits, and a poststop hook at delete: as runc reports them', async () => {
  const { runc, hako } = await both(
    (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'read -r line; echo "$line"'] });
      patchSpec(dir, (spec) => {
        spec['hooks'] = {
          poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${join(dir, 'poststop.json')}`] }],
        };
        (spec['process'] as Record<string, unknown>)['args'] = ['sleep', '2'];
      });
    },
    async (rt, dir) => {
      const id = unique('state');
      assert.equal((await rt(['create', '--bundle', dir, id], 'exit')).code, 0);
      const created = JSON.parse((await rt(['state', id])).stdout) as Record<string, unknown>;
      await rt(['start', id]);
      const running = JSON.parse((await rt(['state', id])).stdout) as Record<string, unknown>;
      let stopped: Record<string, unknown> = {};
      for (let i = 0; i < 100 && stopped['status'] !== 'stopped'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        stopped = JSON.parse((await rt(['state', id])).stdout) as Record<string, unknown>;
      }
      const del = await rt(['delete', id]);
      const hook = JSON.parse(readFileSync(join(dir, 'poststop.json'), 'utf8')) as Record<string, unknown>;
      const gone = await rt(['state', id]);
      const shape = (s: Record<string, unknown>) => ({
        keys: Object.keys(s)
          .filter((k) => ['ociVersion', 'id', 'pid', 'status', 'bundle', 'created'].includes(k))
          .sort(),
        status: s['status'],
        id: s['id'] === id,
        bundle: s['bundle'] === dir,
      });
      return {
        created: shape(created),
        running: shape(running),
        stopped: shape(stopped),
        delete: del.code,
        hook: { id: hook['id'] === id, status: hook['status'], bundle: hook['bundle'] === dir },
        gone: gone.code,
      };
    },
  );
  assert.deepEqual(hako, runc);
  assert.equal((runc as { stopped: { status: string } }).stopped.status, 'stopped');
});

test('--preserve-fds: a file opened for writing and one for reading reach run and exec at fds 3 and 4, as with runc', async () => {
  const { runc, hako } = await both(
    (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'cat <&4 >&3; echo run-done >&3; exec sleep 60'] });
      writeFileSync(join(dir, 'in.txt'), 'from the caller\n');
    },
    async (rt, dir) => {
      const id = unique('fds');
      const out = openSync(join(dir, 'out.txt'), 'w');
      const input = openSync(join(dir, 'in.txt'), 'r');
      const execOut = openSync(join(dir, 'exec.txt'), 'w');
      try {
        const run = await rt(['run', '-d', '--preserve-fds', '2', '--bundle', dir, id], 'exit', [out, input]);
        const ex = await rt(
          ['exec', '--preserve-fds', '1', id, 'sh', '-c', 'echo via-exec >&3; ls /proc/self/fd/4'],
          'close',
          [execOut],
        );
        // The container's writes reach the file while it runs.
        for (let i = 0; i < 50 && !readFileSync(join(dir, 'out.txt'), 'utf8').includes('run-done'); i++)
          await new Promise((r) => setTimeout(r, 100));
        return {
          run: run.code,
          exec: ex.code,
          out: readFileSync(join(dir, 'out.txt'), 'utf8'),
          execOut: readFileSync(join(dir, 'exec.txt'), 'utf8'),
        };
      } finally {
        for (const fd of [out, input, execOut]) closeSync(fd);
        await rt(['delete', '--force', id]);
      }
    },
  );
  assert.deepEqual(hako, runc);
  assert.deepEqual(runc, { run: 0, exec: 1, out: 'from the caller\nrun-done\n', execOut: 'via-exec\n' });
});

test('an overlay mount of host directories: reads through, writes and whiteouts land in upperdir, as with runc', async () => {
  const { runc, hako } = await both(
    (dir) => {
      makeBundle(dir, { args: ['sh', '-c', 'cat /o/a /o/b; echo new > /o/c; rm /o/b; ls /o'] });
      for (const d of ['lower', 'ov/upper', 'ov/work']) mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, 'lower', 'a'), 'from a\n');
      writeFileSync(join(dir, 'lower', 'b'), 'from b\n');
      patchSpec(dir, (spec) => {
        (spec['mounts'] as unknown[]).push({
          destination: '/o',
          type: 'overlay',
          source: 'overlay',
          options: [
            `lowerdir=${join(dir, 'lower')}`,
            `upperdir=${join(dir, 'ov/upper')}`,
            `workdir=${join(dir, 'ov/work')}`,
          ],
        });
      });
    },
    async (rt, dir) => {
      const r = await rt(['run', '--bundle', dir, unique('ovl')]);
      const upper = join(dir, 'ov/upper');
      const whiteout = statSync(join(upper, 'b'));
      return {
        code: r.code,
        stdout: r.stdout,
        stderr: r.code === 0 ? '' : r.stderr,
        upper: readdirSync(upper).sort(),
        c: readFileSync(join(upper, 'c'), 'utf8'),
        whiteout: whiteout.isCharacterDevice() && whiteout.rdev === 0,
        lower: readdirSync(join(dir, 'lower')).sort(),
      };
    },
  );
  assert.deepEqual(hako, runc);
  assert.deepEqual(runc, {
    code: 0,
    stdout: 'from a\nfrom b\na\nc\n',
    stderr: '',
    upper: ['b', 'c'],
    c: 'new\n',
    whiteout: true,
    lower: ['a', 'b'],
  });
});

test('rslave and rshared binds: a mount the host makes in the source after start reaches the container, as with runc', async () => {
  const { runc, hako } = await both(
    (dir) => {
      // The source is a shared mount of the test's own, as a host's / usually is.
      for (const d of ['src', 'res']) mkdirSync(join(dir, d));
      execFileSync('mount', ['--bind', join(dir, 'src'), join(dir, 'src')]);
      execFileSync('mount', ['--make-shared', join(dir, 'src')]);
      mkdirSync(join(dir, 'src', 'sub'));
      const wait = (at: string) =>
        `for i in $(seq 300); do [ -f ${at}/sub/flag ] && break; sleep 0.1; done; cat ${at}/sub/flag > /res${at}`;
      makeBundle(dir, { args: ['sh', '-c', `${wait('/slave')}; ${wait('/shared')}`] });
      patchSpec(dir, (spec) => {
        (spec['mounts'] as unknown[]).push(
          { destination: '/slave', type: 'bind', source: join(dir, 'src'), options: ['rbind', 'rslave'] },
          { destination: '/shared', type: 'bind', source: join(dir, 'src'), options: ['rbind', 'rshared'] },
          { destination: '/res', type: 'bind', source: join(dir, 'res'), options: ['rbind'] },
        );
      });
    },
    async (rt, dir) => {
      const id = unique('prop');
      const src = join(dir, 'src');
      try {
        assert.equal((await rt(['run', '-d', '--bundle', dir, id], 'exit')).code, 0);
        execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(src, 'sub')]);
        writeFileSync(join(src, 'sub', 'flag'), 'mounted after start\n');
        for (let i = 0; i < 200; i++) {
          const s = JSON.parse((await rt(['state', id])).stdout) as { status: string };
          if (s.status === 'stopped') break;
          await new Promise((r) => setTimeout(r, 200));
        }
        const read = (f: string) =>
          existsSync(join(dir, 'res', f)) ? readFileSync(join(dir, 'res', f), 'utf8') : '';
        return { slave: read('slave'), shared: read('shared') };
      } finally {
        await rt(['delete', '--force', id]);
        execFileSync('umount', ['-R', src]);
      }
    },
  );
  assert.deepEqual(hako, runc);
  assert.deepEqual(runc, { slave: 'mounted after start\n', shared: 'mounted after start\n' });
});
