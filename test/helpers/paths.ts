// Where the tests find the repository, the CLI and the agent binary.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const HAKO = join(REPO, 'bin', 'hako');
export const AGENT_BIN = join(REPO, 'agent', 'target', 'x86_64-unknown-linux-gnu', 'release', 'hako-agent');
export const SNAPSHOTS = join(REPO, 'test', 'unit', '__snapshots__');
