// runc compatibility of the command line and of details engines rely on (issue 12): the
// `update` flag spellings, cgroup v1 memory limits written in an order the kernel accepts,
// --version's shape, delete of a host-pid container, the session keyring, the -ENOSYS stub
// of seccomp filters and NOTIFY_SOCKET. Real containers as root; where runc is installed
// the same thing is done with runc and the results compared.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bundle, BundleOptions, makeBundle } from '../helpers/bundle';
import { rootSuite, tempDir, tsrunAsync } from '../helpers/container';
import { cleanEnv, forceDelete, pidAlive, residue, state, tsrun, tsrunJs, TsrunResult, uniqueId, waitFor } from '../helpers/tsrun';

const root = rootSuite();
const RUNC = '/usr/sbin/runc';
const haveRunc = fs.existsSync(RUNC);
// Skip reasons (false: run). A missing tool is a skip with its reason, never a quiet pass.
const noRunc = !haveRunc && `${RUNC} is not installed (apt-get install runc)`;
const noGcc = spawnSync('gcc', ['--version']).status !== 0 && 'gcc is not installed: the helper programs are built with gcc -static';
const noScript = spawnSync('script', ['--version']).status !== 0 && 'script(1) (util-linux) is missing';

function why(r: TsrunResult): string {
  return `${r.argv.slice(2).join(' ')} -> status ${r.status}; stderr: ${r.stderr.trim()}`;
}

interface Ctr {
  id: string;
  bundle: Bundle;
  out: string;
}

function newCtr(tt: { teardown(fn: () => void): void }, opts: BundleOptions): Ctr {
  const id = uniqueId('rcli');
  const bundle = makeBundle(opts);
  tt.teardown(() => {
    if (fs.existsSync(path.join(root, id))) forceDelete(id, root);
    bundle.cleanup();
  });
  return { id, bundle, out: path.join(bundle.dir, 'ctr.out') };
}

function cli(c: Ctr, args: string[], env?: NodeJS.ProcessEnv): TsrunResult {
  return tsrun(args, { root, stdoutFile: c.out, stderrFile: c.out, env });
}

function v1Memory(id: string, file: string): string {
  return fs.readFileSync(`/sys/fs/cgroup/memory/${id}/${file}`, 'utf8').trim();
}

t.test('update takes the flags of runc update (--cpu-share and the others)', async (t) => {
  const c = newCtr(t, { args: ['sleep', '1000'], mutate: (cfg) => (cfg.linux.cgroupsPath = `/${uniqueId('rcli')}`) });
  const cg = c.bundle.config.linux.cgroupsPath!;
  t.equal(cli(c, ['run', '-d', '--bundle', c.bundle.dir, c.id]).status, 0);
  const r = cli(c, ['update', '--cpu-share', '512', '--cpu-period', '100000', '--cpu-quota', '50000', '--pids-limit', '77', c.id]);
  t.equal(r.status, 0, why(r));
  t.equal(fs.readFileSync(`/sys/fs/cgroup/cpu${cg}/cpu.shares`, 'utf8').trim(), '512', 'cpu.shares from --cpu-share');
  t.equal(fs.readFileSync(`/sys/fs/cgroup/pids${cg}/pids.max`, 'utf8').trim(), '77');
  // As runc: with --resources the other flags are ignored; Intel RDT in runc's words.
  const both = tsrun(['update', '--resources', '-', '--pids-limit', '99', c.id], { root, input: '{"pids":{"limit":55}}' });
  t.equal(both.status, 0, why(both));
  t.equal(fs.readFileSync(`/sys/fs/cgroup/pids${cg}/pids.max`, 'utf8').trim(), '55', '--pids-limit ignored next to --resources');
  const rdt = tsrun(['update', '--l3-cache-schema', 'L3:0=f', c.id], { root });
  t.equal(rdt.status, 1);
  t.equal(rdt.stderr, 'tsrun: Intel RDT/CAT: l3 cache schema is not enabled\n');
});

t.test('every flag runc\'s update documents is one tsrun\'s update knows', { skip: noRunc }, async (t) => {
  const runcHelp = spawnSync(RUNC, ['update', '--help'], { encoding: 'utf8' }).stdout;
  const runcFlags = [...runcHelp.matchAll(/^\s+--([a-z0-9-]+)/gm)].map((m) => m[1]).filter((f) => f !== 'help');
  t.ok(runcFlags.includes('cpu-share') && runcFlags.length > 10, `runc update flags: ${runcFlags.join(' ')}`);
  const ours = tsrun(['update', '--help']).stdout;
  for (const flag of runcFlags) t.match(ours, new RegExp(`--${flag}\\b`), `tsrun update --help lists --${flag}`);
});

