// Checks of a config against this host and the rootfs, made by `create` before the init is
// told to set anything up (the checks of the config alone are src/spec/checks.ts). Each
// throws a ConfigError naming the JSON pointer of the offending value, in runc's wording.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkBoundingSet } from '../security/capabilities';
import { fail, pointer } from '../spec/checks';
import { isBindMount } from '../spec/mount-options';
import type { Mount, Spec } from '../spec/types';

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
  if (spec.process?.capabilities) checkBoundingSet(spec.process.capabilities, file);
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
