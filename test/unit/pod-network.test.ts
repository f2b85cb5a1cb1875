// A pod's network from `ip -j` output (captured from a CNI-like namespace):
// what is carried into the VM, what is left to the guest's kernel, and
// what is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podNetwork } from '../../src/network/pod-network.js';

const LINKS = [
  { ifindex: 1, ifname: 'lo', link_type: 'loopback', address: '00:00:00:00:00:00', mtu: 65536 },
  {
    ifindex: 2,
    ifname: 'eth0',
    link_type: 'ether',
    address: '02:42:0A:58:00:02',
    mtu: 1450,
    linkinfo: { info_kind: 'veth' },
  },
  {
    ifindex: 3,
    ifname: 'tap0_hako',
    link_type: 'ether',
    address: '02:00:00:00:00:09',
    mtu: 1450,
    linkinfo: { info_kind: 'tun' },
  },
];
const ADDRS = [
  {
    ifname: 'lo',
    link_type: 'loopback',
    addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }],
  },
  {
    ifname: 'eth0',
    link_type: 'ether',
    address: '02:42:0A:58:00:02',
    mtu: 1450,
    addr_info: [
      { family: 'inet', local: '10.88.0.2', prefixlen: 16, scope: 'global' },
      { family: 'inet6', local: 'fd00::2', prefixlen: 64, scope: 'global' },
      { family: 'inet6', local: 'fe80::42:aff:fe58:2', prefixlen: 64, scope: 'link' },
    ],
  },
  { ifname: 'tap0_hako', link_type: 'ether', address: '02:00:00:00:00:09', mtu: 1450, addr_info: [] },
];
const ROUTES4 = [
  { dst: 'default', gateway: '10.88.0.1', dev: 'eth0', flags: [] },
  { dst: '10.88.0.0/16', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.88.0.2' },
  { dst: '192.168.5.0/24', dev: 'eth0', scope: 'link' },
];
const ROUTES6 = [
  { dst: 'fd00::/64', dev: 'eth0', protocol: 'kernel', metric: 256 },
  { dst: 'fe80::/64', dev: 'eth0', protocol: 'boot', metric: 256 },
  { dst: 'default', gateway: 'fd00::1', dev: 'eth0', metric: 1024 },
];
const NEIGH = [{ dst: '10.88.0.1', dev: 'eth0', lladdr: '02:42:0A:58:00:01', state: ['PERMANENT'] }];

test("a pod's network: Ethernet interfaces with MAC, MTU and global addresses; routes the kernel does not make; permanent neighbours", () => {
  assert.deepEqual(podNetwork(LINKS, ADDRS, ROUTES4, ROUTES6, NEIGH, '/ns'), {
    interfaces: [
      {
        name: 'eth0',
        mac: '02:42:0a:58:00:02',
        mtu: 1450,
        kind: 'veth',
        addresses: [
          { address: '10.88.0.2', prefixLen: 16 },
          { address: 'fd00::2', prefixLen: 64 },
        ],
      },
    ],
    routes: [
      { gateway: '10.88.0.1', device: 'eth0', scope: 0, ipv6: false },
      { destination: { address: '192.168.5.0', prefixLen: 24 }, device: 'eth0', scope: 253, ipv6: false },
      { gateway: 'fd00::1', device: 'eth0', scope: 0, ipv6: true },
    ],
    neighbors: [{ address: '10.88.0.1', mac: '02:42:0a:58:00:01', device: 'eth0' }],
  });
});

test('an interface the VM cannot carry is refused, naming it and its kind', () => {
  const tun = [{ ifname: 'tun0', link_type: 'none', addr_info: [] }];
  assert.throws(
    () => podNetwork([{ ifname: 'tun0', linkinfo: { info_kind: 'tun' } }], tun, [], [], [], '/ns'),
    /network namespace \/ns: interface tun0 \(tun\) cannot be carried into the VM/,
  );
  const vx = [{ ifname: 'vx0', link_type: 'ether', address: '02:00:00:00:00:01', addr_info: [] }];
  assert.throws(
    () => podNetwork([{ ifname: 'vx0', linkinfo: { info_kind: 'vxlan' } }], vx, [], [], [], '/ns'),
    /interface vx0 \(vxlan\) cannot be carried/,
  );
  assert.throws(() => podNetwork({}, [], [], [], [], '/ns'), /ip -j link: not a JSON list/);
});
