// A fake Libc for unit tests: records every call, touches nothing, and fails on demand with
// the same SysError (call name, argument text, errno) that libc.ts would throw.
//
//   const fake = new FakeLibc();
//   useLibc(fake);
//   fake.failNext('mount', 'EPERM');                          // the next mount fails
//   fake.failNext('setns', 'EINVAL', (fd, type) => type === CLONE.NEWNS);
//   ... code under test ...
//   t.same(fake.names(), ['unshare', 'setns']);
//
// fd-returning calls hand out fake numbers from 1000 up: they are not open files.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { CapSets, errnoName, Libc, SysError } from './types';

export type CallName = keyof Libc;
export interface FakeCall {
  call: CallName;
  args: unknown[];
}

/** What FakeLibc.execve throws when it succeeds: a real execve would never return. */
export class ExecveCalled extends Error {
  override name = 'ExecveCalled';
  constructor(
    readonly path: string,
    readonly argv: string[],
    readonly envp: string[],
  ) {
    super(`execve ${path} ${JSON.stringify(argv)}`);
  }
}

type ArgsOf<K extends CallName> = Parameters<Libc[K]>;

interface Failure {
  call: CallName;
  errno: number;
  when?: (...args: never[]) => boolean;
  once: boolean;
}

/** The error name and argument text libc.ts uses for each call. */
const DESCRIBE: { [K in CallName]: (...args: ArgsOf<K>) => [string, string] } = {
  unshare: (flags) => ['unshare', `0x${flags.toString(16)}`],
  setns: (fd) => ['setns', `fd ${fd}`],
  mount: (source, target, fstype, flags) =>
    ['mount', `${fstype ? `${fstype} ${source}` : source} on ${target} (flags 0x${flags.toString(16)})`],
  umount2: (target) => ['umount2', target],
  openTree: (dirfd, path) => ['open_tree', path || `fd ${dirfd}`],
  mountSetattr: (dirfd, path) => ['mount_setattr', path || `fd ${dirfd}`],
  setMempolicy: (mode, nodes) => ['set_mempolicy', `mode ${mode} nodes ${nodes.join(',')}`],
  moveMount: (fromDirfd, fromPath, toDirfd, toPath) => ['move_mount', `${fromPath || `fd ${fromDirfd}`} to ${toPath || `fd ${toDirfd}`}`],
  pivotRoot: (newRoot) => ['pivot_root', newRoot],
  chroot: (path) => ['chroot', path],
  chdir: (path) => ['chdir', path],
  fchdir: (fd) => ['fchdir', `fd ${fd}`],
  sethostname: (name) => ['sethostname', JSON.stringify(name)],
  setdomainname: (name) => ['setdomainname', JSON.stringify(name)],
  mknod: (path) => ['mknod', path],
  mkfifo: (path) => ['mkfifo', path],
  openat2: (_dirfd, path) => ['openat2', path],
  openat: (_dirfd, path) => ['openat', path],
  mkdirat: (_dirfd, path) => ['mkdirat', path],
  fcntl: (fd) => ['fcntl', `fd ${fd}`],
  closeRange: (first, last) => ['close_range', `${first}..${last}`],
  joinSessionKeyring: (name) => ['keyctl', `KEYCTL_JOIN_SESSION_KEYRING ${JSON.stringify(name)}`],
  keyDescribe: (key) => ['keyctl', `KEYCTL_DESCRIBE ${key}`],
  keySetperm: (key) => ['keyctl', `KEYCTL_SETPERM ${key}`],
  prctl: (option) => ['prctl', String(option)],
  capget: () => ['capget', 'pid 0'],
  capset: (sets) => ['capset', `eff=${sets.effective.toString(16)} prm=${sets.permitted.toString(16)} inh=${sets.inheritable.toString(16)}`],
  setresuid: (uid) => ['setresuid', String(uid)],
  setresgid: (gid) => ['setresgid', String(gid)],
  setgroups: (gids) => ['setgroups', gids.join(',')],
  setrlimit: (resource) => ['prlimit', `resource ${resource}`],
  kill: (pid) => ['kill', `pid ${pid}`],
  pidfdOpen: (pid) => ['pidfd_open', `pid ${pid}`],
  pidfdSendSignal: (pidfd) => ['pidfd_send_signal', `fd ${pidfd}`],
  resetSignals: () => ['resetSignals', ''],
  personality: (persona) => ['personality', `0x${persona.toString(16)}`],
  schedSetattr: (attr) => ['sched_setattr', `policy ${attr.policy}`],
  schedSetaffinity: (cpus) => ['sched_setaffinity', cpus.join(',')],
  ioprioSet: (ioprio) => ['ioprio_set', `0x${ioprio.toString(16)}`],
  execve: (path) => ['exec', path],
  execveat: (fd) => ['execveat', `fd ${fd}`],
  memfdCreate: (name) => ['memfd_create', name],
};

