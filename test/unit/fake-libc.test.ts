// bindings/fake: records calls, fails on demand with the SysError libc.ts would throw.
import t from 'tap';
import { constants } from 'node:os';
import { AT_EMPTY_PATH, AT_FDCWD, CLONE, libc, Libc, MOUNT_ATTR_IDMAP, MOVE_MOUNT, MS, OPEN_TREE_CLONE, SysError, useLibc } from '../../bindings';
import { CallName, ExecveCalled, FakeLibc } from '../../bindings/fake';

const E = constants.errno;

t.test('records every call with its arguments, in order', async (t) => {
  const fake = new FakeLibc();
  fake.unshare(CLONE.NEWNS);
  fake.mount('proc', '/proc', 'proc', MS.NOSUID, '');
  fake.sethostname('box');
  fake.setgroups([1, 2]);
  fake.mknod('/dev/null', 0o666, 259n);
  fake.resetSignals();
  t.same(fake.calls, [
    { call: 'unshare', args: [CLONE.NEWNS] },
    { call: 'mount', args: ['proc', '/proc', 'proc', MS.NOSUID, ''] },
    { call: 'sethostname', args: ['box'] },
    { call: 'setgroups', args: [[1, 2]] },
    { call: 'mknod', args: ['/dev/null', 0o666, 259n] },
    { call: 'resetSignals', args: [] },
  ]);
  t.same(fake.names(), ['unshare', 'mount', 'sethostname', 'setgroups', 'mknod', 'resetSignals']);
  t.same(fake.argsOf('mount'), [['proc', '/proc', 'proc', MS.NOSUID, '']]);
  t.same(fake.argsOf('kill'), []);
});

t.test('fd-returning calls give distinct fake fds, others plain values', async (t) => {
  const fake = new FakeLibc();
  const a = fake.openat(AT_FDCWD, '/x', 0, 0);
  const b = fake.openat2(AT_FDCWD, '/y', 0, 0, 0);
  const c = fake.pidfdOpen(1);
  t.ok(a >= 1000 && b >= 1000 && c >= 1000, 'far from real fds');
  t.equal(new Set([a, b, c]).size, 3);
  t.equal(fake.fcntl(a, 1, 0), 0);
  t.equal(fake.prctl(4, 0), 0);
});

t.test('failNext fails the next call of that kind only, and records it', async (t) => {
  const fake = new FakeLibc();
  fake.failNext('mount', 'EPERM');
  fake.unshare(0); // another call is not affected
  const err = t.throws(() => fake.mount('tmpfs', '/dev', 'tmpfs', MS.NOSUID | MS.NOEXEC, 'mode=755')) as SysError;
  t.type(err, SysError);
  t.equal(err.call, 'mount');
  t.equal(err.arg, 'tmpfs tmpfs on /dev (flags 0xa)');
  t.equal(err.errno, E.EPERM);
  t.equal(err.code, 'EPERM');
  t.equal(err.message, 'mount tmpfs tmpfs on /dev (flags 0xa): operation not permitted (EPERM)');
  t.doesNotThrow(() => fake.mount('tmpfs', '/dev', 'tmpfs', 0, ''), 'the next mount works again');
  t.same(fake.names(), ['unshare', 'mount', 'mount'], 'the failed call is recorded too');
});

t.test('errno as a number; a predicate picks which call fails', async (t) => {
  const fake = new FakeLibc();
  fake.failNext('setns', E.EINVAL, (_fd, nstype) => nstype === CLONE.NEWNS);
  fake.setns(3, CLONE.NEWNET);
  t.throws(() => fake.setns(4, CLONE.NEWNS), { name: 'SysError', code: 'EINVAL', message: 'setns fd 4: invalid argument (EINVAL)' });
  fake.setns(5, CLONE.NEWNS);
  t.equal(fake.calls.length, 3);
});

t.test('failAlways until clearFailures', async (t) => {
  const fake = new FakeLibc();
  fake.failAlways('chdir', 'ENOENT', (p) => p.startsWith('/missing'));
  t.throws(() => fake.chdir('/missing/a'), { message: 'chdir /missing/a: no such file or directory (ENOENT)' });
  t.throws(() => fake.chdir('/missing/b'), { code: 'ENOENT' });
  fake.chdir('/present');
  fake.clearFailures();
  fake.chdir('/missing/c');
  t.same(fake.argsOf('chdir'), [['/missing/a'], ['/missing/b'], ['/present'], ['/missing/c']]);
});

