// Runtime options: containerd sends a runtimeoptions.v1.Options Any (on the
// stdin of `start`, and in CreateTaskRequest.options) whose config_path
// chooses Hako's configuration file, as Kata's ConfigPath does.
import { fromBinary } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { OptionsSchema } from '../gen/containerd/options_pb.js';
import { HakoError } from '../errors.js';

export function configPathFromOptions(
  options: Pick<Any, 'typeUrl' | 'value'> | undefined,
): string | undefined {
  if (!options || options.typeUrl === '') return undefined;
  if (!options.typeUrl.endsWith('runtimeoptions.v1.Options')) return undefined;
  try {
    const path = fromBinary(OptionsSchema, options.value).configPath;
    return path === '' ? undefined : path;
  } catch (e) {
    throw new HakoError('INVALID_ARGUMENT', `undecodable runtime options: ${(e as Error).message}`);
  }
}
