// What a process inside a tsrun container sees: its pid, names, mounts and their options,
// masked and read-only paths, user, umask, environment, working directory, devices, open
// fds, namespaces (new and joined), rlimits and no_new_privs. Each test runs a real
// container with `tsrun run` and checks what the container printed.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle } from '../helpers/bundle';
import { readOr, runIn, RunInOptions, RunInResult, stopTapSpawnHooks, tempDir, tsrunAsync } from '../helpers/container';
import { forceDelete, freshRoot, residue, state, tsrun, uniqueId } from '../helpers/tsrun';

stopTapSpawnHooks(); // run tsrun as engines do, without tap's loader
const root = freshRoot();
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

type T = tap.Test;

/** Run a container to completion; expects status 0 and no residue; returns its stdout. */
function view(t: T, opts: Omit<RunInOptions, 'root'>, expectStatus = 0): string {
  const r: RunInResult = runIn({ root, ...opts });
  t.equal(r.status, expectStatus, `run ${r.id}: status ${r.status}${r.signal ? ` (${r.signal})` : ''}; stderr: ${r.stderr.trim()}`);
  t.same(r.residue, [], 'nothing left after the run');
  return r.stdout;
}

const sh = (script: string): string[] => ['sh', '-c', script];

interface MountLine {
  mountPoint: string;
  root: string;
  options: string[];
  optional: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

function parseMountinfo(text: string): MountLine[] {
  const out: MountLine[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!after) continue;
    const f = before.split(' ');
    const [fstype, source, superOptions] = after.split(' ');
    out.push({
      root: f[3],
      mountPoint: f[4],
      options: f[5].split(','),
      optional: f.slice(6),
      fstype,
      source,
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return out;
}

/** The last mount at a mount point (the visible one). */
function mountAt(mounts: MountLine[], mp: string): MountLine | undefined {
  return mounts.filter((m) => m.mountPoint === mp).pop();
}

/** Sections of output separated by lines "== name". */
function sections(out: string): Record<string, string> {
  const res: Record<string, string> = {};
  let name = '';
  for (const line of out.split('\n')) {
    const m = /^== (.+)$/.exec(line);
    if (m) {
      name = m[1];
      res[name] = '';
    } else if (name) {
      res[name] += `${line}\n`;
    }
  }
  for (const k of Object.keys(res)) res[k] = res[k].replace(/\n+$/, '');
  return res;
}

t.test('pid 1, hostname and domainname from the config', async (t) => {
  const hostBefore = os.hostname();
  const out = view(t, {
    args: sh('echo $$; hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname'),
    mutate: (c) => {
      c.hostname = 'view-host';
      c.domainname = 'view.example';
    },
  });
  t.same(out.trim().split('\n'), ['1', 'view-host', 'view-host', 'view.example']);
  t.equal(os.hostname(), hostBefore, "the host's hostname is unchanged");
});

t.test('config mounts appear in mountinfo with their options, and act on them', async (t) => {
  const ro = tempDir('tsrun-view-ro-');
  const nx = tempDir('tsrun-view-nx-');
  t.teardown(() => {
    ro.remove();
    nx.remove();
  });
  fs.writeFileSync(path.join(ro.dir, 'hello'), 'from-host\n');
  fs.writeFileSync(path.join(nx.dir, 'run.sh'), '#!/bin/sh\necho script-ran\n', { mode: 0o755 });
  const out = view(t, {
    copyRootfs: true,
    args: sh(
      [
        'echo "== mountinfo"; cat /proc/self/mountinfo',
        'echo "== ro-read"; cat /hostro/hello',
        'echo "== ro-write"; touch /hostro/new 2>&1; echo "status=$?"',
        'echo "== nx-exec"; /hostnx/run.sh 2>&1; echo "status=$?"',
        'echo "== nx-write"; echo data > /hostnx/written && echo "status=$?"',
        'echo "== scratch"; echo data > /scratch/f && stat -c %a /scratch',
      ].join('; '),
    ),
    mutate: (c) => {
      c.mounts.push(
        { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=1m', 'mode=700'] },
        { destination: '/hostro', type: 'bind', source: ro.dir, options: ['rbind', 'ro'] },
        { destination: '/hostnx', type: 'none', source: nx.dir, options: ['bind', 'nosuid', 'nodev', 'noexec'] },
      );
    },
  });
  const s = sections(out);
  const mounts = parseMountinfo(s.mountinfo ?? '');

  const scratch = mountAt(mounts, '/scratch');
  t.ok(scratch, 'tmpfs at /scratch');
  if (scratch) {
    t.equal(scratch.fstype, 'tmpfs');
    for (const o of ['rw', 'nosuid', 'nodev', 'noexec']) t.ok(scratch.options.includes(o), `/scratch ${o} (${scratch.options})`);
    t.ok(scratch.superOptions.includes('size=1024k'), `/scratch size=1m (${scratch.superOptions})`);
    t.ok(scratch.superOptions.includes('mode=700'), `/scratch mode=700 (${scratch.superOptions})`);
  }
  t.equal(s.scratch, '700', 'the tmpfs is writable, mode 700');

  const hostro = mountAt(mounts, '/hostro');
  t.ok(hostro, 'bind mount at /hostro');
  if (hostro) {
    t.equal(hostro.options[0], 'ro', `/hostro is read-only (${hostro.options})`);
    t.equal(hostro.root, ro.dir, 'bind of the host dir');
  }
  t.equal(s['ro-read'], 'from-host', 'the host file is visible');
  t.match(s['ro-write'], /Read-only file system/);
  t.match(s['ro-write'], /status=1/);
  t.same(fs.readdirSync(ro.dir), ['hello'], 'nothing written to the host dir');

  const hostnx = mountAt(mounts, '/hostnx');
  t.ok(hostnx, 'bind mount at /hostnx');
  if (hostnx) {
    for (const o of ['rw', 'nosuid', 'nodev', 'noexec']) t.ok(hostnx.options.includes(o), `/hostnx ${o} (${hostnx.options})`);
  }
  t.notMatch(s['nx-exec'], /script-ran/, 'noexec: the script did not run');
  t.match(s['nx-exec'], /Permission denied/);
  t.match(s['nx-write'], /status=0/, 'the rw bind is writable');
  t.equal(readOr(path.join(nx.dir, 'written')), 'data\n', 'the write reached the host dir');
});

t.test('rootfsPropagation', async (t) => {
  for (const [prop, want] of [['shared', /^shared:\d+$/], ['private', undefined]] as const) {
    const out = view(t, { args: ['cat', '/proc/self/mountinfo'], mutate: (c) => (c.linux.rootfsPropagation = prop) });
    const rootMount = mountAt(parseMountinfo(out), '/');
    t.ok(rootMount, 'a mount at /');
    if (!rootMount) continue;
    if (want) t.ok(rootMount.optional.some((o) => want.test(o)), `${prop}: / has ${rootMount.optional.join(' ') || 'no propagation fields'}`);
    else t.same(rootMount.optional, [], `${prop}: / is neither shared nor a slave`);
  }
});

t.test('root.readonly', async (t) => {
  const out = view(t, {
    args: sh('echo "== root"; touch /newfile 2>&1; echo "status=$?"; echo "== shm"; touch /dev/shm/f && echo ok; echo "== mountinfo"; cat /proc/self/mountinfo'),
    mutate: (c) => (c.root.readonly = true),
  });
  const s = sections(out);
  t.match(s.root, /Read-only file system/);
  t.match(s.root, /status=1/);
  t.equal(s.shm, 'ok', 'other mounts stay writable');
  const rootMount = mountAt(parseMountinfo(s.mountinfo ?? ''), '/');
  t.equal(rootMount?.options[0], 'ro', '/ is mounted ro');
});

t.test('maskedPaths', async (t) => {
  const out = view(t, {
    copyRootfs: true,
    prepare: (b) => {
      fs.mkdirSync(path.join(b.rootfs, 'secretdir'));
      fs.writeFileSync(path.join(b.rootfs, 'secretdir', 'inside'), 'topsecret\n');
      fs.writeFileSync(path.join(b.rootfs, 'secret.txt'), 'topsecret\n');
    },
    args: sh(
      [
        'echo "== dir"; ls -A /secretdir',
        'echo "== dirwrite"; touch /secretdir/x 2>&1; echo "status=$?"',
        'echo "== file"; cat /secret.txt',
        'echo "== keys"; wc -c < /proc/keys',
        'echo "== timer_list"; wc -c < /proc/timer_list',
        'echo "== kcore"; if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo absent; fi',
        'echo "== acpi"; ls -A /proc/acpi',
        'echo "== mountinfo"; cat /proc/self/mountinfo',
      ].join('; '),
    ),
    mutate: (c) => c.linux.maskedPaths!.push('/secretdir', '/secret.txt', '/no/such/path'),
  });
  const s = sections(out);
  t.equal(s.dir, '', 'a masked directory looks empty');
  t.match(s.dirwrite, /Read-only file system/, 'and cannot be written');
  t.equal(s.file, '', 'a masked file reads empty');
  t.equal(s.keys, '0', '/proc/keys reads empty');
  t.equal(s.timer_list, '0', '/proc/timer_list reads empty');
  // /proc/kcore is masked too when this kernel has one
  t.equal(s.kcore, fs.existsSync('/proc/kcore') ? '0' : 'absent', '/proc/kcore reads empty');
  t.equal(s.acpi, '', '/proc/acpi is empty');
  const mounts = parseMountinfo(s.mountinfo ?? '');
  t.equal(mountAt(mounts, '/secretdir')?.fstype, 'tmpfs', 'the masked dir is a tmpfs');
  t.equal(mountAt(mounts, '/proc/acpi')?.fstype, 'tmpfs');
  t.ok(mountAt(mounts, '/secret.txt'), 'the masked file is a mount');
  t.notOk(mountAt(mounts, '/no/such/path'), 'missing masked paths are skipped');
});

t.test('readonlyPaths', async (t) => {
  const out = view(t, {
    copyRootfs: true,
    prepare: (b) => fs.mkdirSync(path.join(b.rootfs, 'rodir')),
    args: sh(
      [
        'echo "== procsys"; { echo x > /proc/sys/kernel/domainname; } 2>&1; echo "status=$?"',
        'echo "== ostype"; cat /proc/sys/kernel/ostype',
        'echo "== rodir"; touch /rodir/x 2>&1; echo "status=$?"',
        'echo "== tmp"; touch /tmp/x && echo ok',
      ].join('; '),
    ),
    mutate: (c) => c.linux.readonlyPaths!.push('/rodir'),
  });
  const s = sections(out);
  t.match(s.procsys, /Read-only file system/, '/proc/sys cannot be written');
  t.match(s.procsys, /status=[1-9]/);
  t.equal(s.ostype, 'Linux', '/proc/sys can be read');
  t.match(s.rodir, /Read-only file system/);
  t.match(s.rodir, /status=1/);
  t.equal(s.tmp, 'ok', 'the rest of the rootfs stays writable');
});

t.test('user: uid, gid, additionalGids, HOME', async (t) => {
  const out = view(t, {
    args: sh('grep -E "^(Uid|Gid|Groups):" /proc/self/status; echo "id=$(id -u) $(id -g)"; echo "HOME=$HOME"; touch /root/x 2>&1; echo "status=$?"'),
    mutate: (c) => (c.process.user = { uid: 1000, gid: 1000, additionalGids: [100, 4] }),
  });
  const got = out.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  t.ok(got.includes('Uid: 1000 1000 1000 1000'), `uid 1000 (${got[0]})`);
  t.ok(got.includes('Gid: 1000 1000 1000 1000'), `gid 1000 (${got[1]})`);
  t.ok(got.includes('Groups: 4 100'), `supplementary groups 4 100 (${got[2]})`);
  t.ok(got.includes('id=1000 1000'));
  t.ok(got.includes('HOME=/home/tester'), 'HOME from /etc/passwd');
  t.match(out, /Permission denied/, 'not root any more');
  t.match(out, /status=1/);
});

t.test('umask', async (t) => {
  for (const [umask, want, mode] of [[0o027, '0027', '640'], [undefined, '0022', '644']] as const) {
    const out = view(t, {
      args: sh('umask; touch /dev/shm/f; stat -c %a /dev/shm/f'),
      mutate: (c) => {
        if (umask !== undefined) c.process.user.umask = umask;
      },
    });
    t.same(out.trim().split('\n'), [want, mode], `umask ${want}`);
  }
});

t.test('env: exactly the configured variables, plus HOME', async (t) => {
  const out = view(t, { args: ['env'], env: ['FOO=bar', 'WITH_EQ=a=b', 'EMPTY='] });
  t.same(out.trim().split('\n').sort(), [
    'EMPTY=',
    'FOO=bar',
    'HOME=/root',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'TERM=xterm',
    'WITH_EQ=a=b',
  ]);
});

t.test('cwd', async (t) => {
  t.equal(view(t, { args: ['pwd'], mutate: (c) => (c.process.cwd = '/tmp') }), '/tmp\n');
  let created = false;
  const out = view(t, {
    copyRootfs: true,
    args: sh('pwd; stat -c %F .'),
    mutate: (c) => (c.process.cwd = '/new/deep/dir'),
    after: (b) => (created = fs.statSync(path.join(b.rootfs, 'new/deep/dir')).isDirectory()),
  });
  t.equal(out, '/new/deep/dir\ndirectory\n', 'a missing cwd is created');
  t.notOk(fs.existsSync('/new/deep/dir'), 'inside the rootfs, not on the host');
  t.ok(created, 'the directory is in the rootfs');
});

t.test('args[0] without a slash is looked up in the config PATH', async (t) => {
  const out = view(t, {
    copyRootfs: true,
    prepare: (b) => {
      fs.mkdirSync(path.join(b.rootfs, 'opt', 'first'), { recursive: true });
      fs.mkdirSync(path.join(b.rootfs, 'opt', 'tools'), { recursive: true });
      // not executable: must be skipped
      fs.writeFileSync(path.join(b.rootfs, 'opt', 'first', 'hello'), '#!/bin/sh\necho wrong-one\n', { mode: 0o644 });
      fs.writeFileSync(path.join(b.rootfs, 'opt', 'tools', 'hello'), '#!/bin/sh\necho "hello from $0"\n', { mode: 0o755 });
    },
    args: ['hello'],
    mutate: (c) => (c.process.env = ['PATH=/opt/first:/opt/tools:/bin']),
  });
  t.equal(out, 'hello from /opt/tools/hello\n');
});

t.test('/dev: default devices, symlinks, pts and shm', async (t) => {
  const devs = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
  const out = view(t, {
    args: sh(
      [
        `echo "== stat"; for d in ${devs.join(' ')}; do stat -c "%n %F %t:%T %a" /dev/$d; done`,
        'echo "== links"; for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done',
        'echo "== dirs"; stat -c "%n %F" /dev/pts /dev/shm /dev/mqueue',
        'echo "== ptmx"; stat -L -c "%F %t:%T" /dev/ptmx',
        'echo "== ls"; ls -A /dev',
        'echo "== use"; head -c 3 /dev/zero | od -An -tx1; echo hi > /dev/null && echo null-ok; echo x 2>&1 > /dev/full; echo "full=$?"',
        'echo "== mountinfo"; cat /proc/self/mountinfo',
      ].join('; '),
    ),
  });
  const s = sections(out);
  const nums: Record<string, string> = { null: '1:3', zero: '1:5', full: '1:7', random: '1:8', urandom: '1:9', tty: '5:0' };
  t.same(
    s.stat.split('\n'),
    devs.map((d) => `/dev/${d} character special file ${nums[d]} 666`),
    'char devices with the right major:minor, mode 666',
  );
  t.same(s.links.split('\n'), [
    'fd -> /proc/self/fd',
    'stdin -> /proc/self/fd/0',
    'stdout -> /proc/self/fd/1',
    'stderr -> /proc/self/fd/2',
    'ptmx -> pts/ptmx',
  ]);
  t.same(s.dirs.split('\n'), ['/dev/pts directory', '/dev/shm directory', '/dev/mqueue directory']);
  t.equal(s.ptmx, 'character special file 5:2', '/dev/ptmx is the devpts multiplexer');
  const expected = ['fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'];
  if (fs.existsSync('/proc/kcore')) expected.push('core');
  t.same(s.ls.split(/\s+/).filter(Boolean).sort(), expected.sort(), 'nothing else in /dev');
  t.match(s.use, /^ 00 00 00$/m, '/dev/zero reads zeros');
  t.match(s.use, /null-ok/);
  t.match(s.use, /No space left on device/, '/dev/full is full');
  const mounts = parseMountinfo(s.mountinfo ?? '');
  t.equal(mountAt(mounts, '/dev')?.fstype, 'tmpfs');
  t.equal(mountAt(mounts, '/dev/pts')?.fstype, 'devpts');
  t.equal(mountAt(mounts, '/dev/shm')?.fstype, 'tmpfs');
  t.equal(mountAt(mounts, '/dev/mqueue')?.fstype, 'mqueue');
});

t.test('linux.devices creates the nodes', async (t) => {
  const out = view(t, {
    args: sh(
      'stat -c "%n %F %t:%T %a %u %g" /dev/mydev /dev/sub/other; echo hi > /dev/sub/other && echo write-ok; { echo hi > /dev/mydev; } 2>&1; true',
    ),
    mutate: (c) => {
      c.linux.devices = [
        { path: '/dev/mydev', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 1000, gid: 1000 },
        { path: '/dev/sub/other', type: 'c', major: 1, minor: 5, fileMode: 0o640, uid: 0, gid: 5 },
      ];
      c.linux.resources!.devices!.push({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' });
    },
  });
  const lines = out.trim().split('\n');
  t.same(lines.slice(0, 3), [
    '/dev/mydev character special file 1:3 600 1000 1000',
    '/dev/sub/other character special file 1:5 640 0 5',
    'write-ok',
  ]);
  // root without CAP_DAC_OVERRIDE (not in the config) is held to the node's owner and mode
  t.match(lines[3] ?? '', /Permission denied/, 'mode 0600 owned by 1000 keeps root (without CAP_DAC_OVERRIDE) out');
});

/** Names in /proc/self/fd as `ls -1` inside the container lists them (ls's own dir fd included). */
function fdList(out: string): number[] {
  return out
    .trim()
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number)
    .sort((a, b) => a - b);
}

t.test('no inherited fd above 2 reaches the container', async (t) => {
  // busybox ls opens the directory it lists: inside a clean container `ls -1
  // /proc/self/fd` prints 0 1 2 and that fd, 3. Any leaked fd would push it higher.
  const extraFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-view-fd-')), 'extra');
  t.teardown(() => fs.rmSync(path.dirname(extraFile), { recursive: true, force: true }));
  const extraFd = fs.openSync(extraFile, 'w');
  t.teardown(() => fs.closeSync(extraFd));
  // fd 3 and 4 pipes (a shim leaks a socket on 3), a gap, then fd 20.
  const extra: Array<'pipe' | 'ignore' | number> = ['pipe', 'pipe', ...Array<'ignore'>(15).fill('ignore'), extraFd];

  await t.test('run', async (t) => {
    const b = makeBundle({ args: ['ls', '-1', '/proc/self/fd'] });
    const id = uniqueId('fd');
    t.teardown(() => {
      forceDelete(id, root);
      b.cleanup();
    });
    const r = await tsrunAsync(['run', '--bundle', b.dir, id], { root, extraStdio: extra }).done;
    t.equal(r.status, 0, r.stderr);
    t.same(fdList(r.stdout), [0, 1, 2, 3], `container fds: ${r.stdout.trim().split('\n').join(' ')}`);
    t.same(residue(id, root, { bundle: b.dir }), []);
  });

  await t.test('create + start', async (t) => {
    const b = makeBundle({ args: ['ls', '-1', '/proc/self/fd'] });
    const id = uniqueId('fd');
    const out = path.join(b.dir, 'out');
    t.teardown(() => {
      forceDelete(id, root);
      b.cleanup();
    });
    const c = await tsrunAsync(['create', '--bundle', b.dir, id], { root, extraStdio: extra, stdoutFile: out }).done;
    t.equal(c.status, 0, c.stderr);
    const s = tsrun(['start', id], { root });
    t.equal(s.status, 0, s.stderr);
    const done = await new Promise<boolean>((resolve) => {
      const end = Date.now() + 10_000;
      const tick = () => (state(id, root).status === 'stopped' ? resolve(true) : Date.now() > end ? resolve(false) : setTimeout(tick, 50));
      tick();
    });
    t.ok(done, 'container finished');
    t.same(fdList(readOr(out)), [0, 1, 2, 3], `container fds: ${readOr(out).trim().split('\n').join(' ')}`);
    t.equal(tsrun(['delete', id], { root }).status, 0);
    t.same(residue(id, root, { bundle: b.dir }), []);
  });
});

t.test('--preserve-fds 1 passes fd 3 (and only fd 3) through', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-view-pfd-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fd3 = fs.openSync(path.join(dir, 'fd3'), 'w');
  t.teardown(() => fs.closeSync(fd3));
  const b = makeBundle({ args: sh('echo via-fd3 >&3; exec ls -1 /proc/self/fd') });
  const id = uniqueId('pfd');
  t.teardown(() => {
    forceDelete(id, root);
    b.cleanup();
  });
  const r = await tsrunAsync(['run', '--preserve-fds', '1', '--bundle', b.dir, id], { root, extraStdio: [fd3, 'pipe'] }).done;
  t.equal(r.status, 0, r.stderr);
  t.equal(readOr(path.join(dir, 'fd3')), 'via-fd3\n', 'the container wrote to fd 3');
  t.same(fdList(r.stdout), [0, 1, 2, 3, 4], `fds 0-3, then ls's own (${r.stdout.trim().split('\n').join(' ')})`);
  t.same(residue(id, root, { bundle: b.dir }), []);
});

t.test('a new network namespace has only lo', async (t) => {
  const out = view(t, { args: ['cat', '/proc/net/dev'] });
  const ifaces = out
    .trim()
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim());
  t.same(ifaces, ['lo']);
});

t.test('namespaces: new ones differ from the host, absent ones are shared', async (t) => {
  const kinds = ['ipc', 'uts', 'net', 'mnt', 'pid', 'cgroup'];
  const host = Object.fromEntries(kinds.map((k) => [k, fs.readlinkSync(`/proc/self/ns/${k}`)]));
  const script = kinds.map((k) => `echo "${k}=$(readlink /proc/self/ns/${k})"`).join('; ');
  const parse = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => l.split('=') as [string, string]));

  const all = parse(view(t, { args: sh(script) }));
  for (const k of kinds) {
    t.match(all[k], new RegExp(`^${k}:\\[\\d+\\]$`), `${k} link readable`);
    t.not(all[k], host[k], `${k} namespace differs from the host's`);
  }

  const noIpc = parse(
    view(t, {
      args: sh(script),
      mutate: (c) => (c.linux.namespaces = c.linux.namespaces!.filter((ns) => ns.type !== 'ipc' && ns.type !== 'network')),
    }),
  );
  t.equal(noIpc.ipc, host.ipc, 'without an ipc entry the host ipc namespace is used');
  t.equal(noIpc.net, host.net, 'without a network entry the host network namespace is used');
  t.not(noIpc.uts, host.uts);
});

const haveIp = spawnSync('ip', ['netns', 'list']).status === 0;

/** A persistent network namespace: `ip netns add NAME`, or without iproute2 a file under
 * a private bind mount that `unshare --net=FILE` pins. Removed in teardown. */
function makeNetns(t: T, name: string): string {
  if (haveIp) {
    const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    t.equal(add.status, 0, `ip netns add ${name}: ${add.stderr}`);
    t.teardown(() => {
      spawnSync('ip', ['netns', 'del', name]);
    });
    return `/run/netns/${name}`;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-netns-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  for (const args of [['--bind', dir, dir], ['--make-private', dir]]) execFileSync('mount', args);
  const r = spawnSync('unshare', [`--net=${file}`, 'true'], { encoding: 'utf8' });
  t.equal(r.status, 0, `unshare --net=${file}: ${r.stderr}`);
  t.teardown(() => {
    spawnSync('umount', [file]);
    spawnSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return file;
}

t.test('joining namespaces by path', async (t) => {
  await t.test('a persistent network namespace (ip netns, or unshare --net=FILE)', async (t) => {
    const name = uniqueId('tsrun-netns');
    const nsPath = makeNetns(t, name);
    // bring lo up in there: a fresh namespace (what a failed join would give) has it down
    const up = haveIp
      ? spawnSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { encoding: 'utf8' })
      : spawnSync('nsenter', [`--net=${nsPath}`, '/bin/busybox', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    t.equal(up.status, 0, `lo up in ${nsPath}: ${up.stderr}`);
    const ino = fs.statSync(nsPath).ino;
    const out = view(t, {
      args: sh('readlink /proc/self/ns/net; cat /sys/class/net/lo/flags'),
      mutate: (c) => (c.linux.namespaces = c.linux.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: nsPath } : ns))),
    });
    const [link, flags] = out.trim().split('\n');
    t.equal(link, `net:[${ino}]`, 'the container is in that namespace');
    t.equal(Number(flags) & 1, 1, `lo is up there (flags ${flags})`);
  });

  await t.test("another container's uts namespace via /proc/PID/ns/uts", async (t) => {
    const peer = makeBundle({ args: ['sleep', '300'], mutate: (c) => (c.hostname = 'peer-host') });
    const peerId = uniqueId('peer');
    t.teardown(() => {
      forceDelete(peerId, root);
      peer.cleanup();
    });
    const c = tsrun(['create', '--bundle', peer.dir, peerId], { root });
    t.equal(c.status, 0, c.stderr);
    const pid = state(peerId, root).pid;
    const peerUts = fs.readlinkSync(`/proc/${pid}/ns/uts`);
    const out = view(t, {
      args: sh('hostname; readlink /proc/self/ns/uts'),
      mutate: (c) => {
        delete c.hostname;
        c.linux.namespaces = c.linux.namespaces!.map((ns) => (ns.type === 'uts' ? { type: 'uts', path: `/proc/${pid}/ns/uts` } : ns));
      },
    });
    t.same(out.trim().split('\n'), ['peer-host', peerUts]);
  });
});

t.test('a mount destination that is a symlink out of the rootfs is resolved inside it', async (t) => {
  // rootfs/evil -> /tmp/tsrun-view-escape-XXX/sub/dir (absolute) and rootfs/evil2 ->
  // ../../../../../../../tmp/tsrun-view-escape-XXX (relative, climbing out): followed on
  // the host they would reach the host directory; resolved in the rootfs they stay inside.
  for (const existing of [true, false]) {
    await t.test(existing ? 'the target exists inside the rootfs' : 'the target does not exist yet (it is created inside the rootfs)', async (t) => {
      const host = tempDir('tsrun-view-escape-');
      t.teardown(host.remove);
      const target = path.join(host.dir, 'sub', 'dir');
      let inside: string[] = [];
      const out = view(t, {
        copyRootfs: true,
        prepare: (b) => {
          fs.symlinkSync(target, path.join(b.rootfs, 'evil'));
          fs.symlinkSync('../../../../../../..' + host.dir, path.join(b.rootfs, 'evil2'));
          if (existing) fs.mkdirSync(path.join(b.rootfs, target), { recursive: true });
        },
        after: (b) => {
          const dir = path.join(b.rootfs, host.dir);
          inside = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
        },
        args: sh('echo inside > /evil/marker && echo wrote; cat /proc/self/mountinfo'),
        mutate: (c) => {
          c.mounts.push(
            { destination: '/evil', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
            { destination: '/evil2/x', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
          );
        },
      });
      t.same(fs.readdirSync(host.dir), [], 'the host directory stays empty');
      t.notOk(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(host.dir), 'nothing mounted there on the host');
      t.match(out, /^wrote$/m, 'the container wrote through /evil');
      const mounts = parseMountinfo(out);
      t.equal(mountAt(mounts, target)?.fstype, 'tmpfs', `the tmpfs is at ${target} inside the container`);
      t.equal(mountAt(mounts, path.join(host.dir, 'x'))?.fstype, 'tmpfs', 'the relative one too');
      t.same(inside, ['sub', 'x'], 'the mount points are inside the rootfs');
    });
  }
});

t.test('rlimits', async (t) => {
  const out = view(t, {
    args: ['cat', '/proc/self/limits'],
    mutate: (c) => {
      c.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      ];
    },
  });
  const limit = (name: string) => {
    const line = out.split('\n').find((l) => l.startsWith(name)) ?? '';
    return line.slice(26).trim().split(/\s+/).slice(0, 2);
  };
  t.same(limit('Max open files'), ['512', '1024']);
  t.same(limit('Max core file size'), ['0', '0']);
});

t.test('noNewPrivileges', async (t) => {
  for (const nnp of [true, false]) {
    const out = view(t, { args: ['grep', 'NoNewPrivs', '/proc/self/status'], mutate: (c) => (c.process.noNewPrivileges = nnp) });
    t.equal(out.trim().replace(/\s+/g, ' '), `NoNewPrivs: ${nnp ? 1 : 0}`);
  }
});

t.test('capabilities: the process has exactly the configured sets', async (t) => {
  const capLines = (out: string) => Object.fromEntries(out.trim().split('\n').map((l) => l.split(/:\s*/) as [string, string]));
  const hex = (...bits: bigint[]) => bits.reduce((m, b) => m | (1n << b), 0n).toString(16).padStart(16, '0');
  await t.test('root with the default config', async (t) => {
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10) in bounding, effective,
    // permitted (and ambient, which needs inheritable too, so it stays empty, as with runc)
    const caps = capLines(view(t, { args: ['grep', '^Cap', '/proc/self/status'] }));
    const mask = hex(29n, 5n, 10n);
    t.equal(caps.CapBnd, mask, 'bounding set limited to the config');
    t.equal(caps.CapPrm, mask, 'permitted');
    t.equal(caps.CapEff, mask, 'effective');
    t.equal(caps.CapInh, hex(), 'no inheritable in the config');
  });
  await t.test('a non-root user keeps ambient capabilities', async (t) => {
    const caps = capLines(
      view(t, {
        args: ['grep', '^Cap', '/proc/self/status'],
        mutate: (c) => {
          c.process.user = { uid: 1000, gid: 1000 };
          const set = ['CAP_NET_BIND_SERVICE'];
          c.process.capabilities = { bounding: set, effective: set, permitted: set, inheritable: set, ambient: set };
        },
      }),
    );
    const mask = hex(10n);
    t.same(caps, { CapInh: mask, CapPrm: mask, CapEff: mask, CapBnd: mask, CapAmb: mask });
  });
  await t.test('a non-root user without ambient capabilities has none', async (t) => {
    const caps = capLines(
      view(t, {
        args: ['grep', '^Cap', '/proc/self/status'],
        mutate: (c) => {
          c.process.user = { uid: 1000, gid: 1000 };
          delete c.process.capabilities!.ambient;
        },
      }),
    );
    t.equal(caps.CapEff, hex(), 'no effective capabilities after the switch to uid 1000');
    t.equal(caps.CapPrm, hex(), 'no permitted ones either');
    t.equal(caps.CapBnd, hex(29n, 5n, 10n), 'bounding set from the config');
  });
});

t.test('--no-pivot', async (t) => {
  const out = view(t, {
    copyRootfs: true,
    runArgs: ['--no-pivot'],
    prepare: (b) => fs.writeFileSync(path.join(b.rootfs, 'marker-nopivot'), 'in-rootfs\n'),
    args: sh('cat /marker-nopivot; echo $$; test -e /work && echo host-visible || echo host-hidden; ls /proc/1/root/ >/dev/null && echo proc-ok'),
  });
  t.same(out.trim().split('\n'), ['in-rootfs', '1', 'host-hidden', 'proc-ok']);
});
