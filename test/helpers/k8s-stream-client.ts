// A Kubernetes streaming client (what kubectl exec/attach speak to the URL
// CRI's Exec and Attach return): WebSocket, subprotocol v4.channel.k8s.io,
// each message a channel byte (0 stdin, 1 stdout, 2 stderr, 3 status,
// 4 resize) and its data. Run as a script inside the namespace where
// containerd's streaming server listens:
//   node k8s-stream-client.js URL STEPS_JSON [portforward]
// where STEPS_JSON is a list of {resize:[cols,rows]} | {stdin:text} |
// {zeros:n} (n zero bytes on stdin) | {wait:ms} | {until:text} (waits for
// stdout to contain text); it prints {stdout, stderr, status, ms} as JSON
// once the server ends the session, ms being when the last `until` was met
// (from the session's opening). With `portforward` (a CRI PortForward URL
// for one port): channel 0 is the connection's data both ways (stdin,
// stdout) and channel 1 its error (stderr); the port each channel starts
// with (2 bytes) is left out.
import WebSocket from 'ws';

type Step =
  { resize: [number, number] } | { stdin: string } | { zeros: number } | { wait: number } | { until: string };

/** One session: `steps` sent in order, then what came back once the server ended it. */
async function session(
  url: string,
  steps: readonly Step[],
  portForward: boolean,
): Promise<{ stdout: string; stderr: string; status: string; ms?: number }> {
  const out: { stdout: string; stderr: string; status: string; ms?: number } = {
    stdout: '',
    stderr: '',
    status: '',
  };
  const ws = new WebSocket(url, ['v4.channel.k8s.io']);
  const send = (channel: number, data: string | Buffer) =>
    ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  // Where each channel's messages go; a port-forward's start with the port.
  type Sink = 'stdout' | 'stderr' | 'status' | undefined;
  const sinks: readonly Sink[] = portForward
    ? ['stdout', 'stderr']
    : [undefined, 'stdout', 'stderr', 'status'];
  const headerLeft = portForward ? [2, 2] : [];

  let seen: () => void = () => undefined;
  ws.on('message', (data: Buffer) => {
    const channel = data[0] ?? 0;
    let payload = data.subarray(1);
    const skip = Math.min(headerLeft[channel] ?? 0, payload.length);
    if (skip > 0) {
      headerLeft[channel] = (headerLeft[channel] ?? 0) - skip;
      payload = payload.subarray(skip);
    }
    const sink = sinks[channel];
    if (sink) out[sink] += payload.toString();
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
  const opened = performance.now();
  for (const s of steps) {
    if ('resize' in s) send(4, JSON.stringify({ Width: s.resize[0], Height: s.resize[1] }));
    else if ('stdin' in s) send(0, s.stdin);
    else if ('zeros' in s) {
      for (let n = 0; n < s.zeros; n += 65536) send(0, Buffer.alloc(Math.min(65536, s.zeros - n)));
    } else if ('wait' in s) await new Promise((r) => setTimeout(r, s.wait));
    else {
      const deadline = Date.now() + 30_000;
      // Each check looks only at what came since the last one (a download is megabytes).
      let from = 0;
      const met = () => {
        const found = out.stdout.includes(s.until, from);
        from = Math.max(0, out.stdout.length - s.until.length);
        return found;
      };
      while (!met() && Date.now() < deadline) {
        await new Promise<void>((r) => {
          seen = r;
          setTimeout(r, 200);
        });
      }
      out.ms = performance.now() - opened;
    }
  }
  const timer = setTimeout(() => ws.terminate(), 60_000);
  await closed;
  clearTimeout(timer);
  return out;
}

// Only as a script (the test runner also loads every file under test/).
const [url, stepsJson, mode] = process.argv.slice(2);
if (url !== undefined && stepsJson !== undefined) {
  const steps = JSON.parse(stepsJson) as Step[];
  process.stdout.write(JSON.stringify(await session(url, steps, mode === 'portforward')));
}
