// The libc surface tsrun uses. libc.ts implements it with ffi-rs; fake.ts records calls for
// unit tests. Every call throws SysError on failure.
// Built on first use: node:os is not loaded by commands that never see an errno (state).
let errnoNames: Map<number, string> | undefined;

export function errnoName(errno: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  errnoNames ??= new Map(Object.entries((require('node:os') as typeof import('node:os')).constants.errno).map(([name, value]) => [value as number, name]));
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** A failed system call: names the call, its main argument, and the errno. */
export class SysError extends Error {
  override name = 'SysError';
  readonly code: string;
  constructor(
    readonly call: string,
    readonly arg: string,
    readonly errno: number,
    text: string,
  ) {
    const code = errnoName(errno);
    super(`${call} ${arg}: ${text} (${code})`);
    this.code = code;
  }
}

/** A thread's capability sets as 64-bit masks (bit n = capability number n). */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** struct sched_attr (linux/sched/types.h); times in nanoseconds. */
export interface SchedAttr {
  policy: number;
  flags: bigint;
  nice: number;
  priority: number;
  runtime: bigint;
  deadline: bigint;
  period: bigint;
}

/** struct mount_attr (mount_setattr(2)): attributes to set and clear, a user namespace fd for MOUNT_ATTR_IDMAP. */
export interface MountAttr {
  attrSet: number;
  attrClr?: number;
  propagation?: number;
  usernsFd?: number;
}

export interface Libc {
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  /** open_tree(2): an fd of the mount at path, or (OPEN_TREE_CLONE) of a detached copy of it. */
  openTree(dirfd: number, path: string, flags: number): number;
  /** mount_setattr(2) on the mount at dirfd/path (AT_EMPTY_PATH: dirfd itself). */
  mountSetattr(dirfd: number, path: string, flags: number, attr: MountAttr): void;
  /** set_mempolicy(2) for the calling thread: a MPOL_* mode (with MPOL_F_* flags) and its nodes (0..1023). */
  setMempolicy(mode: number, nodes: number[]): void;
  /** move_mount(2): attach or move a mount (MOVE_MOUNT_F/T_EMPTY_PATH: the fds themselves). */
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  chdir(path: string): void;
  fchdir(fd: number): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  mknod(path: string, mode: number, dev: bigint): void;
  mkfifo(path: string, mode: number): void;
  /** openat2(2) with RESOLVE_* flags; returns the new fd. */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  openat(dirfd: number, path: string, flags: number, mode: number): number;
  mkdirat(dirfd: number, path: string, mode: number): void;
  fcntl(fd: number, cmd: number, arg: number): number;
  closeRange(first: number, last: number, flags: number): void;
  /** keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new (or the named) session keyring for this thread; its serial. */
  joinSessionKeyring(name: string): number;
  /** keyctl(KEYCTL_DESCRIBE): "type;uid;gid;perm;description". */
  keyDescribe(key: number): string;
  /** keyctl(KEYCTL_SETPERM). */
  keySetperm(key: number, perm: number): void;
  /** prctl(2); arg3 (default 0) for options such as PR_CAP_AMBIENT. */
  prctl(option: number, arg2: number, arg3?: number): number;
  /** capget(2) of the calling thread (header version 3, 64-bit sets). */
  capget(): CapSets;
  /**
   * capset(2) of the calling thread only: unlike setresuid, glibc does not broadcast it to
   * the other threads, so it must run on the thread that will execve.
   */
  capset(sets: CapSets): void;
  setresuid(uid: number): void;
  setresgid(gid: number): void;
  setgroups(gids: number[]): void;
  /** prlimit(2) on the calling process; values >= 2^64-1 mean unlimited. */
  setrlimit(resource: number, soft: number, hard: number): void;
  kill(pid: number, signal: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  /** Reset every signal disposition to default and unblock all: execve keeps SIG_IGN. */
  resetSignals(): void;
  /** personality(2); returns the previous persona. */
  personality(persona: number): number;
  /** sched_setattr(2) of the calling thread (struct sched_attr, SCHED_ATTR_SIZE_VER1). */
  schedSetattr(attr: SchedAttr): void;
  /** sched_setaffinity(2) of the calling thread; cpus are CPU numbers. */
  schedSetaffinity(cpus: number[]): void;
  /** ioprio_set(IOPRIO_WHO_PROCESS, 0 = the calling thread, ioprio). */
  ioprioSet(ioprio: number): void;
  /** Replaces the process image; returns only by throwing. */
  execve(path: string, argv: string[], envp: string[]): never;
  /** execveat(fd, "", argv, envp, AT_EMPTY_PATH): run the file an fd opened earlier; returns only by throwing. */
  execveat(fd: number, argv: string[], envp: string[]): never;
  /** memfd_create(2): an anonymous file, returned as an fd. */
  memfdCreate(name: string, flags: number): number;
}