t.test('glibc wording where libuv differs', async (t) => {
  const fake = new FakeLibc();
  fake.failNext('umount2', 'EBUSY').failNext('mkdirat', 'EEXIST');
  t.throws(() => fake.umount2('/old', 2), { message: 'umount2 /old: device or resource busy (EBUSY)' });
  t.throws(() => fake.mkdirat(AT_FDCWD, 'dir', 0o755), { message: 'mkdirat dir: file exists (EEXIST)' });
});

t.test('an unknown errno name is a mistake in the test', async (t) => {
  t.throws(() => new FakeLibc().failNext('mount', 'EWHATEVER'), /unknown errno name EWHATEVER/);
});

t.test('execve throws ExecveCalled (it cannot return)', async (t) => {
  const fake = new FakeLibc();
  const err = t.throws(() => fake.execve('/bin/sh', ['sh', '-c', 'true'], ['A=1'])) as ExecveCalled;
  t.type(err, ExecveCalled);
  t.equal(err.path, '/bin/sh');
  t.same(err.argv, ['sh', '-c', 'true']);
  t.same(err.envp, ['A=1']);
  t.notOk(err instanceof SysError);
  t.same(fake.calls, [{ call: 'execve', args: ['/bin/sh', ['sh', '-c', 'true'], ['A=1']] }]);
  fake.failNext('execve', 'ENOENT');
  t.throws(() => fake.execve('/nope', ['nope'], []), { name: 'SysError', message: 'exec /nope: no such file or directory (ENOENT)' });
});

t.test('useLibc installs the fake behind libc()', async (t) => {
  const fake = new FakeLibc();
  useLibc(fake);
  t.teardown(() => useLibc(undefined));
  t.equal(libc(), fake);
  libc().kill(1, 0);
  t.same(fake.calls, [{ call: 'kill', args: [1, 0] }]);
});

// The fake must throw what the real one throws: compare on calls that fail harmlessly
// (this loads ffi-rs). The errno is the one the real call gave (EPERM or not depends on
// privileges), the rest must be equal.
t.test('the same SysError as the real libc', async (t) => {
  useLibc(undefined);
  const real = libc();
  const fake = new FakeLibc();
  const cases: [CallName, (l: Libc) => unknown][] = [
    ['chdir', (l) => l.chdir('/nonexistent/tsrun-unit')],
    ['chroot', (l) => l.chroot('/nonexistent/tsrun-unit')],
    ['fchdir', (l) => l.fchdir(-1)],
    ['setns', (l) => l.setns(-1, CLONE.NEWNET)],
    ['kill', (l) => l.kill(0x3fffffff, 0)],
    ['mkdirat', (l) => l.mkdirat(AT_FDCWD, '/', 0o755)],
    ['mount', (l) => l.mount('none', '/nonexistent/tsrun-unit', 'tmpfs', MS.NOSUID, 'size=1k')],
    ['openat2', (l) => l.openat2(AT_FDCWD, '/nonexistent/tsrun-unit', 0, 0, 0)],
    ['pidfdOpen', (l) => l.pidfdOpen(0x3fffffff)],
    ['openTree', (l) => l.openTree(AT_FDCWD, '/nonexistent/tsrun-unit', OPEN_TREE_CLONE)],
    ['mountSetattr', (l) => l.mountSetattr(-1, '', AT_EMPTY_PATH, { attrSet: MOUNT_ATTR_IDMAP, usernsFd: -1 })],
    ['moveMount', (l) => l.moveMount(-1, '', -1, '', MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH)],
  ];
  for (const [name, run] of cases) {
    const realErr = t.throws(() => run(real), SysError, `real ${name} fails`) as SysError;
    if (!(realErr instanceof SysError)) continue;
    fake.failNext(name, realErr.errno);
    const fakeErr = t.throws(() => run(fake), SysError, `fake ${name} fails`) as SysError;
    t.same(
      { call: fakeErr.call, arg: fakeErr.arg, errno: fakeErr.errno, code: fakeErr.code, message: fakeErr.message },
      { call: realErr.call, arg: realErr.arg, errno: realErr.errno, code: realErr.code, message: realErr.message },
      `${name}: ${realErr.message}`,
    );
  }
});