function errnoNumber(errno: string | number): number {
  if (typeof errno === 'number') return errno;
  const n = (constants.errno as Record<string, number>)[errno];
  if (n === undefined) throw new Error(`FakeLibc: unknown errno name ${errno}`);
  return n;
}

/** glibc's strerror text where libuv's differs (libuv: "resource busy or locked"). */
const GLIBC_TEXT: Record<string, string> = {
  EIO: 'input/output error',
  ENOEXEC: 'exec format error',
  ECHILD: 'no child processes',
  ENOMEM: 'cannot allocate memory',
  EFAULT: 'bad address',
  ENOTBLK: 'block device required',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EXDEV: 'invalid cross-device link',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOTSUP: 'operation not supported',
  EOPNOTSUPP: 'operation not supported',
  ESTALE: 'stale file handle',
};

/** The text libc.ts gives: glibc's strerror with its first letter lower-cased. */
function errnoText(errno: number): string {
  return GLIBC_TEXT[errnoName(errno)] ?? getSystemErrorMap().get(-errno)?.[1] ?? `unknown error ${errno}`;
}

export class FakeLibc implements Libc {
  readonly calls: FakeCall[] = [];
  private failures: Failure[] = [];
  private nextFd = 1000;

  /** Make the next matching call of `call` throw SysError(errno); `when` filters by arguments. */
  failNext<K extends CallName>(call: K, errno: string | number, when?: (...args: ArgsOf<K>) => boolean): this {
    this.failures.push({ call, errno: errnoNumber(errno), when: when as Failure['when'], once: true });
    return this;
  }

  /** Like failNext, but every matching call fails until clearFailures(). */
  failAlways<K extends CallName>(call: K, errno: string | number, when?: (...args: ArgsOf<K>) => boolean): this {
    this.failures.push({ call, errno: errnoNumber(errno), when: when as Failure['when'], once: false });
    return this;
  }

  clearFailures(): void {
    this.failures = [];
  }

  /** The names of the calls made, in order. */
  names(): CallName[] {
    return this.calls.map((c) => c.call);
  }

  /** The argument lists of every call of one kind. */
  argsOf<K extends CallName>(call: K): ArgsOf<K>[] {
    return this.calls.filter((c) => c.call === call).map((c) => c.args as ArgsOf<K>);
  }

  /** Record a call, then throw if a failure was asked for. */
  private record<K extends CallName>(call: K, args: ArgsOf<K>): void {
    this.calls.push({ call, args });
    const i = this.failures.findIndex((f) => f.call === call && (!f.when || f.when(...(args as never[]))));
    if (i < 0) return;
    const failure = this.failures[i];
    if (failure.once) this.failures.splice(i, 1);
    const [name, arg] = (DESCRIBE[call] as (...a: ArgsOf<K>) => [string, string])(...args);
    throw new SysError(name, arg, failure.errno, errnoText(failure.errno));
  }

  private fd(): number {
    return this.nextFd++;
  }

