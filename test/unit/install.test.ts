// hako install containerd's edit of containerd's configuration: idempotent,
// reversible to the byte, and refusing what it cannot safely change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { REPO } from '../helpers/paths.js';
import { addHakoRuntime, removeHakoRuntime, runtimeClassYaml } from '../../src/cli/install-containerd.js';

const CONFIG = `version = 2
# a comment that must survive
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
`;

test('the runtime handler is added once, with comments and layout kept, and removed back to the same bytes', () => {
  const added = addHakoRuntime(CONFIG, 'config.toml');
  assert.equal(added.changed, true);
  assert.ok(added.text.startsWith(CONFIG), 'the file is kept as it was, the block after it');
  const parsed = parse(added.text) as {
    plugins: Record<
      string,
      { containerd: { default_runtime_name: string; runtimes: Record<string, unknown> } }
    >;
  };
  const cri = parsed.plugins['io.containerd.grpc.v1.cri'];
  assert.equal(cri?.containerd.default_runtime_name, 'runc');
  assert.deepEqual(JSON.parse(JSON.stringify(cri?.containerd.runtimes['hako'])), {
    runtime_type: 'io.containerd.hako.v2',
    privileged_without_host_devices: true,
    pod_annotations: ['io.hako.*'],
  });
  assert.deepEqual(addHakoRuntime(added.text, 'config.toml'), { text: added.text, changed: false });
  assert.deepEqual(removeHakoRuntime(added.text), { text: CONFIG, changed: true });
  assert.deepEqual(removeHakoRuntime(CONFIG), { text: CONFIG, changed: false });
  // A file that did not exist gets a version line inside the block: removing it leaves it empty.
  const fresh = addHakoRuntime('', 'config.toml');
  assert.equal((parse(fresh.text) as { version: number }).version, 2);
  assert.equal(removeHakoRuntime(fresh.text).text, '');
});

test('a version 1 configuration, a hako runtime of its own and broken TOML are refused, named', () => {
  assert.throws(
    () => addHakoRuntime('[plugins.cri]\n', '/etc/c.toml'),
    /\/etc\/c\.toml is a version 1 configuration/,
  );
  const own = `${CONFIG}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako]\n  runtime_type = "x"\n`;
  assert.throws(
    () => addHakoRuntime(own, 'c.toml'),
    /already defines .*runtimes\.hako.* outside Hako's block/,
  );
  assert.throws(() => addHakoRuntime('version = [', 'c.toml'), /c\.toml is not valid TOML/);
});

test('the RuntimeClass names handler hako and carries the pod overhead', () => {
  const yaml = runtimeClassYaml({ memory: '160Mi', cpu: '250m' });
  assert.match(yaml, /^kind: RuntimeClass$/m);
  assert.match(yaml, /^handler: hako$/m);
  assert.match(yaml, /^ {4}memory: "160Mi"$/m);
});

test('the RuntimeClass and the DaemonSet in deploy/ parse as YAML, with the kinds a cluster expects', () => {
  const rc = parseYaml(runtimeClassYaml({ memory: '160Mi', cpu: '250m' })) as {
    kind: string;
    handler: string;
    overhead: { podFixed: { memory: string; cpu: string } };
  };
  assert.deepEqual(
    [rc.kind, rc.handler, rc.overhead.podFixed],
    ['RuntimeClass', 'hako', { memory: '160Mi', cpu: '250m' }],
  );
  const docs = parseAllDocuments(readFileSync(join(REPO, 'deploy', 'hako-deploy.yaml'), 'utf8')).map(
    (d) =>
      d.toJS() as { kind: string; spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } },
  );
  assert.deepEqual(
    docs.map((d) => d.kind),
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet'],
  );
  const args = docs[3]?.spec?.template?.spec?.containers?.[0]?.args?.[0] ?? '';
  assert.match(args, /hako install containerd/);
});