const noMemsw = !fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') && 'no v1 memory controller with swap accounting';
t.test('cgroup v1: memory and memory+swap raised, lowered and made unlimited in a working order', { skip: noMemsw }, async (t) => {
  const cg = uniqueId('rcli');
  const c = newCtr(t, {
    args: ['sleep', '1000'],
    mutate: (cfg) => {
      cfg.linux.cgroupsPath = `/${cg}`;
      cfg.linux.resources = { ...cfg.linux.resources, memory: { limit: 64 << 20, swap: 128 << 20 } };
    },
  });
  t.equal(cli(c, ['run', '-d', '--bundle', c.bundle.dir, c.id]).status, 0);
  let r = cli(c, ['update', '--memory', '256m', '--memory-swap', '512m', c.id]);
  t.equal(r.status, 0, `raise: ${why(r)}`);
  t.equal(v1Memory(cg, 'memory.limit_in_bytes'), String(256 << 20));
  t.equal(v1Memory(cg, 'memory.memsw.limit_in_bytes'), String(512 << 20));
  r = cli(c, ['update', '--memory', '32m', '--memory-swap', '48m', c.id]);
  t.equal(r.status, 0, `lower: ${why(r)}`);
  t.equal(v1Memory(cg, 'memory.limit_in_bytes'), String(32 << 20));
  t.equal(v1Memory(cg, 'memory.memsw.limit_in_bytes'), String(48 << 20));
  // runc: --memory -1 alone also lifts memory+swap (else the kernel refuses memory > memsw).
  r = cli(c, ['update', '--memory', '-1', c.id]);
  t.equal(r.status, 0, `unlimited: ${why(r)}`);
  t.ok(Number(v1Memory(cg, 'memory.limit_in_bytes')) > 1 << 40, 'memory unlimited');
  t.ok(Number(v1Memory(cg, 'memory.memsw.limit_in_bytes')) > 1 << 40, 'memory+swap unlimited');
});

