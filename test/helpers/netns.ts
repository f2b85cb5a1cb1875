// Network namespaces a test makes for itself: all test traffic stays in
// them, and nothing of the host's network is touched. Each is removed at
// the end, and what the test's subject left in it can be checked first.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

export function sh(...argv: string[]): void {
  execFileSync(argv[0] ?? '', argv.slice(1), { stdio: 'pipe' });
}

/** Runs a command in the namespace at `path` (only the network namespace is entered). */
export function inNetns(path: string, ...argv: string[]): string {
  return execFileSync('nsenter', [`--net=${path}`, ...argv], { encoding: 'utf8' });
}

/**
 * Makes `count` namespaces (loopback up in each) under /var/run/netns with
 * names unique to this process, runs `fn` with their paths, and removes
 * them whatever happens.
 */
export async function withNetns<T>(count: number, fn: (paths: string[]) => Promise<T>): Promise<T> {
  const base = `hkt${process.pid}${Math.floor(Math.random() * 1e4)}`;
  const names = Array.from({ length: count }, (_, i) => `${base}${String.fromCharCode(97 + i)}`);
  const made: string[] = [];
  try {
    for (const n of names) {
      sh('ip', 'netns', 'add', n);
      made.push(n);
      inNetns(`/var/run/netns/${n}`, 'ip', 'link', 'set', 'lo', 'up');
    }
    return await fn(names.map((n) => `/var/run/netns/${n}`));
  } finally {
    for (const n of made) sh('ip', 'netns', 'del', n);
  }
}

/**
 * A namespace for a whole test file (a client's daemon, its bridge and
 * rules live in it): `make` it before, `remove` it after.
 */
export function fileNetns(tag: string): { path: string; make(): void; remove(): void } {
  const name = `hkt${process.pid}${tag}`;
  const path = `/var/run/netns/${name}`;
  return {
    path,
    make: () => {
      sh('ip', 'netns', 'add', name);
      inNetns(path, 'ip', 'link', 'set', 'lo', 'up');
    },
    remove: () => sh('ip', 'netns', 'del', name),
  };
}

/** The named namespaces under /var/run/netns (to see that a client removed its own). */
export function namedNetns(): string[] {
  try {
    return readdirSync('/var/run/netns').sort();
  } catch {
    return [];
  }
}

/** Hako's taps (`*_hako`) in the namespace at `path`. */
export function hakoTaps(path: string): string[] {
  const links = JSON.parse(inNetns(path, 'ip', '-j', 'link', 'show')) as { ifname: string }[];
  return links.map((l) => l.ifname).filter((n) => n.endsWith('_hako'));
}

/** An HTTP/1.0 GET with busybox nc from the namespace at `path`; '' when nothing answered. */
export function httpGet(path: string, host: string, port: number, file = '/'): string {
  try {
    const out = execFileSync('nsenter', [`--net=${path}`, 'busybox', 'nc', '-w', '3', host, String(port)], {
      encoding: 'utf8',
      input: `GET ${file} HTTP/1.0\r\n\r\n`,
      timeout: 8000,
      stdio: 'pipe',
    });
    const body = out.indexOf('\r\n\r\n');
    return body < 0 ? '' : out.slice(body + 4);
  } catch {
    return '';
  }
}

/** Retries `httpGet` until it answers (a server in a VM needs a moment to listen). */
export async function httpGetEventually(
  path: string,
  host: string,
  port: number,
  file = '/',
): Promise<string> {
  for (let i = 0; i < 60; i++) {
    const body = httpGet(path, host, port, file);
    if (body !== '') return body;
    await new Promise((r) => setTimeout(r, 250));
  }
  return '';
}
