// The real Libc: glibc through ffi-rs (loaded by load-ffi.ts on the first call, through c.ts).
// Calls run synchronously on the calling (main) thread, which is what namespace work needs.
import type * as ffi from 'ffi-rs';
import { addressOf, calloc, checked as check, free, libcCall as call, sysError, T, u8, view } from './c';
import { Libc } from './types';

/** Syscall numbers for calls glibc 2.36 has no wrapper for. */
const SYSCALLS: Record<string, Record<string, number>> = {
  x64: { keyctl: 250, execveat: 322, memfd_create: 319, pivot_root: 155, ioprio_set: 251, sched_setattr: 314, pidfd_send_signal: 424, open_tree: 428, move_mount: 429, pidfd_open: 434, close_range: 436, openat2: 437, mount_setattr: 442, set_mempolicy: 238 },
  arm64: { keyctl: 219, execveat: 281, memfd_create: 279, pivot_root: 41, ioprio_set: 30, sched_setattr: 274, pidfd_send_signal: 424, open_tree: 428, move_mount: 429, pidfd_open: 434, close_range: 436, openat2: 437, mount_setattr: 442, set_mempolicy: 237 },
};

/** Node masks for set_mempolicy(2) cover nodes 0..1023. */
const MEMPOLICY_WORDS = 16;

function syscallNumber(name: string): number {
  const table = SYSCALLS[process.arch];
  if (!table) throw new Error(`tsrun does not know the syscall numbers of ${process.arch}`);
  return table[name];
}

/** A NULL-terminated char*[] in C memory (ffi-rs string arrays are not NULL-terminated). */
function cStringArray(items: string[]): ffi.JsExternal {
  const array = calloc((items.length + 1) * 8);
  const pointers = view(array, (items.length + 1) * 8);
  items.forEach((item, i) => {
    const copy = call<ffi.JsExternal>('strdup', T.External, [T.String], [item]);
    pointers.writeBigUInt64LE(addressOf(copy.value), i * 8);
  });
  return array;
}

const KEYCTL_SETPERM = 5;
const KEYCTL_DESCRIBE = 6;
const KEYCTL_JOIN_SESSION_KEYRING = 1;

const RLIM_INFINITY = 0xffffffffffffffffn;
/** JSON cannot carry 2^64-1 exactly: anything at or past 2^64 - 2^11 is "unlimited". */
function rlimitValue(value: number): bigint {
  return value >= 18446744073709549568 ? RLIM_INFINITY : BigInt(Math.trunc(value));
}

/** _LINUX_CAPABILITY_VERSION_3: 64-bit sets in two u32 data structs. */
const CAP_VERSION_3 = 0x20080522;
const CAP_DATA_SIZE = 24;
/** struct __user_cap_header_struct { u32 version; int pid } for the calling thread (pid 0). */
function capHeader(): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(CAP_VERSION_3, 0);
  header.writeInt32LE(0, 4);
  return header;
}


