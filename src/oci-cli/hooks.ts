// OCI hooks that run on the host, in the order the runtime spec gives:
// prestart, createRuntime (during create), poststart (after start),
// poststop (after delete). createContainer and startContainer run in the
// container's namespaces, which are in the guest: crun runs them there
// (agent/src/spec.rs keeps them). Each gets the container's state JSON on
// stdin; a failure is an error (poststart's makes start fail and removes
// the container, as runc's) except for poststop, where it is a warning.
// A hook is done when it has exited and its stderr is closed (by every
// process it left holding it). It runs in a process group of its own, and
// has a timeout: its own, or [runtime] hook_timeout. Past it, the whole
// group is killed and the hook fails: neither a hook that hangs nor a
// child it left holding stderr can hold create, start or delete up.
import { spawn } from 'node:child_process';
import { HakoError } from '../errors.js';

/** How much of a failing hook's stderr its error message quotes. */
const MAX_HOOK_STDERR = 4096;

export const HOOK_NAMES = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

function hooksOf(spec: Readonly<Record<string, unknown>>, name: HookName): Hook[] {
  const hooks = spec['hooks'] as Record<string, unknown> | undefined;
  const list = hooks?.[name];
  return Array.isArray(list) ? (list as Hook[]) : [];
}

function runHook(name: HookName, hook: Hook, state: string, defaultTimeoutMs: number): Promise<void> {
  const env: Record<string, string> = {};
  for (const e of hook.env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
  }
  const [argv0, ...args] = hook.args ?? [hook.path];
  const timeoutMs = hook.timeout !== undefined ? hook.timeout * 1000 : defaultTimeoutMs;
  const limit = hook.timeout !== undefined ? `${hook.timeout} s` : `${timeoutMs / 1000} s (hook_timeout)`;
  return new Promise((resolve, reject) => {
    const child = spawn(hook.path, args, {
      argv0: argv0 ?? hook.path,
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    // Kept for the error message, and bounded: a hook may write without end.
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < MAX_HOOK_STDERR) stderr = (stderr + b.toString()).slice(0, MAX_HOOK_STDERR);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(state);
    const fail = (why: string) =>
      reject(
        new HakoError('FAILED_PRECONDITION', `${name} hook ${hook.path} failed (${why}): ${stderr.trim()}`),
      );
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let stderrClosed = false;
    const timer = setTimeout(() => {
      // The whole group: the hook and whatever it left behind.
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
      child.stderr.destroy();
      fail(`timed out after ${limit}`);
    }, timeoutMs);
    const settle = () => {
      if (!exit || !stderrClosed) return;
      clearTimeout(timer);
      if (exit.code === 0) resolve();
      else fail(`exit ${exit.code ?? exit.signal}`);
    };
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new HakoError('FAILED_PRECONDITION', `${name} hook ${hook.path}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      settle();
    });
    child.stderr.once('close', () => {
      stderrClosed = true;
      settle();
    });
  });
}

/** Whether the spec has hooks of this kind. */
export function hasHooks(spec: Readonly<Record<string, unknown>>, name: HookName): boolean {
  return hooksOf(spec, name).length > 0;
}

/** Runs the hooks of one kind, in order; the first failure stops them. */
export async function runHooks(
  spec: Readonly<Record<string, unknown>>,
  name: HookName,
  state: unknown,
  defaultTimeoutMs: number,
): Promise<void> {
  const json = JSON.stringify(state);
  for (const hook of hooksOf(spec, name)) await runHook(name, hook, json, defaultTimeoutMs);
}
