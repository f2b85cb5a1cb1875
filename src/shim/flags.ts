// The shim's command line, as containerd passes it: Go-style flags (-name
// value, --name value, -name=value, bare booleans), then an optional action
// word (start | delete); no action means "serve".
import { HakoError } from '../errors.js';

export interface ShimFlags {
  readonly namespace: string;
  readonly address: string;
  readonly publishBinary: string;
  readonly id: string;
  readonly bundle: string;
  readonly socket: string;
  readonly debug: boolean;
  readonly action: 'start' | 'delete' | 'serve' | 'version';
}

const VALUE_FLAGS = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle', 'socket']);
const BOOL_FLAGS = new Set(['debug', 'v']);

export function parseShimFlags(argv: readonly string[]): ShimFlags {
  const values = new Map<string, string>();
  const bools = new Set<string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      rest.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (BOOL_FLAGS.has(name)) {
      bools.add(name);
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new HakoError('INVALID_ARGUMENT', `unknown flag -${name}`);
    const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new HakoError('INVALID_ARGUMENT', `flag -${name} needs a value`);
    values.set(name, value);
  }
  const word = rest[0];
  if (rest.length > 1 || (word !== undefined && word !== 'start' && word !== 'delete')) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `unknown action ${JSON.stringify(rest.join(' '))} (start or delete)`,
    );
  }
  const action = bools.has('v') ? 'version' : (word ?? 'serve');
  const flags: ShimFlags = {
    namespace: values.get('namespace') ?? '',
    address: values.get('address') ?? '',
    publishBinary: values.get('publish-binary') ?? '',
    id: values.get('id') ?? '',
    bundle: values.get('bundle') ?? '',
    socket: values.get('socket') ?? '',
    debug: bools.has('debug'),
    action,
  };
  if (action !== 'version' && !flags.namespace)
    throw new HakoError('INVALID_ARGUMENT', '-namespace is required');
  if ((action === 'start' || action === 'delete') && !flags.id) {
    throw new HakoError('INVALID_ARGUMENT', `-id is required for ${action}`);
  }
  return flags;
}
