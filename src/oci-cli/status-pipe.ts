// The one-line report a helper process (relay, exec relay) gives the command
// that started it, on fd 3: {"ok":true,"pid":N} or {"error":"…","code":"…"}.
import { Socket } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { HakoError, isHakoError, messageOf, type ErrorCode } from '../errors.js';

export interface Report {
  readonly ok?: boolean;
  readonly pid?: number;
  readonly error?: string;
  readonly code?: ErrorCode;
}

/** The helper's side: reports once, then closes fd 3. */
export function reporter(): (r: Report) => void {
  let socket: Socket | undefined;
  try {
    socket = new Socket({ fd: 3, readable: false, writable: true });
    socket.on('error', () => undefined);
  } catch {
    socket = undefined;
  }
  let done = false;
  return (r) => {
    if (done || !socket) return;
    done = true;
    socket.end(`${JSON.stringify(r)}\n`);
  };
}

export function failure(e: unknown): Report {
  return { error: messageOf(e), code: isHakoError(e) ? e.code : 'INTERNAL' };
}

/** The starter's side: waits for the report on the child's fd 3 (or its exit). */
export function awaitReport(child: ChildProcess, what: string): Promise<Report> {
  const pipe = child.stdio[3];
  return new Promise((resolve, reject) => {
    let text = '';
    pipe?.on('data', (b: Buffer) => {
      text += b.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      try {
        const r = JSON.parse(text.slice(0, nl)) as Report;
        if (r.error !== undefined) reject(new HakoError(r.code ?? 'INTERNAL', r.error));
        else resolve(r);
      } catch (e) {
        reject(new HakoError('INTERNAL', `${what}: garbled report: ${messageOf(e)}`));
      }
    });
    child.once('exit', (code, signal) =>
      reject(new HakoError('INTERNAL', `${what} exited (${signal ?? `code ${code}`}) before reporting`)),
    );
  });
}
