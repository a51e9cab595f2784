// linux.netDevices (runtime-spec 1.3 "Network Devices", runc 1.4's way): the named host
// interface is moved into the container's network namespace at create, renamed, with its
// permanent global addresses, and up. It is not moved back at delete: the kernel destroys a
// virtual device with the namespace (a physical one returns to the host). A create that
// fails puts the interfaces it moved back on the host under their names.
// No dummy driver on this machine: veth pairs stand in (the peer stays on the host).
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { BundleConfig, makeBundle } from '../helpers/bundle';
import { rootSuite, tempDir } from '../helpers/container';
import { forceDelete, residue, state, tsrun, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();

function ip(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
const onHost = (name: string) => ip('link', 'show', name).status === 0;
/** `ip` inside the network namespace of `pid`. */
function ipIn(pid: number, ...args: string[]): string {
  const r = spawnSync('nsenter', ['-t', String(pid), '-n', 'ip', ...args], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

/** A veth pair on the host (A and its peer B), with a permanent global address on A; removed at teardown. */
function vethPair(tt: Test): { a: string; b: string } {
  const tag = randomBytes(4).toString('hex');
  const a = `tsn${tag}a`;
  const b = `tsn${tag}b`;
  const r = ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  if (r.status !== 0) throw new Error(`ip link add ${a}: ${r.out}`);
  tt.teardown(() => {
    ip('link', 'del', a);
    ip('link', 'del', b);
  });
  const addr = ip('addr', 'add', '192.0.2.77/24', 'dev', a);
  if (addr.status !== 0) throw new Error(`ip addr add: ${addr.out}`);
  return { a, b };
}

t.test('the host interface is moved in, renamed, keeps its address and is up (before linux.sysctl); gone from the host while the container lives', async (t) => {
  const { a, b } = vethPair(t);
  const id = uniqueId('netdev');
  const out = tempDir();
  t.teardown(out.remove);
  const stdout = path.join(out.dir, 'stdout');
  const bundle = makeBundle({
    args: ['sh', '-c', 'ls /sys/class/net; echo forwarding=$(cat /proc/sys/net/ipv4/conf/eth9/forwarding); cat /sys/class/net/eth9/flags'],
    mutate: (c) => {
      c.linux.netDevices = { [a]: { name: 'eth9' } };
      // Written after the move: a sysctl may name the device.
      c.linux.sysctl = { 'net.ipv4.conf.eth9.forwarding': '1' };
    },
  });
  t.teardown(() => bundle.cleanup());
  t.teardown(() => forceDelete(id, root));
  const created = tsrun(['create', '--bundle', bundle.dir, id], { root, stdoutFile: stdout });
  t.equal(created.status, 0, created.stderr);
  const pid = state(id, root).pid;
  t.notOk(onHost(a), `${a} is no longer on the host`);
  t.ok(onHost(b), 'its peer stays');
  const inside = ipIn(pid, '-o', 'addr', 'show', 'eth9');
  t.match(inside, /inet 192\.0\.2\.77\/24/, `the permanent global address came along: ${inside}`);
  t.match(ipIn(pid, '-o', 'link', 'show', 'eth9'), /<[^>]*\bUP\b[^>]*>/, 'set up');
  t.equal(tsrun(['start', id], { root }).status, 0);
  t.ok(waitFor(() => /0x\w+\n/.test(fs.readFileSync(stdout, 'utf8'))), 'the process ran');
  const seen = fs.readFileSync(stdout, 'utf8');
  t.match(seen, /^eth9$/m, 'the container sees /sys/class/net/eth9');
  t.notMatch(seen, new RegExp(`^${a}$`, 'm'), 'not the host name');
  t.match(seen, /^forwarding=1$/m, 'linux.sysctl reached the moved device');
  t.ok(waitFor(() => state(id, root).status === 'stopped'));
  const deleted = tsrun(['delete', id], { root });
  t.equal(deleted.status, 0, deleted.stderr);
  // As runc (and the spec): not moved back; the kernel destroys a virtual device with its namespace.
  t.ok(waitFor(() => !onHost(b)), 'the veth pair went with the namespace');
  t.notOk(onHost(a), `${a} did not come back`);
  t.same(residue(id, root), []);
});

/** `run` a container whose config is mutated, expecting a one-line failure. */
function refused(tt: Test, mutate: (c: BundleConfig) => void, expect: RegExp): void {
  const id = uniqueId('netdev');
  const bundle = makeBundle({ args: ['sh', '-c', 'echo the-process-ran'], mutate });
  tt.teardown(() => bundle.cleanup());
  const r = tsrun(['run', '--bundle', bundle.dir, id], { root });
  const outText = `${r.stdout}${r.stderr}`;
  tt.equal(r.status, 1, outText);
  tt.notMatch(outText, /the-process-ran/);
  tt.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  tt.match(r.stderr.trim(), expect);
  tt.same(residue(id, root), [], 'nothing left');
}

t.test('a device the host does not have', async (t) => {
  refused(t, (c) => (c.linux.netDevices = { tsnmissing0: { name: 'eth9' } }), /^tsrun: linux\.netDevices\.tsnmissing0: .*no such (network )?device/i);
});

t.test('a container without a network namespace of its own', async (t) => {
  const { a } = vethPair(t);
  refused(t, (c) => {
    c.linux.netDevices = { [a]: {} };
    c.linux.namespaces = c.linux.namespaces!.filter((ns) => ns.type !== 'network');
  }, /^tsrun: .*config\.json: \/linux\/netDevices: .*network namespace/);
  t.ok(onHost(a), 'the interface stays on the host');
});

for (const [what, bad] of [['a slash', 'a/b'], ['a name too long', 'x'.repeat(16)], ['"."', '.']] as const) {
  t.test(`an invalid name inside the container: ${what}`, async (t) => {
    const { a } = vethPair(t);
    refused(t, (c) => (c.linux.netDevices = { [a]: { name: bad } }), new RegExp(`^tsrun: .*config\\.json: /linux/netDevices/${a}/name: found`));
    t.ok(onHost(a), 'the interface stays on the host');
  });
}

t.test('an invalid host name', async (t) => {
  refused(t, (c) => (c.linux.netDevices = { 'a:b': { name: 'eth9' } }), /^tsrun: .*config\.json: \/linux\/netDevices\/a:b: found/);
});

t.test('a name the container namespace already has', async (t) => {
  const { a } = vethPair(t);
  refused(t, (c) => (c.linux.netDevices = { [a]: { name: 'lo' } }), new RegExp(`^tsrun: linux\\.netDevices\\.${a}: .*"lo".*exists`));
  t.ok(onHost(a), 'the interface stays on the host');
});

t.test('a failure after a move puts the moved interface back on the host, under its name, with its address', async (t) => {
  const { a } = vethPair(t);
  refused(t, (c) => (c.linux.netDevices = { [a]: { name: 'eth9' }, tsnmissing1: {} }), /^tsrun: linux\.netDevices\.tsnmissing1: /);
  t.ok(onHost(a), `${a} is back on the host`);
  t.match(ip('-o', 'addr', 'show', a).out, /inet 192\.0\.2\.77\/24/, 'with its address');
});

t.test('with a user namespace: the namespace it owns gets the device (host root moves it)', async (t) => {
  const { a } = vethPair(t);
  const id = uniqueId('netdev');
  const bundle = makeBundle({
    mutate: (c) => {
      c.linux.namespaces!.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.netDevices = { [a]: { name: 'eth9' } };
    },
  });
  t.teardown(() => bundle.cleanup());
  t.teardown(() => forceDelete(id, root));
  const created = tsrun(['create', '--bundle', bundle.dir, id], { root });
  t.equal(created.status, 0, created.stderr);
  t.notOk(onHost(a), `${a} is no longer on the host`);
  t.match(ipIn(state(id, root).pid, '-o', 'addr', 'show', 'eth9'), /inet 192\.0\.2\.77\/24/);
  t.equal(tsrun(['delete', '--force', id], { root }).status, 0);
  t.same(residue(id, root), []);
});

t.test('a "%d" template: the kernel picks a free name in the container', async (t) => {
  const { a } = vethPair(t);
  const id = uniqueId('netdev');
  const bundle = makeBundle({ mutate: (c) => (c.linux.netDevices = { [a]: { name: 'lo%d' } }) });
  t.teardown(() => bundle.cleanup());
  t.teardown(() => forceDelete(id, root));
  const created = tsrun(['create', '--bundle', bundle.dir, id], { root });
  t.equal(created.status, 0, created.stderr);
  const inside = ipIn(state(id, root).pid, '-o', 'addr', 'show');
  t.match(inside, /^\d+: lo0\s+inet 192\.0\.2\.77\/24/m, `named lo0, with its address: ${inside}`);
  t.notOk(onHost(a));
});

t.test('a joined network namespace keeps the device after delete (the spec: never moved back)', async (t) => {
  const { a } = vethPair(t);
  const ns = `tsrun-${randomBytes(4).toString('hex')}`;
  t.equal(ip('netns', 'add', ns).status, 0);
  t.teardown(() => ip('netns', 'del', ns));
  const id = uniqueId('netdev');
  const bundle = makeBundle({
    mutate: (c) => {
      c.linux.namespaces = c.linux.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/var/run/netns/${ns}` } : n));
      c.linux.netDevices = { [a]: { name: 'eth9' } };
    },
  });
  t.teardown(() => bundle.cleanup());
  t.teardown(() => forceDelete(id, root));
  const created = tsrun(['create', '--bundle', bundle.dir, id], { root });
  t.equal(created.status, 0, created.stderr);
  t.equal(tsrun(['delete', '--force', id], { root }).status, 0);
  t.match(ip('-n', ns, '-o', 'addr', 'show', 'eth9').out, /inet 192\.0\.2\.77\/24/, 'still in the joined namespace, as eth9');
  t.notOk(onHost(a));
});
