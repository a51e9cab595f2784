// enterNamespaces against FakeLibc: which unshare/setns calls, in which order, with which
// flags. Namespace paths are real files (/proc/self/ns/*): opening them needs no root.
import t from 'tap';
import * as fs from 'node:fs';
import { CLONE, useLibc } from '../../bindings';
import { FakeLibc } from '../../bindings/fake';
import { TsrunError } from '../../src/errors';
import { enterCgroup, enterNamespaces, NAMESPACE_FLAGS } from '../../src/init/namespaces';
import type { LinuxNamespace } from '../../src/spec/types';

/** FakeLibc that also notes which file each setns fd refers to, while it is open. */
class NsFake extends FakeLibc {
  readonly joined: { file: string; nstype: number }[] = [];
  override setns(fd: number, nstype: number): void {
    this.joined.push({ file: fs.readlinkSync(`/proc/self/fd/${fd}`), nstype });
    super.setns(fd, nstype);
  }
}

function setup(t: { teardown(fn: () => void): void }): { fake: NsFake; debug: string[] } {
  const fake = new NsFake();
  useLibc(fake);
  t.teardown(() => useLibc(undefined));
  return { fake, debug: [] };
}

const nsLink = (name: string): string => fs.readlinkSync(`/proc/self/ns/${name}`);
const openFds = (): string[] => fs.readdirSync('/proc/self/fd').sort();

