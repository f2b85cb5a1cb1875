// Runs, once, the code every command runs, while the startup snapshot is
// built (snapshot-entry.ts): V8 keeps what it compiled then, so a command
// starts with its command-line parsing, its configuration and the agent
// protocol compiled rather than compiling them on the way (`hako run` starts
// QEMU about 8 ms sooner on the build machines, and its first agent requests
// no longer wait for the compiler). Nothing here touches the OS: the agent
// is answered by canned replies over an in-memory pair of streams.
import { Duplex, PassThrough } from 'node:stream';
import { AgentClient } from '../agent-client/client.js';
import { parseConfigText } from '../config/load.js';
import { AgentService, Health, HealthCheckResponse_ServingStatus } from '../gen/agent_pb.js';
import { defaultSpec } from '../oci/default-spec.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { TtrpcServer } from '../ttrpc/server.js';
import { registerUnary } from '../ttrpc/typed.js';
import { buildProgram } from './main.js';

/** Two in-memory streams, each writing what the other reads. */
function streamPair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

function cannedAgent(): TtrpcServer {
  const s = new TtrpcServer();
  registerUnary(s, Health.method.check, () => ({ status: HealthCheckResponse_ServingStatus.SERVING }));
  registerUnary(s, AgentService.method.createSandbox, () => ({}));
  registerUnary(s, AgentService.method.createContainer, () => ({ pid: 2 }));
  registerUnary(s, AgentService.method.readStdout, () => ({ data: new Uint8Array(1) }));
  registerUnary(s, AgentService.method.closeStdin, () => ({}));
  registerUnary(s, AgentService.method.waitProcess, () => ({ status: 0 }));
  registerUnary(s, AgentService.method.destroySandbox, () => ({}));
  return s;
}

/** A sandbox's requests, as `hako run` makes them, against canned replies. */
async function agentRoundTrips(): Promise<void> {
  const [ours, theirs] = streamPair();
  cannedAgent().serve(theirs);
  const agent = new AgentClient(new TtrpcClient(ours), { requestTimeoutMs: 5000 });
  try {
    await agent.check(5000);
    await agent.createSandbox({
      sandboxId: 'warm-up',
      hostname: 'warm-up',
      storages: [{ driver: 'virtiofs', source: 'tag', fstype: 'virtiofs', options: [], mountPoint: '/m' }],
      hostTimeUnixNano: 1n,
    });
    const args = {
      args: ['true'],
      env: [],
      cwd: '/',
      terminal: false,
      hostname: 'h',
      readonly: false,
      sandboxNetwork: true,
    };
    const spec = new TextEncoder().encode(JSON.stringify(defaultSpec(args)));
    await agent.createContainer({
      containerId: 'c',
      ociSpecJson: spec,
      rootfsPath: '/r',
      storages: [],
      start: true,
    });
    await agent.read('stdout', 'c', '');
    await agent.closeStdin('c', '');
    await agent.waitProcess('c', '');
    await agent.destroySandbox(5000);
  } finally {
    agent.close();
    ours.destroy();
    theirs.destroy();
  }
}

/** Parses a command line (`--version`) with its output thrown away. */
async function parseCommandLine(): Promise<void> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  try {
    await buildProgram(() => undefined, [])
      .exitOverride()
      .parseAsync(['node', 'hako', '--version'])
      .catch(() => undefined); // commander's "exit" after printing the version
  } finally {
    process.stdout.write = write;
  }
}

export async function warmUp(): Promise<void> {
  parseConfigText('[hypervisor.qemu]\ndefault_vcpus = 2\n[agent.hako]\nenable_debug = false\n', 'warm-up');
  await parseCommandLine();
  await agentRoundTrips();
}