  unshare(...a: ArgsOf<'unshare'>) { this.record('unshare', a); }
  setns(...a: ArgsOf<'setns'>) { this.record('setns', a); }
  mount(...a: ArgsOf<'mount'>) { this.record('mount', a); }
  umount2(...a: ArgsOf<'umount2'>) { this.record('umount2', a); }
  openTree(...a: ArgsOf<'openTree'>) { this.record('openTree', a); return this.fd(); }
  mountSetattr(...a: ArgsOf<'mountSetattr'>) { this.record('mountSetattr', a); }
  setMempolicy(...a: ArgsOf<'setMempolicy'>) { this.record('setMempolicy', a); }
  moveMount(...a: ArgsOf<'moveMount'>) { this.record('moveMount', a); }
  pivotRoot(...a: ArgsOf<'pivotRoot'>) { this.record('pivotRoot', a); }
  chroot(...a: ArgsOf<'chroot'>) { this.record('chroot', a); }
  chdir(...a: ArgsOf<'chdir'>) { this.record('chdir', a); }
  fchdir(...a: ArgsOf<'fchdir'>) { this.record('fchdir', a); }
  sethostname(...a: ArgsOf<'sethostname'>) { this.record('sethostname', a); }
  setdomainname(...a: ArgsOf<'setdomainname'>) { this.record('setdomainname', a); }
  mknod(...a: ArgsOf<'mknod'>) { this.record('mknod', a); }
  mkfifo(...a: ArgsOf<'mkfifo'>) { this.record('mkfifo', a); }
  openat2(...a: ArgsOf<'openat2'>) { this.record('openat2', a); return this.fd(); }
  openat(...a: ArgsOf<'openat'>) { this.record('openat', a); return this.fd(); }
  mkdirat(...a: ArgsOf<'mkdirat'>) { this.record('mkdirat', a); }
  fcntl(...a: ArgsOf<'fcntl'>) { this.record('fcntl', a); return 0; }
  closeRange(...a: ArgsOf<'closeRange'>) { this.record('closeRange', a); }
  joinSessionKeyring(...a: ArgsOf<'joinSessionKeyring'>) { this.record('joinSessionKeyring', a); return 1; }
  keyDescribe(...a: ArgsOf<'keyDescribe'>) { this.record('keyDescribe', a); return 'keyring;0;0;3f030000;_ses'; }
  keySetperm(...a: ArgsOf<'keySetperm'>) { this.record('keySetperm', a); }
  prctl(...a: ArgsOf<'prctl'>) { this.record('prctl', a); return 0; }
  /** What capget returns: a fully privileged thread (capabilities 0-40) unless a test sets it. */
  capSets: CapSets = { effective: (1n << 41n) - 1n, permitted: (1n << 41n) - 1n, inheritable: 0n };
  capget(): CapSets { this.record('capget', []); return { ...this.capSets }; }
  capset(...a: ArgsOf<'capset'>) { this.record('capset', a); this.capSets = { ...a[0] }; }
  setresuid(...a: ArgsOf<'setresuid'>) { this.record('setresuid', a); }
  setresgid(...a: ArgsOf<'setresgid'>) { this.record('setresgid', a); }
  setgroups(...a: ArgsOf<'setgroups'>) { this.record('setgroups', a); }
  setrlimit(...a: ArgsOf<'setrlimit'>) { this.record('setrlimit', a); }
  kill(...a: ArgsOf<'kill'>) { this.record('kill', a); }
  pidfdOpen(...a: ArgsOf<'pidfdOpen'>) { this.record('pidfdOpen', a); return this.fd(); }
  pidfdSendSignal(...a: ArgsOf<'pidfdSendSignal'>) { this.record('pidfdSendSignal', a); }
  resetSignals() { this.record('resetSignals', []); }
  personality(...a: ArgsOf<'personality'>) { this.record('personality', a); return 0; }
  schedSetattr(...a: ArgsOf<'schedSetattr'>) { this.record('schedSetattr', a); }
  schedSetaffinity(...a: ArgsOf<'schedSetaffinity'>) { this.record('schedSetaffinity', a); }
  ioprioSet(...a: ArgsOf<'ioprioSet'>) { this.record('ioprioSet', a); }
  execve(...a: ArgsOf<'execve'>): never {
    this.record('execve', a);
    throw new ExecveCalled(...a);
  }
  execveat(...a: ArgsOf<'execveat'>): never {
    this.record('execveat', a);
    throw new ExecveCalled(`fd ${a[0]}`, a[1], a[2]);
  }
  memfdCreate(...a: ArgsOf<'memfdCreate'>) { this.record('memfdCreate', a); return this.fd(); }
}
