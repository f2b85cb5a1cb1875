// Logging, injected (never a global): a Logger writes structured lines to a
// sink. The CLI chooses the sink (stderr with --debug, a file with --log)
// and the format (text or JSON, as runc's --log-format).
import { appendFileSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  log(level: Level, msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: Logger = { log: () => undefined };

export interface LoggerOptions {
  readonly level: Level;
  readonly format: 'text' | 'json';
  /** A file to append to; stderr when absent. */
  readonly file?: string;
}

export function createLogger(opts: LoggerOptions): Logger {
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[opts.level]) return;
      const time = new Date().toISOString();
      if (opts.level === 'debug') fields = { ...fields, t: Math.round(performance.now()) };
      const line =
        opts.format === 'json'
          ? JSON.stringify({ level, msg, time, ...fields })
          : `${time} ${level} ${msg}${Object.entries(fields)
              .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`)
              .join('')}`;
      if (opts.file !== undefined) appendFileSync(opts.file, `${line}\n`);
      else process.stderr.write(`${line}\n`);
    },
  };
}
