// OCI hooks, run on the host in the order the runtime spec gives:
// prestart, createRuntime, createContainer (during create), startContainer,
// poststart (around start), poststop (after delete). Each gets the
// container's state JSON on stdin; `timeout` is enforced; a failure is an
// error except for poststart and poststop, where it is only a warning.
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

function runHook(name: HookName, hook: Hook, state: string): Promise<void> {
  const env: Record<string, string> = {};
  for (const e of hook.env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
  }
  const [argv0, ...args] = hook.args ?? [hook.path];
  return new Promise((resolve, reject) => {
    const child = spawn(hook.path, args, {
      argv0: argv0 ?? hook.path,
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    // Kept for the error message, and bounded: a hook may write without end.
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < MAX_HOOK_STDERR) stderr = (stderr + b.toString()).slice(0, MAX_HOOK_STDERR);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(state);
    const timer =
      hook.timeout !== undefined ? setTimeout(() => child.kill('SIGKILL'), hook.timeout * 1000) : undefined;
    child.once('error', (e) =>
      reject(new HakoError('FAILED_PRECONDITION', `${name} hook ${hook.path}: ${e.message}`)),
    );
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve();
      else {
        const why =
          signal === 'SIGKILL' && hook.timeout !== undefined
            ? `timed out after ${hook.timeout} s`
            : `exit ${code ?? signal}`;
        reject(
          new HakoError('FAILED_PRECONDITION', `${name} hook ${hook.path} failed (${why}): ${stderr.trim()}`),
        );
      }
    });
  });
}

/** Runs the hooks of one kind, in order; the first failure stops them. */
export async function runHooks(
  spec: Readonly<Record<string, unknown>>,
  name: HookName,
  state: unknown,
): Promise<void> {
  const json = JSON.stringify(state);
  for (const hook of hooksOf(spec, name)) await runHook(name, hook, json);
}
