// A scripted fake QMP server (a QEMU's monitor) for unit tests.
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type Script = (
  cmd: { execute: string; id?: number; arguments?: unknown },
  send: (o: unknown) => void,
  s: Socket,
) => void;

/** Answers each command with `script`; records the commands' names in `received`. */
export async function fakeQmp(script: Script, greeting = true) {
  const dir = mkdtempSync('/tmp/hkq-');
  const path = join(dir, 'qmp.sock');
  const received: string[] = [];
  const server = createServer((s) => {
    const send = (o: unknown) => s.write(`${JSON.stringify(o)}\r\n`);
    if (greeting) send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } });
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line) as { execute: string; id?: number };
        received.push(cmd.execute);
        script(cmd, send, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, received, close: () => (server.close(), rmSync(dir, { recursive: true, force: true })) };
}
