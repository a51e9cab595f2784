// What both drivers share: the interface, the record kept in state.json, file helpers, and
// the create/destroy mechanics (mkdir recording what was made; kill, wait, rmdir with retries).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings/constants';
import type { LinuxResources } from '../spec/types';
import { TsrunError } from '../errors';

/** What state.json keeps about a container's cgroups: enough for every later command. */
export interface CgroupRecord {
  version: 1 | 2;
  /**
   * Absolute cgroup directories. v1: controller name -> dir (co-mounted controllers share
   * one), plus "unified" on hybrid hosts. v2: "unified" only.
   */
  dirs: Record<string, string>;
  /** Directories create made, parents first: destroy removes them (children first) when empty. */
  created: string[];
}

/** runc's stats types (libcontainer/cgroups Stats as `runc events` prints them). */
export interface CgroupStats {
  cpu: {
    usage: { total?: number; percpu?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: number; max?: number; failcnt: number }>;
}
export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface ApplyOptions {
  /** `update`: devices are left alone and checkBeforeUpdate is honoured. */
  update?: boolean;
  /** Rootless: no device cgroup (the program or devices.deny needs host privileges). */
  skipDevices?: boolean;
}

/** One container's cgroups, whichever the version. */
export interface Cgroup {
  readonly record: CgroupRecord;
  readonly version: 1 | 2;
  /** mkdir the directories (and v2: enable controllers; v1: seed cpuset). */
  create(): void;
  /** Write linux.resources; invalid or unsupported values fail naming the field. */
  apply(resources: LinuxResources, opts?: ApplyOptions): void;
  /** The cgroup.procs files a process writes itself to (the init joins late). */
  procsFiles(): string[];
  join(pid: number): void;
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /** Host pids of every process in the cgroup (and below). */
  pids(): number[];
  stats(): CgroupStats;
  /** OOM kills so far (memory.oom_control oom_kill / memory.events oom_kill). */
  oomKills(): number;
  /** Kill what is left, then remove every directory create made. */
  destroy(): void;
}

/** Filesystem operations the drivers use; unit tests replace mkdir/rmdir to act like cgroupfs. */
export interface CgroupFs {
  mkdir(dir: string): void;
  rmdir(dir: string): void;
}
export const realFs: CgroupFs = {
  mkdir: (dir) => fs.mkdirSync(dir, { mode: 0o755 }),
  rmdir: (dir) => fs.rmdirSync(dir),
};

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Write a cgroup file (O_WRONLY|O_TRUNC, never creating it); errors name the field and file. */
export function writeFile(dir: string, file: string, value: string | number, field?: string): void {
  const p = path.join(dir, file);
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_TRUNC | O.CLOEXEC);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new TsrunError(`${field ? `${field}: ` : ''}not supported on this host: ${p} does not exist`);
    }
    throw new TsrunError(`${field ? `${field}: ` : ''}opening ${p}: ${(err as Error).message}`);
  }
  try {
    fs.writeSync(fd, String(value));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EINVAL' ? 'invalid argument (EINVAL)' : e.code === 'EBUSY' ? 'device or resource busy (EBUSY)' : e.message;
    throw new TsrunError(`${field ? `${field}: ` : ''}writing ${JSON.stringify(String(value))} to ${p}: ${why}`);
  } finally {
    fs.closeSync(fd);
  }
}

export function readFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function exists(dir: string, file: string): boolean {
  return fs.existsSync(path.join(dir, file));
}

/** A number from a cgroup file; "max" and missing files give undefined. */
export function readNumber(dir: string, file: string): number | undefined {
  const text = readFile(dir, file);
  if (text === undefined || text === '' || text === 'max') return undefined;
  const n = Number(text.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function readKeyed(dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readFile(dir, file) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/** mkdir -p that records the directories it made (parents first). */
/** EACCES, EPERM or EROFS, also once wrapped in a TsrunError that names it (as mkdirRecording's). */
export function isPermissionError(err: unknown): boolean {
  const text = (err as Error).message ?? '';
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /\b(EACCES|EPERM|EROFS)\b/.test(text);
}

export function mkdirRecording(dir: string, created: string[], cfs: CgroupFs): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    if (d === path.dirname(d)) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      cfs.mkdir(d);
      created.push(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TsrunError(`creating cgroup ${d}: ${(err as Error).message}`);
    }
  }
}

/** Pids listed in <dir>/cgroup.procs and in every cgroup below it. */
export function procsBelow(dir: string): number[] {
  const out = new Set<number>();
  const walk = (d: string, depth: number): void => {
    for (const line of (readFile(d, 'cgroup.procs') ?? '').split('\n')) if (/^\d+$/.test(line)) out.add(Number(line));
    if (depth > 16) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name), depth + 1);
  };
  walk(dir, 0);
  return [...out].sort((a, b) => a - b);
}

/** Remove a cgroup dir and the sub-cgroups a container may have made (children first). */
export function removeTree(dir: string, cfs: CgroupFs): void {
  // Most containers have no child cgroups: try the rmdir before listing the directory.
  try {
    cfs.rmdir(dir);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
  }
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
  }
  for (const e of entries) if (e.isDirectory()) removeTree(path.join(dir, e.name), cfs);
  // EBUSY while the last killed processes are still being torn down: retry for a while.
  for (let attempt = 0; ; attempt++) {
    try {
      cfs.rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if ((code !== 'EBUSY' && code !== 'ENOTEMPTY') || attempt >= 100) {
        throw new TsrunError(`removing cgroup ${dir}: ${(err as Error).message}`);
      }
      sleepMs(Math.min(10 * (attempt + 1), 100));
    }
  }
}

/** SIGKILL every process listed, until none is left (or the time runs out). */
export function killAll(list: () => number[], thaw: () => void, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; ; round++) {
    const pids = list();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // v1 frozen tasks die only once thawed.
    if (round === 0) thaw();
    if (Date.now() > deadline) return;
    sleepMs(Math.min(5 * (round + 1), 50));
  }
}

/** Parse "maj:min key=value ..." lines (io.stat) or "maj:min Op value" lines (blkio). */
export function parseDevNum(text: string): [number, number] {
  const [ma, mi] = text.split(':').map(Number);
  return [ma, mi];
}

/** Integer check for a resource field: fails with the field name. */
export function checkInt(field: string, v: number, min = -Infinity, max = Infinity): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = Number.isFinite(min) && Number.isFinite(max) ? ` (${min}..${max})` : Number.isFinite(min) ? ` (>= ${min})` : '';
    throw new TsrunError(`${field}: invalid value ${v}${range ? `, expected an integer${range}` : ', expected an integer'}`);
  }
}

/** runc: v2 cpu.weight from v1 shares. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.trunc(((shares - 2) * 9999) / 262142);
}

/** runc: v2 io.weight from blkio weight (10..1000). */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.trunc(((weight - 10) * 9999) / 990);
}

export function isSet(v: number | undefined | null): v is number {
  return v !== undefined && v !== null && v !== 0;
}
