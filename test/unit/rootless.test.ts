// Rootless (issue 7) without running anything: how --rootless and the default state root
// are decided (runc's rules), which linux.resources need a cgroup, and `spec --rootless`.
import t from 'tap';
import { DEFAULT_ROOT, defaultRoot } from '../../src/container/paths';
import { runningInUserNamespace } from '../../src/procfs';
import { resolveGlobals, resolveRootless } from '../../src/cli/context';
import { limitsSet } from '../../src/container/cgroup';
import { defaultSpec } from '../../src/spec/default-config';

/** Run `fn` with process.geteuid/getegid answering `uid`/`gid`. */
function as<T>(uid: number, gid: number, fn: () => T): T {
  const { geteuid, getegid } = process;
  process.geteuid = () => uid;
  process.getegid = () => gid;
  try {
    return fn();
  } finally {
    process.geteuid = geteuid;
    process.getegid = getegid;
  }
}

t.test('runningInUserNamespace: anything but the full identity map', async (t) => {
  t.equal(runningInUserNamespace('         0          0 4294967295\n'), false, 'initial namespace');
  t.equal(runningInUserNamespace('0 1000 1\n'), true, 'rootless: own id');
  t.equal(runningInUserNamespace('0 1000 1\n1 100000 65536\n'), true, 'two ranges');
  t.equal(runningInUserNamespace('0 0 65536\n'), true, 'partial identity map');
});

t.test('default root: $XDG_RUNTIME_DIR/tsrun for a user, /run/tsrun for real root', async (t) => {
  const inUserns = runningInUserNamespace();
  as(1000, 1000, () => {
    t.equal(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/tsrun');
    t.equal(defaultRoot({ XDG_RUNTIME_DIR: '' }), DEFAULT_ROOT, 'empty: as unset (runc)');
    t.equal(defaultRoot({}), DEFAULT_ROOT, 'unset: /run/tsrun, as runc uses /run/runc (create then says to set it)');
  });
  t.test('real root ignores XDG_RUNTIME_DIR (runc)', { skip: inUserns && 'this test runs in a user namespace: its uid 0 is not real root' }, async (t) => {
    as(0, 0, () => {
      t.equal(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/0' }), DEFAULT_ROOT);
    });
  });
});

t.test('--rootless true|false|auto', async (t) => {
  t.equal(resolveRootless('true'), true);
  t.equal(resolveRootless('false'), false);
  as(1000, 1000, () => {
    t.equal(resolveRootless('auto'), true, 'auto: euid != 0');
    t.equal(resolveRootless(undefined), true, 'default auto');
    t.equal(resolveRootless('false'), false, '--rootless=false as a user: cgroup errors stay fatal');
  });
  if (!runningInUserNamespace()) as(0, 0, () => t.equal(resolveRootless('auto'), false, 'auto: real root'));
  t.throws(() => resolveRootless('yes'), { name: 'TsrunError', message: '--rootless: expected true, false or auto, found "yes"' });
  t.throws(() => resolveGlobals({ 'systemd-cgroup': true, rootless: 'auto' }), /--systemd-cgroup: the systemd cgroup driver is not supported/);
  t.same(resolveGlobals({ 'systemd-cgroup': false, rootless: 'true' }), { rootless: true });
});

t.test('limitsSet: what in linux.resources needs a cgroup', async (t) => {
  t.same(limitsSet({}), []);
  t.same(limitsSet({ devices: [{ allow: false, access: 'rwm' }] }), [], 'device rules do not (a user namespace has no mknod)');
  t.same(limitsSet({ memory: {} }), [], 'an empty section');
  t.same(limitsSet({ hugepageLimits: [] }), [], 'an empty list');
  t.same(limitsSet({ memory: { limit: 1 << 26 } }), ['memory']);
  t.same(limitsSet({ pids: { limit: 10 }, cpu: { shares: 512 }, devices: [] }), ['pids', 'cpu']);
});

t.test('spec --rootless is runc\'s ToRootless', async (t) => {
  const spec = as(1234, 5678, () => defaultSpec(true));
  const linux = spec.linux!;
  t.same(linux.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }], 'euid');
  t.same(linux.gidMappings, [{ containerID: 0, hostID: 5678, size: 1 }], 'egid');
  const types = linux.namespaces!.map((ns) => ns.type);
  t.equal(types.filter((x) => x === 'user').length, 1, 'one user namespace');
  t.notOk(types.includes('network'), 'no network namespace');
  t.equal(linux.resources, undefined, 'no linux.resources');
  t.notOk(spec.mounts!.some((m) => (m.options ?? []).some((o) => o.startsWith('uid=') || o.startsWith('gid='))), 'no uid=/gid= options');
  t.same(spec.mounts!.find((m) => m.destination === '/sys'), { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  t.notOk(spec.mounts!.some((m) => m.type === 'sysfs' || m.type === 'cgroup'), 'no sysfs or cgroup mount');
  const root = defaultSpec(false);
  t.ok(root.linux!.resources, 'the root config keeps its device rules');
});
