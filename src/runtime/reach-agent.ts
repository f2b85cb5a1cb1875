// Reaching a VM's agent: connect to its port and see it answer Check. An
// attempt left unanswered for CHECK_ATTEMPT_MS closes the link and opens
// it anew (the guest then learns of the host's connection again), until
// the start's deadline: a guest that lost the news of one connection is
// not waited on for a whole minute. Each retry is logged with what its VM
// was doing.
import { AgentClient } from '../agent-client/client.js';
import { HakoError, isHakoError, messageOf } from '../errors.js';
import type { Vm } from '../hypervisor/types.js';
import type { Logger } from '../log.js';
import { TtrpcClient } from '../ttrpc/client.js';
import type { VirtioSerialTransport } from '../transport/virtio-serial.js';

/** How long one Check may go unanswered before the link is opened anew. */
const CHECK_ATTEMPT_MS = 5000;

export interface ReachAgent {
  readonly sandbox: string;
  readonly vm: Vm;
  readonly transport: VirtioSerialTransport;
  readonly deadline: number;
  readonly requestTimeoutMs: number;
  readonly log: Logger;
  /** Runs an operation, failing with VM_EXITED if the VM dies meanwhile. */
  guard<T>(op: Promise<T>, what: string): Promise<T>;
}

export async function reachAgent(o: ReachAgent): Promise<AgentClient> {
  for (;;) {
    const socket = await o.guard(o.transport.connect(o.deadline, o.vm.exited), 'connect to the agent');
    const agent = new AgentClient(new TtrpcClient(socket), { requestTimeoutMs: o.requestTimeoutMs });
    const left = o.deadline - Date.now();
    try {
      await o.guard(agent.check(Math.max(1, Math.min(CHECK_ATTEMPT_MS, left))), 'reach the agent');
      return agent;
    } catch (e) {
      agent.close();
      if (!isHakoError(e, 'AGENT_TIMEOUT')) throw e;
      const diag = await o.vm.diagnostics();
      const what = `${messageOf(e)}${diag ? `\n${diag}` : ''}`;
      if (Date.now() >= o.deadline) throw new HakoError('AGENT_TIMEOUT', what, { cause: e });
      o.log.log('warn', `no answer from the agent yet; connecting anew: ${what}`, { sandbox: o.sandbox });
    }
  }
}