const noCpuRt =
  (!fs.existsSync('/sys/fs/cgroup/cpu/cpu.cfs_burst_us') || !fs.existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us')) &&
  'no v1 cpu controller with cfs_burst_us and rt_runtime_us';
t.test('cgroup v1: CFS period/quota/burst and RT period/runtime lowered together in a working order', { skip: noCpuRt }, async (t) => {
  const cg = uniqueId('rcli');
  const cpu = (file: string) => fs.readFileSync(`/sys/fs/cgroup/cpu/${cg}/${file}`, 'utf8').trim();
  const c = newCtr(t, {
    args: ['sleep', '1000'],
    mutate: (cfg) => {
      cfg.linux.cgroupsPath = `/${cg}`;
      cfg.linux.resources = { ...cfg.linux.resources, cpu: { period: 100000, quota: 50000, burst: 40000, realtimePeriod: 100000, realtimeRuntime: 50000 } };
    },
  });
  const r = cli(c, ['run', '-d', '--bundle', c.bundle.dir, c.id]);
  t.equal(r.status, 0, why(r));
  // Written one by one in the order given, the kernel refuses the quota below the current
  // burst and the RT period below the current runtime (EINVAL).
  const u = cli(c, ['update', '--cpu-quota', '20000', '--cpu-burst', '10000', '--cpu-rt-period', '10000', '--cpu-rt-runtime', '5000', c.id]);
  t.equal(u.status, 0, why(u));
  t.same([cpu('cpu.cfs_quota_us'), cpu('cpu.cfs_burst_us'), cpu('cpu.rt_period_us'), cpu('cpu.rt_runtime_us')], ['20000', '10000', '10000', '5000']);
});

t.test('--version has the lines of runc --version; --help and -v exit 0', async (t) => {
  const r = tsrun(['--version']);
  t.equal(r.status, 0, why(r));
  const lines = r.stdout.trimEnd().split('\n');
  t.match(lines[0], /^tsrun version \d+\.\d+\.\d+/);
  const keys = lines.slice(1).map((l) => l.split(':')[0]);
  t.same(keys, ['commit', 'spec', 'go', 'libseccomp'], r.stdout);
  t.match(r.stdout, /^spec: 1\.\d+\.\d+/m);
  t.match(r.stdout, /^libseccomp: \d+\.\d+\.\d+$/m);
  t.test('the same keys as runc --version', { skip: noRunc }, async (t) => {
    const runcKeys = spawnSync(RUNC, ['--version'], { encoding: 'utf8' }).stdout.trimEnd().split('\n').slice(1).map((l) => l.split(':')[0]);
    t.same(keys, runcKeys);
  });
  t.equal(tsrun(['-v']).stdout, r.stdout, '-v is --version');
  const help = tsrun(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /update/);
});

t.test('--debug: runc\'s log lines (time=... level=debug msg=...) on stderr or in --log', async (t) => {
  const c = newCtr(t, {});
  const r = tsrun(['--debug', 'run', '--bundle', c.bundle.dir, c.id], { root });
  t.equal(r.status, 0, why(r));
  const lines = r.stderr.trimEnd().split('\n');
  t.ok(lines.length > 3, 'debug lines');
  for (const line of lines) t.match(line, /^time="[^"]+" level=debug msg="tsrun:[a-z-]+: .+"$/, line);
  const log = path.join(c.bundle.dir, 'debug.log');
  const id2 = uniqueId('rcli');
  t.teardown(() => forceDelete(id2, root));
  const j = tsrun(['run', '--bundle', c.bundle.dir, id2], { root, globalArgs: ['--log', log, '--log-format', 'json', '--debug'] });
  t.equal(j.status, 0, why(j));
  t.equal(j.stderr, '', 'nothing on stderr with --log');
  for (const line of fs.readFileSync(log, 'utf8').trimEnd().split('\n')) {
    const o = JSON.parse(line) as { level: string; msg: string; time: string };
    t.same(Object.keys(o).sort(), ['level', 'msg', 'time']);
    t.match(o.msg, /^tsrun:[a-z-]+: /, 'no second timestamp in msg');
  }
  // runc's exit statuses: 1 for an error; the process's status from run.
  t.equal(tsrun(['state', 'no-such-container-h12']).status, 1);
  const exit3 = newCtr(t, { args: ['sh', '-c', 'exit 3'] });
  t.equal(tsrun(['run', '--bundle', exit3.bundle.dir, exit3.id], { root }).status, 3);
});

t.test('delete of a host-pid container kills the processes it left', async (t) => {
  const c = newCtr(t, {
    args: ['sh', '-c', 'sleep 1001 & echo $! > /tmp/bg.pid; exec sleep 1000'],
    copyRootfs: true,
    mutate: (cfg) => (cfg.linux.namespaces = (cfg.linux.namespaces ?? []).filter((n) => n.type !== 'pid')),
  });
  t.equal(cli(c, ['run', '-d', '--bundle', c.bundle.dir, c.id]).status, 0);
  const pidFile = path.join(c.bundle.rootfs, 'tmp', 'bg.pid');
  t.ok(waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== ''), 'background pid written');
  const bg = Number(fs.readFileSync(pidFile, 'utf8').trim());
  t.ok(pidAlive(bg), 'background process alive');
  // The init dies; its child lives on (no pid namespace to take it down).
  t.equal(cli(c, ['kill', c.id, 'KILL']).status, 0);
  t.ok(waitFor(() => state(c.id, root).status === 'stopped'), 'stopped');
  t.ok(pidAlive(bg), 'the background process outlives the init');
  const r = cli(c, ['delete', c.id]);
  t.equal(r.status, 0, why(r));
  t.ok(waitFor(() => !pidAlive(bg), 5000), 'delete killed the background process');
  t.same(residue(c.id, root), []);
});

t.test('a new session keyring by default (_ses.ID), none with --no-new-keyring; exec works in both', async (t) => {
  for (const noNew of [false, true]) {
    const c = newCtr(t, {
      args: ['sh', '-c', 'cat /proc/keys; exec sleep 1000'],
      mutate: (cfg) => (cfg.linux.maskedPaths = cfg.linux.maskedPaths!.filter((p) => p !== '/proc/keys')),
    });
    const r = cli(c, ['run', '-d', ...(noNew ? ['--no-new-keyring'] : []), '--bundle', c.bundle.dir, c.id]);
    t.equal(r.status, 0, why(r));
    const mine = new RegExp(`keyring\\s+_ses\\.${c.id}:`);
    t.ok(waitFor(() => /keyring/.test(fs.readFileSync(c.out, 'utf8'))), 'the container listed /proc/keys');
    const keys = fs.readFileSync(c.out, 'utf8');
    if (noNew) t.notMatch(keys, mine, `--no-new-keyring: no keyring of ours\n${keys}`);
    else {
      t.match(keys, mine, `the session keyring _ses.${c.id}\n${keys}`);
      // runc's permissions: the possessor keeps all, the owner uid may search (exec joins it).
      const perm = parseInt(/perm ([0-9a-f]+) .*_ses\./.exec(keys.split('\n').find((l) => mine.test(l)) ?? '')?.[1] ?? '0', 16);
      t.equal((perm & 0x3f080000) >>> 0, 0x3f080000, `perm ${perm.toString(16)}`);
    }
    // exec joins the container's keyring by name (runc); it must work either way.
    const e = tsrun(['exec', c.id, 'true'], { root });
    t.equal(e.status, 0, why(e));
  }
});

