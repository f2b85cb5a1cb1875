// What `hako install containerd` does to containerd's configuration: one
// marked block that adds the runtime handler `hako` to the CRI plugin.
// The rest of the file is kept byte for byte (comments and layout
// included), so the change is exactly the block, and removing the block
// gives the file back as it was. Pure functions: the command does the I/O.
import { parse as parseToml } from 'smol-toml';
import { HakoError } from '../errors.js';

const BEGIN =
  '# BEGIN hako: added by `hako install containerd`; `hako install containerd --uninstall` removes it';
const END = '# END hako';
const RUNTIME_TABLE = 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako';

/** The block, as it is written; for a new file, with the version line (so that removing the block empties it). */
export function hakoBlock(withVersion = false): string {
  return [
    BEGIN,
    ...(withVersion ? ['version = 2'] : []),
    `[${RUNTIME_TABLE}]`,
    '  runtime_type = "io.containerd.hako.v2"',
    // A privileged pod's containers get the VM's devices, never the host's.
    '  privileged_without_host_devices = true',
    // The annotations Hako reads (sizing and tuning, refused unless its configuration allows them).
    '  pod_annotations = ["io.hako.*"]',
    END,
  ].join('\n');
}

function parse(text: string, what: string): Record<string, unknown> {
  try {
    return parseToml(text);
  } catch (e) {
    throw new HakoError(
      'CONFIG_INVALID',
      `${what} is not valid TOML: ${(e as Error).message.split('\n')[0] ?? ''}`,
    );
  }
}

function hasHakoRuntime(config: Record<string, unknown>): boolean {
  const plugins = config['plugins'] as Record<string, Record<string, unknown> | undefined> | undefined;
  const containerd = plugins?.['io.containerd.grpc.v1.cri']?.['containerd'] as
    { runtimes?: Record<string, unknown> } | undefined;
  return containerd?.runtimes?.['hako'] !== undefined;
}

/** Where our block is in `text`, if it is there. */
function findBlock(text: string): { start: number; end: number } | undefined {
  const start = text.indexOf(BEGIN);
  if (start < 0) return undefined;
  const endAt = text.indexOf(END, start);
  if (endAt < 0)
    throw new HakoError('CONFIG_INVALID', `Hako's block in the configuration has no "${END}" line`);
  let end = endAt + END.length;
  if (text[end] === '\n') end++;
  return { start, end };
}

/**
 * `text` with the runtime handler added (unchanged if it is there). `what`
 * names the file in errors. A configuration of version 1, or one that
 * defines a `hako` runtime of its own, is refused.
 */
export function addHakoRuntime(text: string, what: string): { text: string; changed: boolean } {
  const config = parse(text, what);
  if (findBlock(text)) return { text, changed: false };
  if (text.trim() !== '' && config['version'] !== 2) {
    throw new HakoError(
      'CONFIG_INVALID',
      `${what} is a version ${JSON.stringify(config['version'] ?? 1)} configuration: hako install writes containerd's version 2 (plugins."io.containerd.grpc.v1.cri"); convert it first`,
    );
  }
  if (hasHakoRuntime(config)) {
    throw new HakoError(
      'CONFIG_INVALID',
      `${what} already defines [${RUNTIME_TABLE}] outside Hako's block: remove it first`,
    );
  }
  const empty = text.trim() === '';
  // A blank line between the file and the block (removed with the block).
  const head = empty ? text : `${text}${text.endsWith('\n') ? '' : '\n'}\n`;
  const out = `${head}${hakoBlock(empty)}\n`;
  parse(out, `${what} with the hako runtime`);
  return { text: out, changed: true };
}

/** `text` without Hako's block (unchanged if it is not there): what `addHakoRuntime` was given. */
export function removeHakoRuntime(text: string): { text: string; changed: boolean } {
  const block = findBlock(text);
  if (!block) return { text, changed: false };
  // The blank line written before the block goes with it.
  const start = text.slice(block.start - 2, block.start) === '\n\n' ? block.start - 1 : block.start;
  return { text: text.slice(0, start) + text.slice(block.end), changed: true };
}

/**
 * The RuntimeClass for handler `hako`, with the per-pod overhead the
 * scheduler adds to each pod's requests: the host memory and CPU an idle
 * pod costs beyond its containers (QEMU, virtiofsd, passt or taps, the
 * shim), measured by `npm run bench:start`.
 */
export function runtimeClassYaml(overhead: { memory: string; cpu: string }): string {
  return [
    'apiVersion: node.k8s.io/v1',
    'kind: RuntimeClass',
    'metadata:',
    '  name: hako',
    'handler: hako',
    'overhead:',
    '  podFixed:',
    `    memory: "${overhead.memory}"`,
    `    cpu: "${overhead.cpu}"`,
    'scheduling:',
    '  nodeSelector:',
    '    hako.io/runtime: "true"',
    '',
  ].join('\n');
}
