// Checks of a config against this host and the rootfs, made by `create` before the init is
// told to set anything up (the checks of the config alone are src/spec/checks.ts). Each
// throws a ConfigError naming the JSON pointer of the offending value, in runc's wording.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings';
import { checkBoundingSet } from '../security/capabilities';
import { fail, pointer } from '../spec/checks';
import { isBindMount } from '../spec/mount-options';
import type { LinuxNamespaceType, Mount, Spec } from '../spec/types';

/**
 * Checks that need the host or the rootfs, made by `create` on the host side before the
 * init is told to set anything up: what the config asks must be possible and safe here.
 */
export function checkHostConfig(spec: Spec, file: string, rootfs: string, opts: { noPivot?: boolean } = {}): void {
  // runc's wording. Without pivot_root the host's mounts stay below the container's root.
  const propagation = spec.linux?.rootfsPropagation;
  if (opts.noPivot && (propagation === 'private' || propagation === 'rprivate')) {
    fail(file, '/linux/rootfsPropagation', `rootfsPropagation of [r]private is not safe without pivot_root (found ${JSON.stringify(propagation)} with --no-pivot)`);
  }
  checkProcSysMountpoints(spec, file, rootfs);
  checkMountsOverProc(spec, file, rootfs);
  checkNamespacePaths(spec, file);
  if (spec.process?.capabilities) checkBoundingSet(spec.process.capabilities, file);
}

/** How /proc/PID/fd names a namespace of each type ("net:[4026531840]"). */
const NS_PROC_NAMES: Record<LinuxNamespaceType, string> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

/**
 * A namespace path must be a namespace of its entry's type. Checked here, before anything is
 * made, since the join itself only fails with EINVAL, far from the entry (for pid, inside the
 * proc mount). O_PATH: opening never blocks (a fifo) nor touches a device. A path that cannot
 * be opened is left to the join, which names it.
 */
function checkNamespacePaths(spec: Spec, file: string): void {
  spec.linux?.namespaces?.forEach((ns, i) => {
    if (ns.path === undefined) return;
    let fd: number;
    try {
      fd = fs.openSync(ns.path, O.PATH | O.CLOEXEC);
    } catch {
      return;
    }
    let kind: string;
    try {
      kind = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } finally {
      fs.closeSync(fd);
    }
    const at = pointer('linux', 'namespaces', i, 'path');
    const m = /^(\w+):\[\d+\]$/.exec(kind);
    const what = `${ns.type} namespace path ${ns.path}`;
    if (!m) {
      // A bind-mounted namespace file (ip netns, CNI) names its mount point: its type is not
      // told there, and the join checks it.
      if (isNsfs(ns.path)) return;
      fail(file, at, `${what}: not a namespace (expected /proc/PID/ns/${NS_PROC_NAMES[ns.type]} or a bind mount of one)`);
    }
    if (m[1] !== NS_PROC_NAMES[ns.type]) fail(file, at, `${what}: not a namespace of type ${ns.type} (it is ${kind})`);
  });
}

const NSFS_MAGIC = 0x6e736673;

/** Whether p is a namespace file (nsfs): what a bind mount of /proc/PID/ns/X is. */
export function isNsfs(p: string): boolean {
  try {
    return fs.statfsSync(p).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

const isProcOrSysfs = (m: Mount) => m.type === 'proc' || m.type === 'sysfs';

/**
 * procfs and sysfs go on an ordinary directory (runc: "must be mounted on ordinary
 * directory"): a symlink there would put them wherever it points, inside the rootfs or, when
 * it is a mount of its own, over the container's root.
 */
function checkProcSysMountpoints(spec: Spec, file: string, rootfs: string): void {
  spec.mounts?.forEach((m, i) => {
    const dest = path.posix.normalize(`/${m.destination}`);
    if (!isProcOrSysfs(m) && dest !== '/proc' && dest !== '/sys') return;
    // The parent as the rootfs resolves it; the last component itself is not followed.
    const host = path.join(rootfs, resolveInRootfs(rootfs, path.posix.dirname(dest)), path.posix.basename(dest));
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return; // missing: the init makes a directory
    }
    if (st.isDirectory()) return;
    const what = st.isSymbolicLink() ? `a symlink (to ${JSON.stringify(fs.readlinkSync(host))})` : 'not a directory';
    fail(file, pointer('mounts', i, 'destination'), `${dest} in the rootfs is ${what}: filesystem ${JSON.stringify(m.type ?? m.source ?? '')} must be mounted on an ordinary directory`);
  });
}

/** The entries under /proc a mount may cover (runc's list: what lxcfs emulates). */
const PROC_FILES_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/sys/kernel/ns_last_pid', '/proc/sys/crypto/fips_enabled',
]);
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Nothing may hide the container's /proc or what is masked and read-only in it (runc's
 * checkProcMount): on /proc itself only a procfs (a proc mount, or a bind of a procfs);
 * under /proc only the few files lxcfs emulates. The destination is resolved inside the
 * rootfs first, so a symlink cannot lead a mount there.
 */
function checkMountsOverProc(spec: Spec, file: string, rootfs: string): void {
  spec.mounts?.forEach((m, i) => {
    const dest = resolveInRootfs(rootfs, m.destination);
    if (dest !== '/proc' && !dest.startsWith('/proc/')) return;
    const named = path.posix.normalize(`/${m.destination}`);
    const where = dest === named ? dest : `${named} (${dest} in the rootfs)`;
    if (dest === '/proc') {
      if (m.type === 'proc') return;
      if (isBindMount(m) && isProcfs(m.source)) return;
      const found = isBindMount(m) ? `a bind of ${JSON.stringify(m.source ?? '')}, not a procfs` : `type ${JSON.stringify(m.type ?? '')}`;
      fail(file, pointer('mounts', i, 'destination'), `${where} cannot be mounted because it is not of type proc (found ${found})`);
    }
    if (PROC_FILES_ALLOWED.has(dest)) return;
    fail(file, pointer('mounts', i, 'destination'), `${where} cannot be mounted because it is inside /proc (only ${[...PROC_FILES_ALLOWED].join(', ')} may be)`);
  });
}

function isProcfs(source: string | undefined): boolean {
  try {
    return source !== undefined && fs.statfsSync(source).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * A path in the container as the rootfs resolves it: symlinks followed (absolute ones from
 * the rootfs, never above it), the part that does not exist yet taken as written.
 */
export function resolveInRootfs(rootfs: string, p: string): string {
  const todo = p.split('/');
  const done: string[] = [];
  for (let links = 0; todo.length > 0;) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const target = symlinkTarget(path.join(rootfs, ...done, part));
    if (target === undefined || ++links > 40) {
      done.push(part);
      continue;
    }
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/'));
  }
  return `/${done.join('/')}`;
}

/** The target of a symlink; undefined for anything else, missing or unreadable included. */
function symlinkTarget(p: string): string | undefined {
  try {
    // lstat that does not throw first: most components are missing or plain directories.
    return fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() ? fs.readlinkSync(p) : undefined;
  } catch {
    return undefined; // ENOTDIR, EACCES: the init reports it when it gets there
  }
}