/** gcc -static of `source` into dir/name; undefined when it cannot be built. */
/** gcc -static of `source`; with gcc installed, a failed build fails the test (its message). */
function buildStatic(dir: string, name: string, source: string): string {
  const src = path.join(dir, `${name}.c`);
  fs.writeFileSync(src, source);
  const bin = path.join(dir, name);
  const r = spawnSync('gcc', ['-static', '-O2', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc -static ${name}.c failed (install libc6-dev): ${r.stderr}`);
  return bin;
}

/** A static program that makes each syscall number given and prints "NR ERRNO" (0: no error). */
function buildSysno(dir: string): string {
  return buildStatic(dir, 'sysno', `#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    long nr = strtol(argv[i], 0, 0);
    errno = 0;
    long r = syscall(nr, 0, 0, 0, 0, 0);
    printf("%ld %d\\n", nr, r < 0 ? errno : 0);
  }
  return 0;
}
`);
}

/** Syscalls a static glibc program needs to start, print and exit (x86_64 and arm64 names). */
const SYSNO_NEEDS = [
  'execve', 'brk', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'readlink', 'readlinkat',
  'getrandom', 'mprotect', 'mmap', 'munmap', 'uname', 'write', 'writev', 'exit', 'exit_group', 'fstat', 'newfstatat',
  'close', 'futex', 'rt_sigaction', 'rt_sigprocmask', 'read', 'openat', 'getpid', 'ioctl', 'lseek', 'fcntl',
  'capget', 'capset', 'prctl', 'setresuid', 'setresgid', 'setgroups', 'chdir', 'getppid', 'sendmsg', 'wait4',
  // and runc's Go init, which loads the filter before its own execve (all numbered below rseq)
  'statfs', 'fstatfs', 'getdents64', 'nanosleep', 'sched_yield', 'clone', 'tgkill', 'gettid', 'sigaltstack', 'madvise',
  'mincore', 'epoll_create1', 'epoll_ctl', 'epoll_pwait', 'epoll_wait', 'pipe2', 'dup3', 'rt_sigreturn', 'clock_gettime',
  'sched_getaffinity', 'getuid', 'geteuid', 'getgid', 'getegid', 'kill', 'faccessat', 'access', 'fchdir', 'pread64',
  'socket', 'connect', 'fchown', 'fchmod', 'umask', 'getcwd', 'setsid', 'write', 'recvmsg', 'recvfrom', 'sendto', 'poll',
  'ppoll', 'select', 'pselect6', 'dup', 'dup2', 'getpgrp', 'setpgid', 'unshare', 'setns', 'keyctl', 'fstatat64',
];

const notX64 = process.arch !== 'x64' && `the syscall numbers below are x86_64's (${process.arch})`;
t.test('seccomp: syscalls above the profile\'s highest get ENOSYS (runc\'s stub), the others the default errno', { skip: notX64 || noGcc }, async (t) => {
  const tmp = tempDir('tsrun-sysno-');
  t.teardown(tmp.remove);
  const bin = buildSysno(tmp.dir);
  // 140 getpriority: below the highest listed (rseq, 334) and not listed; 440 process_madvise
  // and 1000: above it.
  const probe = ['140', '440', '1000'];
  for (const defaultErrnoRet of [undefined, 13]) {
    const mutate = (cfg: Parameters<NonNullable<BundleOptions['mutate']>>[0]) => {
      cfg.process.args = ['/sysno', ...probe];
      cfg.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ERRNO',
        ...(defaultErrnoRet !== undefined ? { defaultErrnoRet } : {}),
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        syscalls: [{ names: SYSNO_NEEDS, action: 'SCMP_ACT_ALLOW' }],
      };
    };
    const c = newCtr(t, { copyRootfs: true, mutate });
    fs.copyFileSync(bin, path.join(c.bundle.rootfs, 'sysno'));
    fs.chmodSync(path.join(c.bundle.rootfs, 'sysno'), 0o755);
    const r = cli(c, ['run', '--bundle', c.bundle.dir, c.id]);
    t.equal(r.status, 0, why(r));
    const deflt = defaultErrnoRet ?? 1;
    t.equal(fs.readFileSync(c.out, 'utf8'), `140 ${deflt}\n440 38\n1000 38\n`, `defaultErrnoRet ${defaultErrnoRet}: default errno below, ENOSYS above`);
    await t.test(`runc prints the same (defaultErrnoRet ${defaultErrnoRet})`, { skip: noRunc }, async (t) => {
      const out = path.join(c.bundle.dir, 'runc.out');
      const fd = fs.openSync(out, 'w');
      const rr = spawnSync(RUNC, ['--root', path.join(tmp.dir, 'runc'), 'run', '--bundle', c.bundle.dir, `${c.id}-runc`], { stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      t.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(c.out, 'utf8'), `status ${rr.status}`);
    });
  }
});

/** sd_notify in a few lines: sends argv[1] to $NOTIFY_SOCKET and prints where it sent it. */
const NOTIFY_C = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path) { printf("no NOTIFY_SOCKET\\n"); return 1; }
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof(addr)) < 0) { perror("sendto"); return 1; }
  printf("sent to %s\\n", path);
  return 0;
}
`;

/** The caller's side: a python3 datagram socket that appends what it receives to a file. */
function notifyReceiver(dir: string): { socket: string; got: () => string; stop: () => void } {
  const socket = path.join(dir, 'host-notify.sock');
  const file = path.join(dir, 'host-notify.out');
  fs.writeFileSync(file, '');
  const script = `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
