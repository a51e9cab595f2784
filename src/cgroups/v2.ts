// cgroup v2 driver: one directory in the unified hierarchy. Controllers are enabled in every
// ancestor's cgroup.subtree_control; device rules become an eBPF program attached with bpf(2).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings/constants';
import type { LinuxResources } from '../spec/types';
import { TsrunError } from '../errors';
import { deviceProgram, deviceRules, encodeProgram } from './devices';
import {
  ApplyOptions, blkioToIoWeight, Cgroup, CgroupFs, CgroupRecord, CgroupStats, checkInt, exists, isSet, killAll,
  mkdirRecording, procsBelow, readFile, readKeyed, readNumber, realFs, removeTree, sharesToWeight, sleepMs, writeFile,
} from './common';
import { rdmaLine } from './v1';

/** Loads and attaches a device program; replaced in unit tests (no bpf there). */
export type DeviceProgramLoader = (cgroupDir: string, insns: Buffer) => void;

export const attachWithBpf: DeviceProgramLoader = (cgroupDir, insns) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bpf = require('../../bindings/bpf') as typeof import('../../bindings/bpf');
  const prog = bpf.loadDeviceProgram(insns);
  try {
    const dirFd = fs.openSync(cgroupDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | O.CLOEXEC);
    try {
      bpf.attachDeviceProgram(dirFd, prog);
    } finally {
      fs.closeSync(dirFd);
    }
  } finally {
    fs.closeSync(prog);
  }
};

export class CgroupV2 implements Cgroup {
  readonly version = 2 as const;
  constructor(
    readonly record: CgroupRecord,
    private readonly cfs: CgroupFs = realFs,
    private readonly loadDevices: DeviceProgramLoader = attachWithBpf,
  ) {}

  get dir(): string {
    return this.record.dirs.unified;
  }

  create(): void {
    // Parents first, then every available controller enabled on the way down (as runc).
    const parent = path.dirname(this.dir);
    mkdirRecording(parent, this.record.created, this.cfs);
    const ancestors: string[] = [];
    for (let d = parent; exists(d, 'cgroup.controllers'); d = path.dirname(d)) {
      ancestors.unshift(d);
      if (d === path.dirname(d)) break;
    }
    for (const a of ancestors) enableControllers(a);
    mkdirRecording(this.dir, this.record.created, this.cfs);
  }

