// Pod annotations that size or tune a sandbox, refused unless enabled; and
// which sandbox a container joins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAnnotations } from '../../src/config/annotations.js';
import { ConfigSchema, fromRaw } from '../../src/config/schema.js';
import { groupOf } from '../../src/shim/grouping.js';

const P = 'io.hako.config.hypervisor.';
const config = (enabled: string[] = []) =>
  fromRaw(ConfigSchema.parse({ hypervisor: { qemu: { enable_annotations: enabled } } }));

test('an annotation not enabled in the configuration is refused, naming it and the key to enable it', () => {
  assert.throws(
    () => withAnnotations(config(), { [`${P}default_vcpus`]: '4' }),
    /annotation io\.hako\.config\.hypervisor\.default_vcpus: not enabled: the configuration must list "default_vcpus" in \[hypervisor\.qemu\] enable_annotations/,
  );
  assert.throws(() => withAnnotations(config(['default_vcpus']), { [`${P}path`]: '/bin/evil' }), /unknown/);
});

test("enabled annotations apply, with the configuration key's own checks; other annotations are left alone", () => {
  const c = withAnnotations(config(['default_vcpus', 'default_memory', 'kernel_params']), {
    [`${P}default_vcpus`]: '4',
    [`${P}default_memory`]: '1024',
    [`${P}kernel_params`]: 'quiet loglevel=3',
    'io.kubernetes.cri.sandbox-id': 'abc',
  });
  assert.equal(c.hypervisor.vcpus, 4);
  assert.equal(c.hypervisor.memoryMiB, 1024);
  assert.equal(c.hypervisor.kernelParams, 'quiet loglevel=3');
  const on = config(['default_vcpus', 'kernel_params']);
  assert.throws(() => withAnnotations(on, { [`${P}default_vcpus`]: '65' }), /default_vcpus: "65"/);
  assert.throws(() => withAnnotations(on, { [`${P}default_vcpus`]: 'two' }), /default_vcpus/);
  assert.throws(() => withAnnotations(on, { [`${P}kernel_params`]: 'init=/bin/sh;reboot' }), /kernel_params/);
  assert.throws(() => withAnnotations(on, { [`${P}kernel_params`]: 'a="b c"' }), /kernel_params/);
  assert.equal(withAnnotations(on, { 'other.key': 'x' }), on);
});

test("a CRI container is in its pod's sandbox whatever io.hako.sandbox-id says; other clients may group by it", () => {
  assert.equal(
    groupOf('c1', { 'io.kubernetes.cri.sandbox-id': 'pod1', 'io.hako.sandbox-id': 'pod2' }),
    'pod1',
  );
  assert.equal(
    groupOf('pod1', { 'io.kubernetes.cri.container-type': 'sandbox', 'io.hako.sandbox-id': 'pod2' }),
    'pod1',
  );
  assert.equal(groupOf('c2', { 'io.hako.sandbox-id': 'group' }), 'group');
  assert.equal(groupOf('c3', undefined), 'c3');
});
