// `hako version` and `hako env`: what this Hako is and what it would use,
// the role of `kata-runtime version` and `kata-runtime env`. `env` prints
// JSON: the configuration in effect (and where it came from), the guest
// image, and the paths Hako reads and writes.
import { readCurrent } from '../image/guest-image.js';
import { helperBinary, repoDir } from '../home.js';
import { chooseAccel, probeHost, readCpuinfo } from '../hypervisor/accel.js';
import { loadGlobalConfig, type GlobalOptions } from './wiring.js';

export const HAKO_VERSION = '0.1.0';
export const OCI_SPEC_VERSION = '1.2.0';
/** What `hako --version` prints. */
export const VERSION = `hako version ${HAKO_VERSION}\nspec: ${OCI_SPEC_VERSION}`;

export async function versionCommand(g: GlobalOptions, out: (line: string) => void): Promise<number> {
  const { config } = await loadGlobalConfig(g);
  const image = await readCurrent(config.runtime.imageCacheDir);
  out(VERSION);
  out(
    `guest kernel: ${image ? `${image.kernelRelease} (${image.kernelSource})` : 'none built (hako image build)'}`,
  );
  return 0;
}

export async function envCommand(g: GlobalOptions, out: (line: string) => void): Promise<number> {
  const { config, source } = await loadGlobalConfig(g);
  const accel = chooseAccel(await probeHost(await readCpuinfo()), config.hypervisor.accelerator);
  const env = {
    version: HAKO_VERSION,
    ociSpec: OCI_SPEC_VERSION,
    config: { source, values: config },
    image: (await readCurrent(config.runtime.imageCacheDir)) ?? null,
    accelerator: { chosen: accel.accel, reason: accel.reason },
    paths: {
      install: repoDir(),
      hostHelper: helperBinary(),
      stateDir: g.root ?? config.runtime.stateDir,
      imageCache: config.runtime.imageCacheDir,
      templates: config.factory.templatePath,
    },
  };
  out(JSON.stringify(env, null, 2));
  return 0;
}
