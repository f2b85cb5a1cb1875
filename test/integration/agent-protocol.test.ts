// The real hako-agent binary (in its host test mode, serving a Unix socket)
// against hostile ttrpc input: oversized, truncated and garbage frames get
// an error status or a closed connection, never a hang or a crash.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { RequestSchema, ResponseSchema } from '../../src/gen/ttrpc_pb.js';
import { CheckRequestSchema, HealthCheckResponseSchema } from '../../src/gen/agent_pb.js';
import { encodeFrame, FrameDecoder, MAX_PAYLOAD, MessageType } from '../../src/ttrpc/frame.js';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { AgentClient } from '../../src/agent-client/client.js';
import { AGENT_BIN } from '../helpers/paths.js';

let dir: string;
let agent: ChildProcess;
let socketPath: string;

before(async () => {
  dir = mkdtempSync('/tmp/hka-');
  socketPath = join(dir, 'agent.sock');
  agent = spawn(AGENT_BIN, ['--listen-unix', socketPath], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(socketPath)
        .once('connect', () => (s.destroy(), resolve(true)))
        .once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('agent did not start listening');
});

after(() => {
  agent.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends raw bytes, returns the decoded responses received within `ms`. */
async function exchange(bytes: Buffer, expect: number, ms = 5000) {
  const s = await open();
  const decoder = new FrameDecoder();
  const replies: { streamId: number; code: number; message: string; payload: Uint8Array }[] = [];
  return new Promise<typeof replies>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(replies);
    };
    const timer = setTimeout(finish, ms);
    s.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        if (e.kind !== 'frame') continue;
        const r = fromBinary(ResponseSchema, e.frame.payload);
        replies.push({
          streamId: e.frame.streamId,
          code: r.status?.code ?? 0,
          message: r.status?.message ?? '',
          payload: r.payload,
        });
        if (replies.length >= expect) finish();
      }
    });
    s.on('close', finish);
    s.write(bytes);
  });
}

function request(
  streamId: number,
  service: string,
  method: string,
  payload: Uint8Array = new Uint8Array(),
): Buffer {
  return encodeFrame(
    streamId,
    MessageType.Request,
    toBinary(RequestSchema, create(RequestSchema, { service, method, payload })),
  );
}

const check = () => toBinary(CheckRequestSchema, create(CheckRequestSchema, {}));

test('a health check is answered', async () => {
  const [reply] = await exchange(request(1, 'hako.agent.v1.Health', 'Check', check()), 1);
  assert.equal(reply?.code, 0);
  assert.equal(fromBinary(HealthCheckResponseSchema, reply.payload).status, 1);
});

test('an oversized frame is skipped and answered RESOURCE_EXHAUSTED; the connection keeps working', async () => {
  const header = Buffer.alloc(10);
  header.writeUInt32BE(MAX_PAYLOAD + 1, 0);
  header.writeUInt32BE(3, 4);
  header.writeUInt8(MessageType.Request, 8);
  const bytes = Buffer.concat([
    header,
    Buffer.alloc(MAX_PAYLOAD + 1, 0x41),
    request(5, 'hako.agent.v1.Health', 'Check', check()),
  ]);
  const replies = await exchange(bytes, 2, 15000);
  assert.deepEqual(
    replies.map((r) => [r.streamId, r.code]),
    [
      [3, 8],
      [5, 0],
    ],
  );
  assert.match(replies[0]?.message ?? '', /exceeds maximum message size/);
});

test('a garbage payload gets INVALID_ARGUMENT', async () => {
  const bytes = encodeFrame(7, MessageType.Request, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
  const [reply] = await exchange(bytes, 1);
  assert.equal(reply?.streamId, 7);
  assert.equal(reply?.code, 3);
});

test('a garbage request message gets INVALID_ARGUMENT naming the method', async () => {
  const bytes = request(9, 'hako.agent.v1.AgentService', 'CreateContainer', Buffer.from([0x0a, 0xff]));
  const [reply] = await exchange(bytes, 1);
  assert.equal(reply?.code, 3);
  assert.match(reply?.message ?? '', /malformed request/);
});

test('unknown services and methods get UNIMPLEMENTED', async () => {
  const replies = await exchange(
    Buffer.concat([request(1, 'no.Such', 'Thing'), request(3, 'hako.agent.v1.AgentService', 'Nope')]),
    2,
  );
  assert.deepEqual(replies.map((r) => [r.code, r.message]).sort(), [
    [12, 'method Nope'],
    [12, 'service no.Such'],
  ]);
});

test('an even stream id is refused', async () => {
  const [reply] = await exchange(request(2, 'hako.agent.v1.Health', 'Check', check()), 1);
  assert.equal(reply?.code, 3);
});

test('a truncated frame followed by a hang-up does not disturb the agent', async () => {
  const s = await open();
  s.write(request(1, 'hako.agent.v1.Health', 'Check', check()).subarray(0, 15));
  await new Promise((r) => setTimeout(r, 100));
  s.destroy();
  const [reply] = await exchange(request(1, 'hako.agent.v1.Health', 'Check', check()), 1);
  assert.equal(reply?.code, 0);
  assert.equal(agent.exitCode, null);
});

test('requests with invalid fields are rejected with a message naming them', async () => {
  const client = new AgentClient(new TtrpcClient(await open()), { requestTimeoutMs: 5000 });
  try {
    await assert.rejects(client.startContainer('../etc'), /container_id "\.\.\/etc" must be/);
    await assert.rejects(client.signalProcess('c1', '', 99), /signal 99 is not between 1 and 64/);
    await assert.rejects(client.read('stdout', 'c1', 'bad/exec'), /exec_id/);
    await assert.rejects(client.startContainer('c1'), /container c1 not found/);
    await assert.rejects(
      client.createContainer({
        containerId: 'c1',
        ociSpecJson: new Uint8Array(),
        rootfsPath: '/x',
        storages: [],
      }),
      /sandbox is not created/,
    );
  } finally {
    client.close();
  }
});

test('the agent binary is static, stripped and under 2 MiB', async () => {
  const { size } = await stat(AGENT_BIN);
  assert.ok(size < 2 * 1024 * 1024, `hako-agent is ${size} bytes`);
  const head = await readFile(AGENT_BIN);
  // No program interpreter (PT_INTERP names ld.so): statically linked.
  assert.ok(!head.includes('/lib64/ld-linux'), 'hako-agent is dynamically linked');
  assert.ok(!head.includes('.symtab'), 'hako-agent is not stripped');
});
