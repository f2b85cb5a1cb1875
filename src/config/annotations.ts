// Pod annotations that size or tune a sandbox (Kata's model): each is
// refused unless the configuration lists it in [hypervisor.qemu]
// enable_annotations, and its value passes the same checks as the
// configuration's own key. They reach the shim from the pod's annotations
// (containerd's pod_annotations = ["io.hako.*"]).
import { z } from 'zod';
import { HakoError } from '../errors.js';
import type { HakoConfig } from './schema.js';

export const CONFIG_ANNOTATION_PREFIX = 'io.hako.config.hypervisor.';

type Hypervisor = HakoConfig['hypervisor'];

/** A kernel parameter word: no spaces, quotes or shell characters. */
const KERNEL_WORD = /^[A-Za-z0-9._,:/=+-]{1,256}$/;

/** Each annotation (after the prefix): how its value is read, and what it sets. */
const ANNOTATIONS = {
  default_vcpus: { value: z.coerce.number().int().min(1).max(64), set: (v: number) => ({ vcpus: v }) },
  default_memory: {
    value: z.coerce.number().int().min(64).max(65536),
    set: (v: number) => ({ memoryMiB: v }),
  },
  default_maxvcpus: { value: z.coerce.number().int().min(0).max(240), set: (v: number) => ({ maxVcpus: v }) },
  default_maxmemory: {
    value: z.coerce.number().int().min(0).max(1_048_576),
    set: (v: number) => ({ maxMemoryMiB: v }),
  },
  kernel_params: {
    value: z
      .string()
      .max(2048)
      .refine(
        (s) => s.split(/\s+/).every((w) => w === '' || KERNEL_WORD.test(w)),
        'words of letters, digits and ._,:/=+- only',
      ),
    set: (v: string) => ({ kernelParams: v }),
  },
} as const;

export type AnnotationName = keyof typeof ANNOTATIONS;
export const ANNOTATION_NAMES = Object.keys(ANNOTATIONS) as AnnotationName[];

function bad(key: string, why: string): HakoError {
  return new HakoError('INVALID_ARGUMENT', `annotation ${key}: ${why}`);
}

/** `config` with the sandbox's enabled annotations applied; any other io.hako.config annotation is an error. */
export function withAnnotations(
  config: HakoConfig,
  annotations: Readonly<Record<string, unknown>> | undefined,
): HakoConfig {
  let hypervisor: Hypervisor = config.hypervisor;
  for (const [key, raw] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(CONFIG_ANNOTATION_PREFIX)) continue;
    const name = key.slice(CONFIG_ANNOTATION_PREFIX.length);
    if (!Object.hasOwn(ANNOTATIONS, name))
      throw bad(key, `unknown; the known ones end in ${ANNOTATION_NAMES.join(', ')}`);
    const n = name as AnnotationName;
    if (!config.hypervisor.enableAnnotations.includes(n))
      throw bad(
        key,
        `not enabled: the configuration must list "${n}" in [hypervisor.qemu] enable_annotations`,
      );
    if (typeof raw !== 'string') throw bad(key, 'the value must be a string');
    const spec = ANNOTATIONS[n];
    const parsed = spec.value.safeParse(raw);
    if (!parsed.success)
      throw bad(key, `${JSON.stringify(raw.slice(0, 64))}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    hypervisor = { ...hypervisor, ...(spec.set as (v: unknown) => Partial<Hypervisor>)(parsed.data) };
  }
  return hypervisor === config.hypervisor ? config : { ...config, hypervisor };
}
