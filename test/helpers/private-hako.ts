// A private directory for a client under test, with a Hako configuration
// (dir/hako.toml) whose state_dir lies inside it: the client's runtime
// calls reach it through HAKO_CONFIG.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function privateHako(
  prefix: string,
  extraConfig = '',
): { dir: string; hakoStateDir: string; config: string } {
  const dir = mkdtempSync(prefix);
  const hakoStateDir = join(dir, 'hako');
  const config = join(dir, 'hako.toml');
  writeFileSync(config, `[runtime]\nstate_dir = "${hakoStateDir}"\n${extraConfig}`);
  return { dir, hakoStateDir, config };
}
