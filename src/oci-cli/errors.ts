// How the runc-compatible commands report failure: exit status 1 and the
// message callers match on ("container does not exist"…), written as runc
// writes it: a logrus-style line on stderr, and a JSON line in the --log
// file when --log-format json.
import { appendFileSync } from 'node:fs';
import { HakoError, messageOf } from '../errors.js';

export interface LogTarget {
  readonly log?: string;
  readonly logFormat: 'text' | 'json';
}

function line(level: string, msg: string, format: 'text' | 'json'): string {
  const time = new Date().toISOString();
  return format === 'json'
    ? JSON.stringify({ level, msg, time })
    : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
}

/** Reports a failure of a runc-style command (its exit status is 1). */
export function reportFailure(e: unknown, target: LogTarget): void {
  const msg = messageOf(e);
  if (target.log !== undefined) {
    try {
      appendFileSync(target.log, `${line('error', msg, target.logFormat)}\n`);
    } catch {
      // The log is optional; stderr still gets the message.
    }
  }
  process.stderr.write(`${line('error', msg, 'text')}\n`);
}

export function notFound(): HakoError {
  return new HakoError('NOT_FOUND', 'container does not exist');
}
