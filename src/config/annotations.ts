// Pod annotations that size or tune a sandbox (Kata's model): each is
// refused unless the configuration lists it in [hypervisor.qemu]
// enable_annotations, and its value passes the configuration key's own
// schema (and, for kernel parameters, a check of its words). They reach
// the shim from the pod's annotations (containerd's pod_annotations =
// ["io.hako.*"]).
import { HakoError } from '../errors.js';
import { ANNOTATABLE, Qemu, type Annotatable, type HakoConfig } from './schema.js';

export const CONFIG_ANNOTATION_PREFIX = 'io.hako.config.hypervisor.';

type Hypervisor = HakoConfig['hypervisor'];

/** The configuration field each annotation sets. */
const FIELD = {
  default_vcpus: 'vcpus',
  default_memory: 'memoryMiB',
  default_maxvcpus: 'maxVcpus',
  default_maxmemory: 'maxMemoryMiB',
  kernel_params: 'kernelParams',
} as const satisfies Record<Annotatable, keyof Hypervisor>;

/** A kernel parameter word: no spaces, quotes or shell characters. */
const KERNEL_WORD = /^[A-Za-z0-9._,:/=+-]{1,256}$/;
const KERNEL_PARAMS_MAX = 2048;

function bad(key: string, why: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', `annotation ${key}: ${why}`);
}

/** The annotation's value, checked as its configuration key is. */
function valueOf(key: string, name: Annotatable, raw: string): number | string {
  const shown = JSON.stringify(raw.slice(0, 64));
  if (name === 'kernel_params') {
    const words = raw.split(/\s+/).filter((w) => w !== '');
    if (raw.length > KERNEL_PARAMS_MAX || !words.every((w) => KERNEL_WORD.test(w)))
      throw bad(
        key,
        `${shown}: words of letters, digits and ._,:/=+- only, ${KERNEL_PARAMS_MAX} characters at most`,
      );
  }
  const input = name === 'kernel_params' ? raw : /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  const parsed = Qemu.shape[name].safeParse(input);
  if (!parsed.success) throw bad(key, `${shown}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** `config` with the sandbox's enabled annotations applied; any other io.hako.config annotation is an error. */
export function withAnnotations(
  config: HakoConfig,
  annotations: Readonly<Record<string, unknown>> | undefined,
): HakoConfig {
  let hypervisor: Hypervisor = config.hypervisor;
  for (const [key, raw] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(CONFIG_ANNOTATION_PREFIX)) continue;
    const name = ANNOTATABLE.find((n) => n === key.slice(CONFIG_ANNOTATION_PREFIX.length));
    if (name === undefined) throw bad(key, `unknown; the known ones end in ${ANNOTATABLE.join(', ')}`);
    if (!config.hypervisor.enableAnnotations.includes(name))
      throw bad(
        key,
        `not enabled: the configuration must list "${name}" in [hypervisor.qemu] enable_annotations`,
      );
    if (typeof raw !== 'string') throw bad(key, 'the value must be a string');
    hypervisor = { ...hypervisor, [FIELD[name]]: valueOf(key, name, raw) };
  }
  return hypervisor === config.hypervisor ? config : { ...config, hypervisor };
}
