// Which cgroups an exec'd process joins: exactly those of the container's init, read from
// /proc/<init pid>/cgroup (from the host's cgroup namespace, so host-relative) and mapped
// onto this host's cgroup mounts (v1 controllers, named hierarchies, the unified one).
// This follows the init wherever the cgroup code put it, without depending on how the
// container record stores its cgroup paths. `--cgroup` picks a sub-cgroup, as with runc.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StateError, TsrunError } from '../errors';
import { unescapeMountPath } from '../procfs';

interface CgroupMount {
  mountPoint: string;
  root: string;
  /** 'cgroup2', or the v1 super options (controllers, name=...). */
  keys: Set<string>;
  v2: boolean;
}

function cgroupMounts(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const f = line.slice(0, dash).split(' ');
    const [fstype, , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({
      mountPoint: unescapeMountPath(f[4]),
      root: unescapeMountPath(f[3]),
      keys: new Set(fstype === 'cgroup2' ? ['cgroup2'] : superOpts.split(',')),
      v2: fstype === 'cgroup2',
    });
  }
  return out;
}

/** hierarchy key ("cgroup2" or "cpu,cpuacct" / "name=systemd") -> path, from /proc/<pid>/cgroup. */
function membership(pid: number | 'self'): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    map.set(m[1] === '0' && m[2] === '' ? 'cgroup2' : m[2], m[3]);
  }
  return map;
}

export interface ExecCgroups {
  /** The cgroup.procs files the exec'd process writes its pid to. */
  join: string[];
  /**
   * Ours, in the same hierarchies: a foreground exec's tsrun-stage goes back to them once
   * it has forked the process (runc's exec parent is never in the container's cgroups).
   */
  home: string[];
}

/**
 * The cgroups an exec joins. `sub` is runc's --cgroup: "path" (every hierarchy) or
 * "ctrl[,ctrl]:path" (those controllers), relative to the container's cgroup; the
 * sub-cgroup must exist.
 */
export function execCgroupProcs(initPid: number, sub?: string): ExecCgroups {
  let init: Map<string, string>;
  try {
    init = membership(initPid);
  } catch {
    throw new StateError('cannot exec in a stopped container');
  }
  const own = membership('self');
  const subs = parseSub(sub);
  const mounts = cgroupMounts();
  const files: string[] = [];
  for (const [key, cgPath] of init) {
    const wanted = key.split(',').filter((k) => k !== '');
    const mount = mounts.find((m) => (key === 'cgroup2' ? m.v2 : !m.v2 && wanted.every((k) => m.keys.has(k))));
    if (!mount) continue; // a hierarchy not mounted here: nothing to join
    const subPath = subs && (subs.get('') ?? wanted.map((k) => subs.get(k)).find((s) => s !== undefined));
    if (!subPath && own.get(key) === cgPath) continue; // already there (e.g. no cgroup for this container)
    if (!cgPath.startsWith(mount.root)) continue; // outside what this mount shows
    const dir = path.join(mount.mountPoint, cgPath.slice(mount.root.length), subPath ?? '');
    const file = path.join(dir, 'cgroup.procs');
    if (subPath && !fs.existsSync(file)) throw new TsrunError(`--cgroup ${sub}: cgroup ${dir} does not exist`);
    files.push(file);
  }
  return { join: files, home: ownCgroupProcs(files) };
}

/** Our own cgroup.procs in the hierarchy of each of `files` (cgroup.procs files under a cgroup mount). */
export function ownCgroupProcs(files: string[]): string[] {
  const own = membership('self');
  const mounts = cgroupMounts();
  const out: string[] = [];
  for (const file of files) {
    const mount = mounts.find((m) => file.startsWith(m.mountPoint + path.sep));
    if (!mount) continue;
    const key = [...own.keys()].find((k) => (k === 'cgroup2' ? mount.v2 : !mount.v2 && k.split(',').filter(Boolean).every((c) => mount.keys.has(c))));
    const ownPath = key === undefined ? undefined : own.get(key);
    if (ownPath?.startsWith(mount.root)) out.push(path.join(mount.mountPoint, ownPath.slice(mount.root.length), 'cgroup.procs'));
  }
  return out;
}

function parseSub(sub: string | undefined): Map<string, string> | undefined {
  if (sub === undefined || sub === '') return undefined;
  const map = new Map<string, string>();
  for (const part of sub.split(';')) {
    const colon = part.indexOf(':');
    const [controllers, p] = colon < 0 ? ['', part] : [part.slice(0, colon), part.slice(colon + 1)];
    const clean = path.normalize(`/${p}`).slice(1);
    if (p.split('/').includes('..') || clean === '') throw new TsrunError(`--cgroup ${sub}: expected a path below the container's cgroup`);
    for (const c of controllers === '' ? [''] : controllers.split(',')) map.set(c, clean);
  }
  return map;
}
