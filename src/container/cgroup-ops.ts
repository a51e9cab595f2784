// pause, resume, ps, events and update: the commands that work on a container's cgroups.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { LinuxResources } from '../spec/types';
import type { CgroupStats } from '../cgroups';
import { StateError, TsrunError } from '../errors';
import { cgroupOf } from './cgroup';
import { hostResctrl, IntelRdtChange, updateIntelRdt } from './intel-rdt';
import { loadContainer, saveRecord, statusOf } from './state';

export function pauseContainer(root: string, id: string): void {
  const c = loadContainer(root, id);
  const status = statusOf(c);
  if (status !== 'running' && status !== 'created') throw new StateError(status === 'paused' ? 'container already paused' : 'container not running');
  cgroupOf(c.record!).freeze();
}

export function resumeContainer(root: string, id: string): void {
  const c = loadContainer(root, id);
  const status = statusOf(c);
  if (status !== 'paused') throw new StateError(status === 'stopped' ? 'container not running' : 'container not paused');
  cgroupOf(c.record!).thaw();
}

/** Host pids of every process of the container. */
export function containerPids(root: string, id: string): number[] {
  const c = loadContainer(root, id);
  if (!c.record) throw new StateError('container not running');
  return cgroupOf(c.record).pids();
}

/** `ps` table: the lines of `ps <psArgs>` (default -ef) whose PID column is one of ours. */
export function psTable(pids: number[], psArgs: string[]): string {
  const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    // No ps(1): a minimal table from /proc.
    const rows = pids.map((pid) => {
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        // exited
      }
      return `${String(pid).padStart(7)} ${cmd}`;
    });
    return ['    PID CMD', ...rows].join('\n') + '\n';
  }
  const lines = r.stdout.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new TsrunError(`ps ${psArgs.join(' ')}: no PID column in its output`);
  const wanted = new Set(pids);
  const rows = lines.slice(1).filter((l) => l.trim() && wanted.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...rows].join('\n') + '\n';
}

export interface StatsEvent {
  type: 'stats';
  id: string;
  data: CgroupStats & { intel_rdt: Record<string, never>; network_interfaces: null };
}

export function statsEvent(root: string, id: string): StatsEvent {
  const c = loadContainer(root, id);
  if (!c.record || statusOf(c) === 'stopped') throw new StateError('container not running');
  return { type: 'stats', id, data: { ...cgroupOf(c.record).stats(), intel_rdt: {}, network_interfaces: null } };
}

/** Go duration ("5s", "100ms", "1m30s") in milliseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text.trim();
  if (!rest) throw new TsrunError(`invalid duration ${JSON.stringify(text)}`);
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new TsrunError(`invalid duration ${JSON.stringify(text)}: use for example 5s, 500ms or 1m`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  if (total <= 0) throw new TsrunError(`invalid duration ${JSON.stringify(text)}: must be positive`);
  return total;
}

/**
 * `events`: a stats event every `intervalMs`, and an oom event whenever the OOM killer hit
 * the container, one JSON object per line, until the container stops.
 */
export async function streamEvents(root: string, id: string, intervalMs: number, write: (line: string) => void): Promise<void> {
  const c = loadContainer(root, id);
  if (!c.record || statusOf(c) === 'stopped') throw new StateError('container not running');
  const cg = cgroupOf(c.record);
  let ooms = cg.oomKills();
  let nextStats = Date.now();
  const tick = Math.min(100, intervalMs);
  for (;;) {
    const current = loadContainerOrUndefined(root, id);
    // OOM kills are looked at before the status: the kill may be what stopped it.
    const n = cg.oomKills();
    if (n > ooms) write(JSON.stringify({ type: 'oom', id }));
    ooms = n;
    if (!current || statusOf(current) === 'stopped') return;
    if (Date.now() >= nextStats) {
      write(JSON.stringify({ type: 'stats', id, data: { ...cg.stats(), intel_rdt: {}, network_interfaces: null } }));
      nextStats += intervalMs;
    }
    await new Promise((resolve) => setTimeout(resolve, tick));
  }
}

function loadContainerOrUndefined(root: string, id: string) {
  try {
    return loadContainer(root, id);
  } catch {
    return undefined;
  }
}

/** Zeros (and empty strings) mean "unset", as Docker and containerd send them. */
export function dropZeros(r: LinuxResources): LinuxResources {
  const clean = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(clean);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (x === 0 || x === '' || x === null || x === undefined) continue;
        const c2 = clean(x);
        if (c2 && typeof c2 === 'object' && !Array.isArray(c2) && Object.keys(c2).length === 0) continue;
        out[k] = c2;
      }
      return out;
    }
    return v;
  };
  return clean(r) as LinuxResources;
}

/** Merge `update` into `current` section by section (the stored config keeps the result). */
export function mergeResources(current: LinuxResources, update: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(update)) {
    const old = (current as Record<string, unknown>)[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && old && typeof old === 'object' && !Array.isArray(old) ? { ...old, ...v } : v;
  }
  return out as LinuxResources;
}

/** `update`: apply the sections given (merged with what the container has) and record them. */
export function updateContainer(root: string, id: string, update: LinuxResources): LinuxResources {
  const c = loadContainer(root, id);
  const status = statusOf(c);
  if (!c.record || status === 'stopped') throw new StateError('container not running');
  const record = c.record;
  const linux = (record.config.linux ??= {});
  const merged = mergeResources(linux.resources ?? {}, update);
  const touched: Record<string, unknown> = {};
  for (const k of Object.keys(update)) touched[k] = (merged as Record<string, unknown>)[k];
  // Memory: the whole merged section, so limit/swap ordering sees both.
  cgroupOf(record).apply(touched as LinuxResources, { update: true });
  linux.resources = merged;
  saveRecord(c.dir, record);
  return merged;
}

/** `update --l3-cache-schema/--mem-bw-schema`: see updateIntelRdt. */
export function updateContainerIntelRdt(root: string, id: string, change: IntelRdtChange): void {
  if (change.l3CacheSchema === undefined && change.memBwSchema === undefined) return;
  let resctrl: string | undefined;
  try {
    resctrl = hostResctrl();
  } catch {
    resctrl = undefined; // refused below, in runc's words
  }
  const c = loadContainer(root, id);
  if (!c.record || statusOf(c) === 'stopped') throw new StateError('container not running');
  const record = c.record;
  const linux = (record.config.linux ??= {});
  const { rdt, group } = updateIntelRdt({ rdt: linux.intelRdt, group: record.intelRdt }, change, record.id, record.pid, resctrl);
  linux.intelRdt = rdt;
  record.intelRdt = group;
  saveRecord(c.dir, record);
}

/** "64m", "1g", "1024", "-1": docker's RAMInBytes. */
export function parseBytes(text: string, flag: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) throw new TsrunError(`--${flag}: invalid size ${JSON.stringify(text)} (use e.g. 64m, 1g or -1)`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.trunc(Number(m[1]) * mult[m[2].toLowerCase()]);
}