export function createLibc(): Libc {
  return {
    unshare: (flags) => void check('unshare', `0x${flags.toString(16)}`, 'unshare', [T.I32], [flags]),
    setns: (fd, nstype) => void check('setns', `fd ${fd}`, 'setns', [T.I32, T.I32], [fd, nstype]),
    mount(source, target, fstype, flags, data) {
      const what = fstype ? `${fstype} ${source}` : source;
      check('mount', `${what} on ${target} (flags 0x${flags.toString(16)})`, 'mount',
        [T.String, T.String, T.String, T.U64, T.String], [source, target, fstype, flags, data]);
    },
    umount2: (target, flags) => void check('umount2', target, 'umount2', [T.String, T.I32], [target, flags]),
    openTree: (dirfd, path, flags) =>
      check('open_tree', path || `fd ${dirfd}`, 'syscall', [T.I64, T.I32, T.String, T.U32], [syscallNumber('open_tree'), dirfd, path, flags]),
    mountSetattr(dirfd, path, flags, attr) {
      // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd } (MOUNT_ATTR_SIZE_VER0)
      const buf = Buffer.alloc(32);
      [attr.attrSet, attr.attrClr ?? 0, attr.propagation ?? 0, attr.usernsFd ?? 0].forEach((v, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), i * 8));
      check('mount_setattr', path || `fd ${dirfd}`, 'syscall', [T.I64, T.I32, T.String, T.U32, u8(32), T.U64],
        [syscallNumber('mount_setattr'), dirfd, path, flags, buf, 32]);
    },
    setMempolicy(mode, nodes) {
      // unsigned long nodemask[MEMPOLICY_WORDS], maxnode = its size in bits
      const buf = Buffer.alloc(MEMPOLICY_WORDS * 8);
      for (const n of nodes) buf.writeBigUInt64LE(buf.readBigUInt64LE(Math.floor(n / 64) * 8) | (1n << BigInt(n % 64)), Math.floor(n / 64) * 8);
      check('set_mempolicy', `mode ${mode}`, 'syscall', [T.I64, T.I32, u8(MEMPOLICY_WORDS * 8), T.U64],
        [syscallNumber('set_mempolicy'), mode, buf, MEMPOLICY_WORDS * 64]);
    },
    moveMount(fromDirfd, fromPath, toDirfd, toPath, flags) {
      check('move_mount', `${fromPath || `fd ${fromDirfd}`} to ${toPath || `fd ${toDirfd}`}`, 'syscall',
        [T.I64, T.I32, T.String, T.I32, T.String, T.U32], [syscallNumber('move_mount'), fromDirfd, fromPath, toDirfd, toPath, flags]);
    },
    pivotRoot(newRoot, putOld) {
      check('pivot_root', newRoot, 'syscall', [T.I64, T.String, T.String], [syscallNumber('pivot_root'), newRoot, putOld]);
    },
    chroot: (path) => void check('chroot', path, 'chroot', [T.String], [path]),
    chdir: (path) => void check('chdir', path, 'chdir', [T.String], [path]),
    fchdir: (fd) => void check('fchdir', `fd ${fd}`, 'fchdir', [T.I32], [fd]),
    sethostname: (name) => void check('sethostname', JSON.stringify(name), 'sethostname', [T.String, T.U64], [name, Buffer.byteLength(name)]),
    setdomainname: (name) => void check('setdomainname', JSON.stringify(name), 'setdomainname', [T.String, T.U64], [name, Buffer.byteLength(name)]),
    mknod: (path, mode, dev) => void check('mknod', path, 'mknod', [T.String, T.U32, T.U64], [path, mode, Number(dev)]),
    mkfifo: (path, mode) => void check('mkfifo', path, 'mkfifo', [T.String, T.U32], [path, mode]),
    openat2(dirfd, path, flags, mode, resolve) {
      const how = Buffer.alloc(24);
      how.writeBigUInt64LE(BigInt(flags), 0);
      how.writeBigUInt64LE(BigInt(mode), 8);
      how.writeBigUInt64LE(BigInt(resolve), 16);
      return check('openat2', path, 'syscall', [T.I64, T.I32, T.String, u8(24), T.U64],
        [syscallNumber('openat2'), dirfd, path, how, 24]);
    },
    openat: (dirfd, path, flags, mode) => check('openat', path, 'openat', [T.I32, T.String, T.I32, T.U32], [dirfd, path, flags, mode]),
    mkdirat: (dirfd, path, mode) => void check('mkdirat', path, 'mkdirat', [T.I32, T.String, T.U32], [dirfd, path, mode]),
    fcntl: (fd, cmd, arg) => check('fcntl', `fd ${fd}`, 'fcntl', [T.I32, T.I32, T.I64], [fd, cmd, arg]),
    closeRange(first, last, flags) {
      check('close_range', `${first}..${last}`, 'syscall', [T.I64, T.U32, T.U32, T.U32], [syscallNumber('close_range'), first, last, flags]);
    },
    joinSessionKeyring: (name) =>
      check('keyctl', `KEYCTL_JOIN_SESSION_KEYRING ${JSON.stringify(name)}`, 'syscall', [T.I64, T.I32, T.String], [syscallNumber('keyctl'), KEYCTL_JOIN_SESSION_KEYRING, name]),
    keyDescribe(key) {
      const size = 512;
      const buf = calloc(size); // the kernel writes C memory, read back through a view
      try {
        const n = check('keyctl', `KEYCTL_DESCRIBE ${key}`, 'syscall', [T.I64, T.I32, T.I32, T.External, T.U64],
          [syscallNumber('keyctl'), KEYCTL_DESCRIBE, key, buf, size]);
        return view(buf, size).subarray(0, Math.max(0, Math.min(n, size) - 1)).toString('utf8');
      } finally {
        free(buf);
      }
    },
    keySetperm(key, perm) {
      check('keyctl', `KEYCTL_SETPERM ${key}`, 'syscall', [T.I64, T.I32, T.I32, T.U32], [syscallNumber('keyctl'), KEYCTL_SETPERM, key, perm >>> 0]);
    },
    prctl: (option, arg2, arg3 = 0) =>
      check('prctl', String(option), 'prctl', [T.I32, T.U64, T.U64, T.U64, T.U64], [option, arg2, arg3, 0, 0]),
    capget() {
      // The kernel writes the two data structs: give it C memory and read it back.
      const data = calloc(CAP_DATA_SIZE);
      try {
        check('capget', 'pid 0', 'capget', [u8(8), T.External], [capHeader(), data]);
        const sets = view(data, CAP_DATA_SIZE);
        const word = (set: number) => BigInt(sets.readUInt32LE(set * 4)) | (BigInt(sets.readUInt32LE(12 + set * 4)) << 32n);
        return { effective: word(0), permitted: word(1), inheritable: word(2) };
      } finally {
        free(data);
      }
    },
    capset(sets) {
      // struct __user_cap_data_struct[2] { u32 effective, permitted, inheritable }: low words, then high.
      const data = Buffer.alloc(CAP_DATA_SIZE);
      [sets.effective, sets.permitted, sets.inheritable].forEach((mask, set) => {
        data.writeUInt32LE(Number(mask & 0xffffffffn), set * 4);
        data.writeUInt32LE(Number((mask >> 32n) & 0xffffffffn), 12 + set * 4);
      });
      const hex = (m: bigint) => m.toString(16);
      check('capset', `eff=${hex(sets.effective)} prm=${hex(sets.permitted)} inh=${hex(sets.inheritable)}`, 'capset',
        [u8(8), u8(CAP_DATA_SIZE)], [capHeader(), data]);
    },
    setresuid: (uid) => void check('setresuid', String(uid), 'setresuid', [T.U32, T.U32, T.U32], [uid, uid, uid]),
    setresgid: (gid) => void check('setresgid', String(gid), 'setresgid', [T.U32, T.U32, T.U32], [gid, gid, gid]),
    setgroups(gids) {
      const list = Buffer.alloc(Math.max(gids.length, 1) * 4);
      gids.forEach((gid, i) => list.writeUInt32LE(gid, i * 4));
      check('setgroups', gids.join(','), 'setgroups', [T.U64, u8(list.length)], [gids.length, list]);
    },
    setrlimit(resource, soft, hard) {
      const limits = Buffer.alloc(16);
      limits.writeBigUInt64LE(rlimitValue(soft), 0);
      limits.writeBigUInt64LE(rlimitValue(hard), 8);
      check('prlimit', `resource ${resource}`, 'prlimit', [T.I32, T.I32, u8(16), T.I64], [0, resource, limits, 0]);
    },
    kill: (pid, signal) => void check('kill', `pid ${pid}`, 'kill', [T.I32, T.I32], [pid, signal]),
    pidfdOpen: (pid) => check('pidfd_open', `pid ${pid}`, 'syscall', [T.I64, T.I32, T.U32], [syscallNumber('pidfd_open'), pid, 0]),
    pidfdSendSignal(pidfd, signal) {
      check('pidfd_send_signal', `fd ${pidfd}`, 'syscall', [T.I64, T.I32, T.I32, T.I64, T.U32],
        [syscallNumber('pidfd_send_signal'), pidfd, signal, 0, 0]);
    },
    resetSignals() {
      for (let sig = 1; sig < 65; sig++) {
        if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue;
        call('signal', T.I64, [T.I32, T.I64], [sig, 0]); // SIG_DFL
      }
      const empty = Buffer.alloc(128);
      call('sigprocmask', T.I32, [T.I32, u8(128), T.I64], [2 /* SIG_SETMASK */, empty, 0]);
    },
    personality: (persona) => check('personality', `0x${persona.toString(16)}`, 'personality', [T.U64], [persona]),
    schedSetattr(attr) {
      // struct sched_attr, SCHED_ATTR_SIZE_VER1 (56 bytes, with the util clamps left 0).
      const buf = Buffer.alloc(56);
      buf.writeUInt32LE(56, 0);
      buf.writeUInt32LE(attr.policy, 4);
      buf.writeBigUInt64LE(attr.flags, 8);
      buf.writeInt32LE(attr.nice, 16);
      buf.writeUInt32LE(attr.priority, 20);
      buf.writeBigUInt64LE(attr.runtime, 24);
      buf.writeBigUInt64LE(attr.deadline, 32);
      buf.writeBigUInt64LE(attr.period, 40);
      check('sched_setattr', `policy ${attr.policy}`, 'syscall', [T.I64, T.I32, u8(56), T.U32],
        [syscallNumber('sched_setattr'), 0, buf, 0]);
    },
    schedSetaffinity(cpus) {
      const size = Math.max(128, Math.ceil((Math.max(0, ...cpus) + 1) / 64) * 8);
      const mask = Buffer.alloc(size);
      for (const cpu of cpus) mask[cpu >> 3] |= 1 << (cpu & 7);
      check('sched_setaffinity', cpus.join(','), 'sched_setaffinity', [T.I32, T.U64, u8(size)], [0, size, mask]);
    },
    ioprioSet(ioprio) {
      check('ioprio_set', `0x${ioprio.toString(16)}`, 'syscall', [T.I64, T.I32, T.I32, T.I32],
        [syscallNumber('ioprio_set'), 1 /* IOPRIO_WHO_PROCESS */, 0, ioprio]);
    },
    execve(path, argv, envp) {
      const r = call('execve', T.I32, [T.String, T.External, T.External], [path, cStringArray(argv), cStringArray(envp)]);
      throw sysError('exec', path, r.errnoCode, r.errnoMessage);
    },
    execveat(fd, argv, envp) {
      const AT_EMPTY_PATH = 0x1000;
      const r = call('syscall', T.I64, [T.I64, T.I32, T.String, T.External, T.External, T.I32],
        [syscallNumber('execveat'), fd, '', cStringArray(argv), cStringArray(envp), AT_EMPTY_PATH]);
      throw sysError('execveat', `fd ${fd}`, r.errnoCode, r.errnoMessage);
    },
    memfdCreate: (name, flags) =>
      check('memfd_create', name, 'syscall', [T.I64, T.String, T.U32], [syscallNumber('memfd_create'), name, flags]),
  };
}
