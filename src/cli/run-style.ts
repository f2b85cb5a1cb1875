// Which `hako run` the user means (pure). Two styles share the command:
//   docker-like  hako run [flags] -- CMD [ARGS…]
//   runc-like    hako run [-b B] [-d] [--keep] … ID
// The rule, which a one-word command cannot trip:
//   runc style only with one word, no `--`, no docker-style flag, AND a
//   bundle: -b/--bundle given, or config.json in the current directory.
//   Everything else is docker style: `hako run ls` runs ls.
// Words before `--` in docker style would be an image name: refused with
// what is supported instead.
import { HakoError } from '../errors.js';

export type RunStyle =
  | { readonly style: 'runc'; readonly id: string; readonly why: string }
  | { readonly style: 'docker'; readonly command: readonly string[] };

export interface StyleInput {
  /**
   * The words commander collected for `run`: a leading `--` is removed, one
   * after other words is kept.
   */
  readonly words: readonly string[];
  /** How many of them came after a `--` (undefined: there was none). */
  readonly afterDashDash: number | undefined;
  /** A docker-only flag was given (-i, -t, -e, --rm, --name, -v…). */
  readonly dockerFlag: boolean;
  readonly bundleFlag: boolean;
  readonly cwdHasConfig: boolean;
}

export function chooseRunStyle(i: StyleInput): RunStyle {
  const [first] = i.words;
  if (
    i.afterDashDash === undefined &&
    i.words.length === 1 &&
    first !== undefined &&
    !i.dockerFlag &&
    (i.bundleFlag || i.cwdHasConfig)
  ) {
    const why = i.bundleFlag
      ? `runc style (a bundle was given, so ${JSON.stringify(first)} is a container id)`
      : `runc style (./config.json is a bundle, so ${JSON.stringify(first)} is a container id; ` +
        `to run it as a command: hako run -- ${first})`;
    return { style: 'runc', id: first, why };
  }
  const before = i.afterDashDash === undefined ? 0 : i.words.length - i.afterDashDash;
  if (before > 0) {
    const words = i.words.slice(0, before);
    if (words.at(-1) === '--') words.pop();
    const image = words.join(' ');
    throw new HakoError(
      'INVALID_ARGUMENT',
      `images by name are not supported: ${JSON.stringify(image)} before "--". ` +
        'Run the built-in image (hako run -- CMD), a root filesystem directory (--rootfs DIR) ' +
        'or an OCI bundle (--bundle DIR)',
    );
  }
  return { style: 'docker', command: i.words };
}

/** How many words follow the first `--` after `run` in the raw argv. */
export function wordsAfterDashDash(rawArgv: readonly string[]): number | undefined {
  const run = rawArgv.indexOf('run');
  const dd = rawArgv.indexOf('--', run < 0 ? 0 : run);
  return dd < 0 ? undefined : rawArgv.length - dd - 1;
}
