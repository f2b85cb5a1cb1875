// File operations in a directory that a guest can read or write through
// its shared filesystem: every lookup stays beneath the directory and
// never follows a link (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), a
// removal never enters a mount point, and mounts are made with the new
// mount API onto targets opened that way. Node has none of these calls:
// the real implementation runs the Rust host helper (tools/host-helper),
// one process per batch.
import { HakoError } from '../errors.js';
import { mountPointsUnder } from './mounts.js';
import type { Runner } from './runner.js';

/** One operation; `path` is relative to the batch's root. */
export type FsOp =
  | { readonly op: 'mkdir'; readonly path: string }
  | { readonly op: 'file'; readonly path: string }
  | {
      readonly op: 'bind';
      /** An absolute host path, followed as given (the caller chose it). */
      readonly source: string;
      readonly path: string;
      /** Submounts too (rbind). */
      readonly recursive: boolean;
      /** Read-only all the way down. */
      readonly readonly: boolean;
      /** Receives the mounts the host makes in the source later (a slave of it), passed on to the shared view. */
      readonly follow?: boolean;
    }
  /** `host` becomes a shared mount, `view` its read-only copy (a slave). */
  | { readonly op: 'share'; readonly host: string; readonly view: string }
  | { readonly op: 'unmount'; readonly path: string }
  | { readonly op: 'remove'; readonly path: string };

export interface ConfinedFs {
  /** Applies `ops` in order beneath `root`; the first failure stops them. */
  apply(root: string, ops: readonly FsOp[]): Promise<void>;
  /** Mount points at or below `prefix`. */
  mountsUnder(prefix: string): Promise<string[]>;
}

export class HelperFs implements ConfinedFs {
  constructor(
    private readonly runner: Runner,
    private readonly helper: string,
  ) {}

  async apply(root: string, ops: readonly FsOp[]): Promise<void> {
    if (ops.length === 0) return;
    const r = await this.runner.run([this.helper, 'fs', root], { input: JSON.stringify(ops) });
    if (r.code !== 0) {
      const why = r.stderr.trim().replace(/^hako-host-helper: /, '') || `exit ${r.code}`;
      throw new HakoError('INTERNAL', `in ${root}: ${why}`);
    }
  }

  mountsUnder(prefix: string): Promise<string[]> {
    return mountPointsUnder(prefix);
  }
}
