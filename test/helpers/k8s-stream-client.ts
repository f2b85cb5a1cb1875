// A Kubernetes streaming client (what kubectl exec/attach speak to the URL
// CRI's Exec and Attach return): WebSocket, subprotocol v4.channel.k8s.io,
// each message a channel byte (0 stdin, 1 stdout, 2 stderr, 3 status,
// 4 resize) and its data. Run as a script inside the namespace where
// containerd's streaming server listens:
//   node k8s-stream-client.js URL STEPS_JSON
// where STEPS_JSON is a list of {resize:[cols,rows]} | {stdin:text} |
// {wait:ms} | {until:text} (waits for stdout to contain text); it prints
// {stdout, stderr, status} as JSON once the server ends the session.
import WebSocket from 'ws';

type Step = { resize: [number, number] } | { stdin: string } | { wait: number } | { until: string };

/** One session: `steps` sent in order, then what came back once the server ended it. */
async function session(
  url: string,
  steps: readonly Step[],
): Promise<{ stdout: string; stderr: string; status: string }> {
  const out = { stdout: '', stderr: '', status: '' };
  const ws = new WebSocket(url, ['v4.channel.k8s.io']);
  const send = (channel: number, data: string) =>
    ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));

  let seen: () => void = () => undefined;
  ws.on('message', (data: Buffer) => {
    const text = data.subarray(1).toString();
    if (data[0] === 1) out.stdout += text;
    else if (data[0] === 2) out.stderr += text;
    else if (data[0] === 3) out.status += text;
    seen();
  });
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  ws.on('error', (e) => {
    out.status = `client error: ${e.message}`;
  });
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  for (const s of steps) {
    if ('resize' in s) send(4, JSON.stringify({ Width: s.resize[0], Height: s.resize[1] }));
    else if ('stdin' in s) send(0, s.stdin);
    else if ('wait' in s) await new Promise((r) => setTimeout(r, s.wait));
    else {
      const deadline = Date.now() + 30_000;
      while (!out.stdout.includes(s.until) && Date.now() < deadline) {
        await new Promise<void>((r) => {
          seen = r;
          setTimeout(r, 200);
        });
      }
    }
  }
  const timer = setTimeout(() => ws.terminate(), 60_000);
  await closed;
  clearTimeout(timer);
  return out;
}

// Only as a script (the test runner also loads every file under test/).
const [url, stepsJson] = process.argv.slice(2);
if (url !== undefined && stepsJson !== undefined) {
  process.stdout.write(JSON.stringify(await session(url, JSON.parse(stepsJson) as Step[])));
}
