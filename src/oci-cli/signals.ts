// Signal names and numbers as `kill` accepts them: KILL, SIGKILL or 9.
import { constants } from 'node:os';
import { HakoError } from '../errors.js';

export function parseSignal(text: string | undefined): number {
  if (text === undefined || text === '') return constants.signals.SIGTERM;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = (
      text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`
    ) as NodeJS.Signals;
    const n = (constants.signals as Record<string, number | undefined>)[name];
    if (n !== undefined) return n;
  }
  throw new HakoError('INVALID_ARGUMENT', `invalid signal: ${text}`);
}
