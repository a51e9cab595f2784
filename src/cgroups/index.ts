// The cgroup module: which driver (v1 or v2) by looking at /sys/fs/cgroup, where a container's
// cgroups go (linux.cgroupsPath), and the driver for a recorded container.
//
//   /sys/fs/cgroup/cgroup.controllers exists     -> cgroup2 mounted there: v2
//   otherwise                                    -> v1 hierarchies under /sys/fs/cgroup/<ctrl>,
//   plus /sys/fs/cgroup/unified/cgroup.controllers -> hybrid: also placed in the unified tree
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsrunError } from '../errors';
import { Cgroup, CgroupFs, CgroupRecord, realFs } from './common';
import { CgroupV1 } from './v1';
import { CgroupV2, DeviceProgramLoader } from './v2';

export * from './common';
export { CgroupV1 } from './v1';
export { CgroupV2 } from './v2';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export interface Layout {
  root: string;
  version: 1 | 2;
  /** v1: controller -> mount directory. */
  v1: Record<string, string>;
  /** The cgroup2 mount: the root itself on v2, <root>/unified on hybrid hosts. */
  unified?: string;
}

let hostLayout: Layout | undefined;

/** The layout of the host's cgroup mounts (found once per process: it does not change). */
export function detectLayout(root = CGROUP_ROOT): Layout {
  if (root !== CGROUP_ROOT) return scanLayout(root);
  hostLayout ??= scanLayout(root);
  return hostLayout;
}

function scanLayout(root: string): Layout {
  if (fs.existsSync(path.join(root, 'cgroup.controllers'))) return { root, version: 2, v1: {}, unified: root };
  const layout: Layout = { root, version: 1, v1: {} };
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (err) {
    throw new TsrunError(`cgroups: cannot read ${root}: ${(err as Error).message}`);
  }
  for (const e of entries) {
    const dir = path.join(root, e.name);
    if (e.name === 'unified') {
      if (fs.existsSync(path.join(dir, 'cgroup.controllers'))) layout.unified = dir;
      continue;
    }
    // Co-mounted hierarchies appear once as a directory ("cpu,cpuacct") plus symlinks.
    if (!e.isDirectory() || !fs.existsSync(path.join(dir, 'cgroup.procs'))) continue;
    // Named hierarchies hold no resources; name=systemd is joined all the same, as runc does
    // (it is where a systemd host and `systemd-cgls` look for the container's processes).
    if (e.name.startsWith('name=')) continue;
    for (const ctrl of e.name.split(',')) layout.v1[ctrl] = dir;
  }
  if (Object.keys(layout.v1).length === 0 && !layout.unified) throw new TsrunError(`cgroups: no cgroup hierarchy found under ${root}`);
  return layout;
}

/** /proc/self/cgroup as controller -> path ("" for the v2 line "0::/path"). */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1].split(',')) out[c.replace(/^name=/, '')] = m[2];
  }
  return out;
}

export function ownCgroups(): Record<string, string> {
  try {
    return parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return {};
  }
}

/**
 * Take and release the kernel's cgroup attach lock by moving ourselves into the cgroup we are
 * already in (a no-op move). The first cgroup.procs write after a quiet spell waits for an
 * RCU grace period (cgroup_threadgroup_rwsem: 10-25 ms on these machines) and the lock stays
 * cheap for about one more grace period after each use: `create` does this while the init
 * sets up, so that the init's own join, its last step before `ready`, does not wait. Best
 * effort: a failure only means the join pays the wait, as it would anyway.
 */
export function warmAttachLock(layout: Layout, own = ownCgroups()): void {
  const file = ownProcsFile(layout, own);
  if (!file) return;
  try {
    fs.writeFileSync(file, '0');
  } catch {
    // not ours to write (a read-only cgroupfs, a rootless caller): the join just waits
  }
}

/**
 * The same on libuv's thread pool ("0" is the writing thread: a no-op move of our process):
 * one request, so it goes on while our main thread is busy; resolves when done, never rejects.
 */
export function warmAttachLockInBackground(layout: Layout, own = ownCgroups()): Promise<void> {
  const file = ownProcsFile(layout, own);
  if (!file) return Promise.resolve();
  let fd: number;
  try {
    fd = fs.openSync(file, 'w');
  } catch {
    return Promise.resolve(); // not ours to write: the join just waits
  }
  return new Promise((resolve) => fs.write(fd, '0', () => {
    fs.closeSync(fd);
    resolve();
  }));
}

/** One cgroup.procs file of our own cgroups (the unified one when there is one). */
function ownProcsFile(layout: Layout, own: Record<string, string>): string | undefined {
  const v1 = Object.entries(layout.v1).find(([ctrl]) => own[ctrl] !== undefined);
  const dir = layout.unified !== undefined && own[''] !== undefined
    ? path.join(layout.unified, own[''])
    : v1 && path.join(v1[1], own[v1[0]]);
  return dir && path.join(dir, 'cgroup.procs');
}

/**
 * Where the container's cgroups go. cgroupsPath absolute: that path in every hierarchy;
 * relative: below tsrun's own cgroup in each hierarchy (as runc); absent: "/<id>" (runc's
 * cgroupfs default is the id below its own cgroup, which nests containers in whatever
 * cgroup the caller happened to run in).
 */
export function resolveCgroup(id: string, cgroupsPath: string | undefined, layout: Layout, own = ownCgroups()): CgroupRecord {
  if (cgroupsPath && /^[^/:]*:[^:/]*:[^:/]*$/.test(cgroupsPath)) {
    throw new TsrunError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} is in the systemd form slice:prefix:name, which is not supported without systemd (tsrun has no systemd cgroup driver); use a path such as /mygroup/${id}`);
  }
  const wanted = cgroupsPath || `/${id}`;
  const inner = (ctrl: string) => {
    const base = path.posix.isAbsolute(wanted) ? '/' : own[ctrl] ?? '/';
    // Cleaned against "/" so ".." can never climb out of the hierarchy (or the base).
    return path.posix.join(base, path.posix.join('/', wanted));
  };
  if (inner('') === '/' || (layout.version === 1 && Object.keys(layout.v1).some((c) => inner(c) === '/'))) {
    throw new TsrunError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} names the root cgroup`);
  }
  if (layout.version === 2) return { version: 2, dirs: { unified: path.join(layout.unified!, inner('')) }, created: [] };
  const dirs: Record<string, string> = {};
  for (const [ctrl, mount] of Object.entries(layout.v1)) dirs[ctrl] = path.join(mount, inner(ctrl));
  if (layout.unified) dirs.unified = path.join(layout.unified, inner(''));
  return { version: 1, dirs, created: [] };
}

export interface OpenOptions {
  fs?: CgroupFs;
  loadDevices?: DeviceProgramLoader;
}

export function openCgroup(record: CgroupRecord, opts: OpenOptions = {}): Cgroup {
  return record.version === 2 ? new CgroupV2(record, opts.fs ?? realFs, opts.loadDevices) : new CgroupV1(record, opts.fs ?? realFs);
}

/** True when the container's cgroup is frozen (state reports "paused"). */
export function recordFrozen(record: CgroupRecord | undefined): boolean {
  if (!record) return false;
  try {
    return openCgroup(record).isFrozen();
  } catch {
    return false;
  }
}