  apply(r: LinuxResources, opts: ApplyOptions = {}): void {
    const d = this.dir;
    const base = 'linux.resources';
    if (!opts.update && !opts.skipDevices) this.loadDevices(d, encodeProgram(deviceProgram(deviceRules(r.devices))));
    const m = r.memory;
    if (m) {
      const f = `${base}.memory`;
      for (const k of ['limit', 'reservation', 'swap'] as const) {
        const v = m[k];
        if (v !== undefined && v !== null) checkInt(`${f}.${k}`, v, -1);
      }
      const limit = m.limit ?? 0;
      if (opts.update && m.checkBeforeUpdate && limit > 0) {
        const usage = readNumber(d, 'memory.current') ?? 0;
        if (limit < usage) throw new TsrunError(`${f}.limit: ${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
      }
      const swap = swapV2(m.swap ?? 0, limit, `${f}.swap`);
      // memory.swap.max is independent of memory.max: order does not matter.
      if (limit !== 0) writeFile(d, 'memory.max', limit === -1 ? 'max' : limit, `${f}.limit`);
      if (swap !== undefined) {
        if (exists(d, 'memory.swap.max')) writeFile(d, 'memory.swap.max', swap, `${f}.swap`);
        else if (swap !== 'max' && swap !== 0) throw new TsrunError(`${f}.swap: not supported on this host: swap accounting is off (no memory.swap.max)`);
      }
      if (isSet(m.reservation)) writeFile(d, 'memory.low', m.reservation === -1 ? 'max' : m.reservation, `${f}.reservation`);
      if (m.swappiness !== undefined && m.swappiness !== null && m.swappiness > 0) {
        throw new TsrunError(`${f}.swappiness: not supported on cgroup v2 (found ${m.swappiness})`);
      }
      if (m.disableOOMKiller) throw new TsrunError(`${f}.disableOOMKiller: not supported on cgroup v2`);
      if (isSet(m.kernelTCP)) throw new TsrunError(`${f}.kernelTCP: not supported on cgroup v2`);
    }
    const cpu = r.cpu;
    if (cpu) {
      const f = `${base}.cpu`;
      if (isSet(cpu.shares)) {
        checkInt(`${f}.shares`, cpu.shares, 2, 262144);
        writeFile(d, 'cpu.weight', sharesToWeight(cpu.shares), `${f}.shares`);
      }
      if (isSet(cpu.quota) || isSet(cpu.period)) {
        if (isSet(cpu.quota)) {
          checkInt(`${f}.quota`, cpu.quota, -1);
          if (cpu.quota > 0 && cpu.quota < 1000) throw new TsrunError(`${f}.quota: invalid value ${cpu.quota}, expected -1 or at least 1000 (microseconds)`);
        }
        if (isSet(cpu.period)) checkInt(`${f}.period`, cpu.period, 1000, 1_000_000);
        let value = isSet(cpu.quota) && cpu.quota > 0 ? String(cpu.quota) : 'max';
        if (isSet(cpu.period)) value += ` ${cpu.period}`;
        else if (value !== 'max') value += ` ${(readFile(d, 'cpu.max') ?? 'max 100000').split(' ')[1] ?? 100000}`;
        writeFile(d, 'cpu.max', value, isSet(cpu.quota) ? `${f}.quota` : `${f}.period`);
      }
      if (cpu.burst !== undefined && cpu.burst !== null) {
        checkInt(`${f}.burst`, cpu.burst, 0);
        writeFile(d, 'cpu.max.burst', cpu.burst, `${f}.burst`);
      }
      if (isSet(cpu.realtimePeriod)) throw new TsrunError(`${f}.realtimePeriod: not supported on cgroup v2`);
      if (isSet(cpu.realtimeRuntime)) throw new TsrunError(`${f}.realtimeRuntime: not supported on cgroup v2`);
      if (cpu.idle !== undefined && cpu.idle !== null) {
        checkInt(`${f}.idle`, cpu.idle, 0, 1);
        writeFile(d, 'cpu.idle', cpu.idle, `${f}.idle`);
      }
      if (cpu.cpus) writeFile(d, 'cpuset.cpus', cpu.cpus, `${f}.cpus`);
      if (cpu.mems) writeFile(d, 'cpuset.mems', cpu.mems, `${f}.mems`);
    }
    if (r.pids && isSet(r.pids.limit)) {
      checkInt(`${base}.pids.limit`, r.pids.limit, -1);
      writeFile(d, 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max', `${base}.pids.limit`);
    }
    if (r.blockIO) this.applyIo(r);
    r.hugepageLimits?.forEach((h, i) => {
      const f = `${base}.hugepageLimits[${i}]`;
      if (!exists(d, `hugetlb.${h.pageSize}.max`)) throw new TsrunError(`${f}.pageSize: page size ${JSON.stringify(h.pageSize)} is not supported on this host (no hugetlb.${h.pageSize}.max)`);
      writeFile(d, `hugetlb.${h.pageSize}.max`, h.limit, `${f}.limit`);
    });
    for (const [dev, v] of Object.entries(r.rdma ?? {})) writeFile(d, 'rdma.max', rdmaLine(dev, v), `${base}.rdma.${dev}`);
    if (r.network && (isSet(r.network.classID) || r.network.priorities?.length)) {
      throw new TsrunError(`${base}.network: net_cls/net_prio do not exist on cgroup v2`);
    }
    for (const [key, value] of Object.entries(r.unified ?? {})) {
      const field = `${base}.unified.${key}`;
      if (key.includes('/') || key.startsWith('.') || !key.includes('.')) throw new TsrunError(`${field}: invalid cgroup file name`);
      if (!exists(d, key)) throw new TsrunError(`${field}: no such cgroup file ${path.join(d, key)} (unknown key, or its controller is not available)`);
      writeFile(d, key, value, field);
    }
  }

  private applyIo(r: LinuxResources): void {
    const b = r.blockIO!;
    const d = this.dir;
    const f = 'linux.resources.blockIO';
    const bfq = exists(d, 'io.bfq.weight');
    if (isSet(b.weight)) {
      checkInt(`${f}.weight`, b.weight, 10, 1000);
      if (bfq) writeFile(d, 'io.bfq.weight', b.weight, `${f}.weight`);
      else writeFile(d, 'io.weight', `default ${blkioToIoWeight(b.weight)}`, `${f}.weight`);
    }
    if (isSet(b.leafWeight)) throw new TsrunError(`${f}.leafWeight: not supported on cgroup v2`);
    b.weightDevice?.forEach((w, i) => {
      if (!isSet(w.weight)) return;
      checkInt(`${f}.weightDevice[${i}].weight`, w.weight, 10, 1000);
      if (bfq) writeFile(d, 'io.bfq.weight', `${w.major}:${w.minor} ${w.weight}`, `${f}.weightDevice[${i}]`);
      else writeFile(d, 'io.weight', `${w.major}:${w.minor} ${blkioToIoWeight(w.weight)}`, `${f}.weightDevice[${i}]`);
    });
    const throttles = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ] as const;
    for (const [key, name] of throttles) {
      b[key]?.forEach((t, i) => {
        checkInt(`${f}.${key}[${i}].rate`, t.rate, 0);
        writeFile(d, 'io.max', `${t.major}:${t.minor} ${name}=${t.rate === 0 ? 'max' : t.rate}`, `${f}.${key}[${i}]`);
      });
    }
  }

  procsFiles(): string[] {
    return [path.join(this.dir, 'cgroup.procs')];
  }

  join(pid: number): void {
    writeFile(this.dir, 'cgroup.procs', pid);
  }

  freeze(): void {
    writeFile(this.dir, 'cgroup.freeze', 1, 'pause');
    for (let i = 0; i < 1000; i++) {
      if (this.isFrozen()) return;
      sleepMs(i < 10 ? 1 : 10);
    }
    writeFile(this.dir, 'cgroup.freeze', 0);
    throw new TsrunError(`pause: ${this.dir} did not freeze (cgroup.events never said frozen 1)`);
  }

  thaw(): void {
    if (fs.existsSync(this.dir)) writeFile(this.dir, 'cgroup.freeze', 0);
  }

  isFrozen(): boolean {
    return readFile(this.dir, 'cgroup.freeze') === '1' && readKeyed(this.dir, 'cgroup.events').frozen === 1;
  }

  pids(): number[] {
    return procsBelow(this.dir);
  }

  stats(): CgroupStats {
    const d = this.dir;
    const cpu = readKeyed(d, 'cpu.stat');
    const mem = readKeyed(d, 'memory.stat');
    const events = readKeyed(d, 'memory.events');
    const s: CgroupStats = {
      cpu: {
        usage: { total: (cpu.usage_usec ?? 0) * 1000, kernel: (cpu.system_usec ?? 0) * 1000, user: (cpu.user_usec ?? 0) * 1000 },
        throttling: { periods: cpu.nr_periods, throttledPeriods: cpu.nr_throttled, throttledTime: cpu.throttled_usec === undefined ? undefined : cpu.throttled_usec * 1000 },
      },
      memory: {
        cache: mem.file,
        usage: { limit: readNumber(d, 'memory.max') ?? 0, usage: readNumber(d, 'memory.current'), max: readNumber(d, 'memory.peak'), failcnt: events.max ?? 0 },
        swap: { limit: readNumber(d, 'memory.swap.max') ?? 0, usage: readNumber(d, 'memory.swap.current'), failcnt: 0 },
        kernel: { limit: 0, usage: mem.kernel, failcnt: 0 },
        kernelTCP: { limit: 0, usage: mem.sock, failcnt: 0 },
        raw: mem,
      },
      pids: { current: readNumber(d, 'pids.current'), limit: readNumber(d, 'pids.max') },
      blkio: {},
      hugetlb: {},
    };
    const bytes: CgroupStats['blkio']['ioServiceBytesRecursive'] = [];
    const ios: CgroupStats['blkio']['ioServicedRecursive'] = [];
    for (const line of (readFile(d, 'io.stat') ?? '').split('\n')) {
      const [dev, ...kv] = line.trim().split(/\s+/);
      if (!dev?.includes(':')) continue;
      const [major, minor] = dev.split(':').map(Number);
      const v = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, x]) => [k, Number(x)]));
      bytes.push({ major, minor, op: 'Read', value: v.rbytes ?? 0 }, { major, minor, op: 'Write', value: v.wbytes ?? 0 });
      ios.push({ major, minor, op: 'Read', value: v.rios ?? 0 }, { major, minor, op: 'Write', value: v.wios ?? 0 });
    }
    if (bytes.length) s.blkio = { ioServiceBytesRecursive: bytes, ioServicedRecursive: ios };
    let files: string[] = [];
    try {
      files = fs.readdirSync(d);
    } catch {
      // gone
    }
    for (const f of files) {
      const m = /^hugetlb\.([^.]+)\.current$/.exec(f);
      if (!m) continue;
      s.hugetlb[m[1]] = { usage: readNumber(d, f), max: readNumber(d, `hugetlb.${m[1]}.max`), failcnt: readKeyed(d, `hugetlb.${m[1]}.events`).max ?? 0 };
    }
    return s;
  }

  oomKills(): number {
    return readKeyed(this.dir, 'memory.events').oom_kill ?? 0;
  }

  destroy(): void {
    if (fs.existsSync(this.dir)) {
      // cgroup.kill (5.14+) kills everything below at once, frozen or not.
      if (exists(this.dir, 'cgroup.kill') && this.pids().length > 0) {
        try {
          writeFile(this.dir, 'cgroup.kill', 1);
        } catch {
          // fall back to signalling each pid
        }
      }
      killAll(() => this.pids(), () => this.thaw());
      removeTree(this.dir, this.cfs);
    }
    for (const d of [...this.record.created].reverse()) {
      try {
        this.cfs.rmdir(d);
      } catch {
        // gone already, or shared with other cgroups
      }
    }
  }
}

/** OCI swap is memory+swap; v2 memory.swap.max is swap alone (runc's conversion). */
function swapV2(swap: number, limit: number, field: string): number | 'max' | undefined {
  if (swap === 0) return undefined;
  if (swap === -1) return 'max';
  if (limit === 0 || limit === -1) throw new TsrunError(`${field}: a swap limit needs a memory limit (linux.resources.memory.limit)`);
  if (swap < limit) throw new TsrunError(`${field}: ${swap} is below memory.limit ${limit} (swap counts memory plus swap)`);
  return swap - limit;
}

/** Write every controller of cgroup.controllers to cgroup.subtree_control (one by one on failure). */
function enableControllers(dir: string): void {
  const available = (readFile(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
  const enabled = new Set((readFile(dir, 'cgroup.subtree_control') ?? '').split(/\s+/).filter(Boolean));
  const wanted = available.filter((c) => !enabled.has(c));
  if (wanted.length === 0) return;
  try {
    writeFile(dir, 'cgroup.subtree_control', wanted.map((c) => `+${c}`).join(' '));
  } catch {
    for (const c of wanted) {
      try {
        writeFile(dir, 'cgroup.subtree_control', `+${c}`);
      } catch {
        // e.g. a threaded or busy cgroup: that controller stays off
      }
    }
  }
}