t.test('new namespaces: one unshare; the cgroups are joined later, then the cgroup namespace', async (t) => {
  const { fake, debug } = setup(t);
  const namespaces: LinuxNamespace[] = [
    { type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' },
  ];
  let joined = 0;
  enterNamespaces(namespaces, (m) => debug.push(m), () => joined++);
  t.same(fake.calls, [{ call: 'unshare', args: [CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS] }]);
  t.equal(joined, 0, 'enterNamespaces leaves the cgroups (and the cgroup namespace) for the end of set-up');
  t.notOk(fake.argsOf('unshare')[0][0] & CLONE.NEWPID, 'pid is the parent\'s job');
  let callsAtJoin = -1;
  enterCgroup(namespaces, (m) => debug.push(m), () => {
    callsAtJoin = fake.calls.length;
  });
  t.same(fake.calls.slice(1), [{ call: 'unshare', args: [CLONE.NEWCGROUP] }]);
  t.equal(callsAtJoin, 1, 'cgroups joined before the cgroup namespace is made');
  t.same(debug, [`unshare 0x${(CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS).toString(16)}`, 'unshare cgroup namespace']);
});

t.test('enterCgroup without a cgroup namespace only joins; with one joined by path, nothing', async (t) => {
  const { fake } = setup(t);
  let joined = 0;
  enterCgroup([{ type: 'mount' }], () => {}, () => joined++);
  t.equal(joined, 1);
  t.same(fake.calls, []);
  enterCgroup([{ type: 'cgroup', path: '/proc/self/ns/cgroup' }], () => {}, () => joined++);
  t.equal(joined, 1, 'already joined by enterNamespaces');
});

t.test('a cgroup namespace joined by path: the cgroups are joined before any setns', async (t) => {
  const { fake } = setup(t);
  let callsAtJoin = -1;
  enterNamespaces([{ type: 'cgroup', path: '/proc/self/ns/cgroup' }], () => {}, () => {
    callsAtJoin = fake.calls.length;
  });
  t.equal(callsAtJoin, 0);
  t.same(fake.names(), ['setns']);
});

t.test('each type maps to its own flag', async (t) => {
  for (const type of ['network', 'ipc', 'uts', 'mount', 'cgroup'] as const) {
    const { fake } = setup(t);
    enterNamespaces([{ type }], () => {});
    enterCgroup([{ type }], () => {}, () => {});
    t.same(fake.calls, [{ call: 'unshare', args: [NAMESPACE_FLAGS[type]] }], type);
  }
  t.equal(NAMESPACE_FLAGS.network, CLONE.NEWNET);
  t.equal(NAMESPACE_FLAGS.mount, CLONE.NEWNS);
  t.equal(NAMESPACE_FLAGS.uts, CLONE.NEWUTS);
  t.equal(NAMESPACE_FLAGS.ipc, CLONE.NEWIPC);
  t.equal(NAMESPACE_FLAGS.cgroup, CLONE.NEWCGROUP);
  t.equal(NAMESPACE_FLAGS.user, CLONE.NEWUSER);
  t.equal(NAMESPACE_FLAGS.pid, CLONE.NEWPID);
  t.equal(NAMESPACE_FLAGS.time, CLONE.NEWTIME);
});

t.test('no namespaces, or only ones the parent handles: no call at all', async (t) => {
  const { fake } = setup(t);
  enterNamespaces([], () => {});
  enterNamespaces([{ type: 'pid' }, { type: 'time' }, { type: 'user' }], () => {});
  t.same(fake.calls, []);
});

t.test('a namespace with a path is opened and joined with its nstype', async (t) => {
  const { fake, debug } = setup(t);
  const before = openFds();
  enterNamespaces([{ type: 'network', path: '/proc/self/ns/net' }, { type: 'uts' }], (m) => debug.push(m));
  t.same(fake.names(), ['setns', 'unshare']);
  t.same(fake.joined, [{ file: nsLink('net'), nstype: CLONE.NEWNET }], 'setns on an fd of the given file');
  t.same(fake.argsOf('unshare'), [[CLONE.NEWUTS]], 'the joined namespace is not unshared');
  t.same(openFds(), before, 'the namespace fd is closed afterwards');
  t.same(debug, ['join network namespace /proc/self/ns/net', `unshare 0x${CLONE.NEWUTS.toString(16)}`]);
});

t.test('mount is joined last, right after unshare(CLONE_FS)', async (t) => {
  const { fake } = setup(t);
  const before = openFds();
  // Listed mount first on purpose: the order of config.json must not matter.
  enterNamespaces([
    { type: 'mount', path: '/proc/self/ns/mnt' },
    { type: 'network', path: '/proc/self/ns/net' },
    { type: 'cgroup', path: '/proc/self/ns/cgroup' },
    { type: 'uts', path: '/proc/self/ns/uts' },
    { type: 'ipc', path: '/proc/self/ns/ipc' },
    { type: 'pid', path: '/proc/self/ns/pid' },
  ], () => {});
  t.same(fake.names(), ['setns', 'setns', 'setns', 'setns', 'unshare', 'setns']);
  t.same(fake.joined, [
    { file: nsLink('ipc'), nstype: CLONE.NEWIPC },
    { file: nsLink('uts'), nstype: CLONE.NEWUTS },
    { file: nsLink('net'), nstype: CLONE.NEWNET },
    { file: nsLink('cgroup'), nstype: CLONE.NEWCGROUP },
    { file: nsLink('mnt'), nstype: CLONE.NEWNS },
  ]);
  t.same(fake.calls[4], { call: 'unshare', args: [CLONE.FS] });
  t.same(openFds(), before, 'every namespace fd is closed');
});

t.test('joins come before new namespaces', async (t) => {
  const { fake } = setup(t);
  enterNamespaces([{ type: 'mount' }, { type: 'ipc', path: '/proc/self/ns/ipc' }, { type: 'network' }], () => {});
  t.same(fake.calls, [
    { call: 'setns', args: [fake.argsOf('setns')[0][0], CLONE.NEWIPC] },
    { call: 'unshare', args: [CLONE.NEWNS | CLONE.NEWNET] },
  ]);
  t.notOk(fake.argsOf('unshare').some(([f]) => f === CLONE.FS), 'no CLONE_FS when mount is not joined');
});

t.test('a failing setns names the namespace and the path', async (t) => {
  const { fake } = setup(t);
  fake.failNext('setns', 'EINVAL', (_fd, nstype) => nstype === CLONE.NEWNS);
  const err = t.throws(() =>
    enterNamespaces([{ type: 'mount', path: '/proc/self/ns/mnt' }, { type: 'uts', path: '/proc/self/ns/uts' }, { type: 'ipc' }], () => {}),
  ) as Error;
  t.type(err, TsrunError);
  t.match(err.message, /^joining mount namespace \/proc\/self\/ns\/mnt: setns fd \d+: invalid argument \(EINVAL\)$/);
  t.same(fake.names(), ['setns', 'unshare', 'setns'], 'stops at the failure: nothing is unshared after it');
});

t.test('a failing setns of the first join: error names it', async (t) => {
  const { fake } = setup(t);
  fake.failNext('setns', 'EPERM');
  t.throws(() => enterNamespaces([{ type: 'network', path: '/proc/self/ns/net' }], () => {}), {
    name: 'TsrunError',
    message: /^joining network namespace \/proc\/self\/ns\/net: setns fd \d+: operation not permitted \(EPERM\)$/,
  });
});

t.test('a failing unshare is passed on as the SysError', async (t) => {
  const { fake } = setup(t);
  fake.failNext('unshare', 'EPERM');
  t.throws(() => enterNamespaces([{ type: 'uts' }], () => {}), {
    name: 'SysError',
    code: 'EPERM',
    message: `unshare 0x${CLONE.NEWUTS.toString(16)}: operation not permitted (EPERM)`,
  });
});

t.test('a missing namespace path: error names type and path, nothing is called', async (t) => {
  const { fake } = setup(t);
  t.throws(() => enterNamespaces([{ type: 'network', path: '/nonexistent/ns/net' }, { type: 'uts' }], () => {}), {
    name: 'TsrunError',
    message: 'network namespace path /nonexistent/ns/net: no such file or directory',
  });
  t.same(fake.calls, []);
});

// All namespace files are opened before the first setns: when one setns (or a later open)
// fails, the fds of the other namespaces must be closed too.
t.test('no fd is left open after a failure', async (t) => {
  {
    const { fake } = setup(t);
    const before = openFds();
    fake.failNext('setns', 'EINVAL');
    t.throws(() => enterNamespaces([{ type: 'ipc', path: '/proc/self/ns/ipc' }, { type: 'uts', path: '/proc/self/ns/uts' }], () => {}), TsrunError);
    t.same(openFds(), before, 'after a failing setns');
  }
  {
    setup(t);
    const before = openFds();
    t.throws(() => enterNamespaces([{ type: 'ipc', path: '/proc/self/ns/ipc' }, { type: 'uts', path: '/nonexistent' }], () => {}), TsrunError);
    t.same(openFds(), before, 'after a failing open');
  }
});