while True:
    data = s.recv(4096)
    with open(sys.argv[2], 'ab') as f:
        f.write(data)
`;
  const child = spawn('python3', ['-c', script, socket, file], { stdio: 'ignore' });
  waitFor(() => fs.existsSync(socket));
  return { socket, got: () => fs.readFileSync(file, 'utf8'), stop: () => child.kill('SIGKILL') };
}

t.test('NOTIFY_SOCKET: the container notifies at /run/notify/notify.sock, start forwards READY and MAINPID', { skip: noGcc }, async (t) => {
  const tmp = tempDir('tsrun-notify-');
  t.teardown(tmp.remove);
  const bin = buildStatic(tmp.dir, 'notify', NOTIFY_C);
  const receiver = notifyReceiver(tmp.dir);
  t.teardown(receiver.stop);
  const env = cleanEnv({ NOTIFY_SOCKET: receiver.socket });
  const c = newCtr(t, { copyRootfs: true, args: ['sh', '-c', '/notify READY=1 && exec sleep 1000'] });
  fs.copyFileSync(bin, path.join(c.bundle.rootfs, 'notify'));
  fs.chmodSync(path.join(c.bundle.rootfs, 'notify'), 0o755);
  let r = tsrun(['create', '--bundle', c.bundle.dir, c.id], { root, stdoutFile: c.out, stderrFile: c.out, env });
  t.equal(r.status, 0, why(r));
  t.equal(receiver.got(), '', 'nothing before start');
  r = tsrun(['start', c.id], { root, env });
  t.equal(r.status, 0, why(r));
  // start returns once READY has been passed on.
  const pid = state(c.id, root).pid;
  t.equal(receiver.got(), `READY=1\nMAINPID=${pid}\n`, 'READY=1 then MAINPID of the init');
  t.equal(fs.readFileSync(c.out, 'utf8'), 'sent to /run/notify/notify.sock\n', 'NOTIFY_SOCKET in the container (runc\'s path)');
  t.equal(tsrun(['delete', '--force', c.id], { root }).status, 0);
  t.same(residue(c.id, root), []);

  // run -d: the same, from one command.
  const d = newCtr(t, { copyRootfs: true, args: ['sh', '-c', '/notify READY=1 && exec sleep 1000'] });
  fs.copyFileSync(bin, path.join(d.bundle.rootfs, 'notify'));
  fs.chmodSync(path.join(d.bundle.rootfs, 'notify'), 0o755);
  const before = receiver.got();
  r = tsrun(['run', '-d', '--bundle', d.bundle.dir, d.id], { root, stdoutFile: d.out, stderrFile: d.out, env });
  t.equal(r.status, 0, why(r));
  t.equal(receiver.got().slice(before.length), `READY=1\nMAINPID=${state(d.id, root).pid}\n`, 'run -d forwards too');

  // A foreground run: MAINPID is tsrun itself (runc's way), and a container that never
  // notifies does not hold run up.
  const f = newCtr(t, { copyRootfs: true, args: ['sh', '-c', '/notify READY=1'] });
  fs.copyFileSync(bin, path.join(f.bundle.rootfs, 'notify'));
  fs.chmodSync(path.join(f.bundle.rootfs, 'notify'), 0o755);
  const before2 = receiver.got();
  const fg = tsrunAsync(['run', '--bundle', f.bundle.dir, f.id], { root, env, timeout: 30_000 });
  const fr = await fg.done;
  t.equal(fr.status, 0, why(fr));
  t.equal(receiver.got().slice(before2.length), `READY=1\nMAINPID=${fg.child.pid}\n`, 'foreground run: MAINPID of tsrun');
  const silent = newCtr(t, { args: ['true'] });
  const sr = tsrun(['run', '--bundle', silent.bundle.dir, silent.id], { root, env, timeout: 30_000 });
  t.equal(sr.status, 0, `no READY, no wait: ${why(sr)}`);
});

t.test('no fd of tsrun in a terminal process: run and exec -t on a pty', { skip: noScript }, async (t) => {
  const c = newCtr(t, { args: ['sleep', '1000'] });
  const term = makeBundle({ args: ['ls', '-1', '/proc/self/fd'], mutate: (cfg) => (cfg.process.terminal = true) });
  t.teardown(() => term.cleanup());
  /** tsrun under script(1): its stdio is a pty, as for a person at a terminal. */
  const onPty = (args: string[]): string => {
    const cmd = [process.execPath, tsrunJs, '--root', root, ...args].map((a) => `'${a}'`).join(' ');
    return spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: cleanEnv(), timeout: 60_000 }).stdout;
  };
  // ls's own directory fd is 3: anything more came from tsrun.
  const fds = (out: string) => out.split(/\r?\n/).filter((l) => /^\d+$/.test(l.trim())).map((l) => l.trim());
  const runId = uniqueId('rcli');
  // Judged by what is listed beyond stdio (under load the relay was once seen to drop the
  // first line, "0": the leak check does not depend on it).
  const beyondStdio = (out: string) => fds(out).filter((fd) => Number(fd) > 2);
  t.same(beyondStdio(onPty(['run', '--bundle', term.dir, runId])), ['3'], 'run with process.terminal');
  t.equal(cli(c, ['run', '-d', '--bundle', c.bundle.dir, c.id]).status, 0);
  t.same(beyondStdio(onPty(['exec', '-t', c.id, 'ls', '-1', '/proc/self/fd'])), ['3'], 'exec -t');
});

// runc's spellings from the one table (src/cli/table.ts): single-dash long flags as go-runc
// sends them, -d, relative --bundle and --pid-file (the caller's cwd), flags after the id,
// and exec's `--`, after which everything is the command's.
t.test('runc spellings: -pid-file relative to cwd, -d, flags after the id, exec -- CMD -flags', async (t) => {
  const c = newCtr(t, { args: ['sleep', '300'] });
  const run = tsrun(['run', '-d', '-bundle', '.', c.id, '-pid-file', 'rel.pid'], { root, cwd: c.bundle.dir, stdoutFile: c.out, stderrFile: c.out });
  t.equal(run.status, 0, why(run));
  const pid = Number(fs.readFileSync(path.join(c.bundle.dir, 'rel.pid'), 'utf8'));
  t.equal(state(c.id, root).pid, pid, 'the pid file is in the cwd and names the init');
  const ex = tsrun(['exec', c.id, '--', 'sh', '-c', 'echo "$0" "$1"', '--root', '-d'], { root });
  t.equal(ex.status, 0, why(ex));
  t.equal(ex.stdout, '--root -d\n', "exec's command took its flags, tsrun did not");
  const kill = tsrun(['kill', c.id, '-9'], { root });
  t.match(kill.stderr, /invalid signal "-9"/, '-9 is read as the signal argument, refused as runc does');
  const del = tsrun(['delete', '-f', c.id], { root });
  t.equal(del.status, 0, why(del));
  t.notOk(fs.existsSync(path.join(root, c.id)), 'deleted');
  t.notOk(pidAlive(pid), 'the init is gone');
});
