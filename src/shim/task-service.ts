// The containerd.task.v2.Task ttrpc service: decodes each request, calls
// one ShimTasks method, encodes the reply. Errors become ttrpc statuses
// (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION…) in ttrpc/status.ts.
import { anyPack, timestampFromDate, type Any } from '@bufbuild/protobuf/wkt';
import { create } from '@bufbuild/protobuf';
import { HakoError } from '../errors.js';
import { ProcessDetailsSchema } from '../gen/containerd/runc_pb.js';
import { Status } from '../gen/containerd/task_types_pb.js';
import { Task } from '../gen/containerd/task_pb.js';
import type { TtrpcServer } from '../ttrpc/server.js';
import { Code, TtrpcError } from '../ttrpc/status.js';
import { registerUnary } from '../ttrpc/typed.js';
import { METRICS_TYPE_URL, metricsOf } from './metrics.js';
import { configPathFromOptions } from './options.js';
import type { ProcStatus, ShimTasks } from './tasks.js';

const STATUS: Record<ProcStatus, Status> = {
  created: Status.CREATED,
  running: Status.RUNNING,
  paused: Status.PAUSED,
  stopped: Status.STOPPED,
};

/** An Any whose value is JSON (OCI process / resources), as containerd sends them. */
function jsonOf(any: Any | undefined, what: string): Record<string, unknown> {
  if (!any) throw new HakoError('INVALID_ARGUMENT', `${what} is missing`);
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(any.value));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new HakoError(
      'INVALID_ARGUMENT',
      `${what} (${any.typeUrl}) is not valid JSON: ${(e as Error).message}`,
    );
  }
}

export interface ShimControl {
  readonly shimPid: number;
  /** Called after Shutdown was answered, when the daemon has nothing left to serve. */
  shutdown(): void;
}

export function registerTaskService(server: TtrpcServer, tasks: ShimTasks, control: ShimControl): void {
  const m = Task.method;
  registerUnary(server, m.create, async (r) => {
    if (r.checkpoint !== '')
      throw new TtrpcError(Code.UNIMPLEMENTED, 'restoring from a checkpoint is not supported');
    const pid = await tasks.create({
      id: r.id,
      bundle: r.bundle,
      rootfs: r.rootfs,
      stdio: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      configPath: configPathFromOptions(r.options),
    });
    return { pid };
  });
  registerUnary(server, m.start, async (r) => ({ pid: await tasks.start(r.id, r.execId) }));
  registerUnary(server, m.delete, async (r) => {
    const { pid, exit } = await tasks.delete(r.id, r.execId);
    return { pid, exitStatus: exit.status, exitedAt: timestampFromDate(exit.at) };
  });
  registerUnary(server, m.exec, async (r) => {
    const stdio = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal };
    await tasks.exec(r.id, r.execId, stdio, jsonOf(r.spec, 'exec process spec'));
    return {};
  });
  registerUnary(server, m.state, (r) => {
    const s = tasks.state(r.id, r.execId);
    return {
      id: r.id,
      execId: r.execId,
      bundle: s.bundle,
      pid: s.pid,
      status: STATUS[s.status],
      stdin: s.stdio.stdin,
      stdout: s.stdio.stdout,
      stderr: s.stdio.stderr,
      terminal: s.stdio.terminal,
      exitStatus: s.exit?.status ?? 0,
      ...(s.exit ? { exitedAt: timestampFromDate(s.exit.at) } : {}),
    };
  });
  registerUnary(server, m.kill, async (r) => {
    await tasks.kill(r.id, r.execId, r.signal, r.all);
    return {};
  });
  registerUnary(server, m.wait, async (r) => {
    const exit = await tasks.wait(r.id, r.execId);
    return { exitStatus: exit.status, exitedAt: timestampFromDate(exit.at) };
  });
  registerUnary(server, m.pids, async (r) => {
    const processes = (await tasks.pids(r.id)).map((p) => ({
      pid: p.pid,
      ...(p.execId
        ? { info: anyPack(ProcessDetailsSchema, create(ProcessDetailsSchema, { execId: p.execId })) }
        : {}),
    }));
    return { processes };
  });
  registerUnary(server, m.pause, async (r) => {
    await tasks.pause(r.id);
    return {};
  });
  registerUnary(server, m.resume, async (r) => {
    await tasks.resume(r.id);
    return {};
  });
  registerUnary(server, m.closeIO, async (r) => {
    if (r.stdin) await tasks.closeIO(r.id, r.execId);
    return {};
  });
  registerUnary(server, m.resizePty, async (r) => {
    await tasks.resize(r.id, r.execId, r.width, r.height);
    return {};
  });
  registerUnary(server, m.update, async (r) => {
    await tasks.update(r.id, jsonOf(r.resources, 'resources'));
    return {};
  });
  registerUnary(server, m.stats, async (r) => ({
    stats: { typeUrl: METRICS_TYPE_URL, value: metricsOf(await tasks.stats(r.id)) },
  }));
  registerUnary(server, m.connect, (r) => ({
    shimPid: control.shimPid,
    taskPid: tasks.taskPid(r.id),
    version: 'hako',
  }));
  registerUnary(server, m.shutdown, () => {
    if (tasks.size === 0) setImmediate(() => control.shutdown());
    return {};
  });
  registerUnary(server, m.checkpoint, () => {
    throw new TtrpcError(Code.UNIMPLEMENTED, 'checkpoint is not supported by hako');
  });
}
