// `hako spec [--bundle B]`: writes a template config.json, as `runc spec` does.
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../../errors.js';
import { defaultSpec } from '../../oci/default-spec.js';

export async function specCommand(bundle: string | undefined): Promise<number> {
  const path = join(bundle ?? process.cwd(), 'config.json');
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new HakoError('ALREADY_EXISTS', 'File config.json exists. Remove it first');
  const spec = defaultSpec({
    args: ['sh'],
    env: [],
    cwd: '/',
    terminal: true,
    hostname: 'hako',
    readonly: true,
  });
  await writeFile(path, `${JSON.stringify(spec, null, 2)}\n`);
  return 0;
}
