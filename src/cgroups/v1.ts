// cgroup v1 driver: one directory per hierarchy (memory, cpu, cpuacct, cpuset, devices,
// freezer, blkio, pids, hugetlb, net_cls, net_prio, rdma), plus the unified (v2) hierarchy
// on hybrid hosts, where the container is only placed (it has no resource controllers we use).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LinuxResources } from '../spec/types';
import { TsrunError } from '../errors';
import { deviceRules, v1DeviceWrites } from './devices';
import {
  ApplyOptions, BlkioEntry, Cgroup, CgroupFs, CgroupRecord, CgroupStats, checkInt, exists, isSet, killAll, mkdirRecording,
  isPermissionError, parseDevNum, procsBelow, readFile, readKeyed, readNumber, realFs, removeTree, sleepMs, writeFile,
} from './common';

/** dir, file, value, field: one cgroup file write. */
type DependentWrite = [string, string, number, string];

/**
 * Files the kernel checks against each other (CFS period, quota and burst; RT period and
 * runtime): each value is refused (EINVAL) while a current value of another contradicts it,
 * so the order that works depends on whether limits go up or down. As runc: what is refused
 * is written again once the others are in.
 */
function writeDependent(writes: DependentWrite[]): void {
  const refused = writes.filter(([dir, file, value, field]) => {
    try {
      writeFile(dir, file, value, field);
      return false;
    } catch (err) {
      if (!/\(EINVAL\)$/.test((err as Error).message) || writes.length < 2) throw err;
      return true;
    }
  });
  for (const [dir, file, value, field] of refused) writeFile(dir, file, value, field);
}

export class CgroupV1 implements Cgroup {
  readonly version = 1 as const;
  constructor(
    readonly record: CgroupRecord,
    private readonly cfs: CgroupFs = realFs,
  ) {}

  private dir(ctrl: string): string | undefined {
    return this.record.dirs[ctrl];
  }

  private need(ctrl: string, field: string): string {
    const d = this.dir(ctrl);
    if (!d) throw new TsrunError(`${field}: not supported on this host: no ${ctrl} cgroup controller is mounted`);
    return d;
  }

  private uniqueDirs(): string[] {
    return [...new Set(Object.values(this.record.dirs))];
  }

  create(): void {
    for (const d of this.uniqueDirs()) {
      try {
        mkdirRecording(d, this.record.created, this.cfs);
      } catch (err) {
        // name=systemd holds no resources: a caller who may not write there (a rootless
        // user given only some controllers) goes on without it, as runc does.
        if (d !== this.record.dirs.systemd || !isPermissionError(err)) throw err;
        delete this.record.dirs.systemd;
      }
    }
    // New cpuset cgroups start with empty cpus/mems (nothing could join): copy from parents.
    const cpuset = this.dir('cpuset');
    if (cpuset) this.seedCpuset(cpuset);
  }

  private seedCpuset(dir: string): void {
    const parent = path.dirname(dir);
    if (!exists(parent, 'cpuset.cpus')) return;
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if ((readFile(dir, f) ?? '') !== '') continue;
      if ((readFile(parent, f) ?? '') === '') this.seedCpuset(parent);
      writeFile(dir, f, readFile(parent, f) ?? '');
    }
  }

  apply(r: LinuxResources, opts: ApplyOptions = {}): void {
    const base = 'linux.resources';
    if (!opts.update && !opts.skipDevices) this.applyDevices(r, opts);
    if (r.memory) this.applyMemory(r, opts);
    const cpu = r.cpu;
    if (cpu) {
      const f = `${base}.cpu`;
      if (isSet(cpu.shares)) {
        checkInt(`${f}.shares`, cpu.shares, 2, 262144);
        const d = this.need('cpu', `${f}.shares`);
        writeFile(d, 'cpu.shares', cpu.shares, `${f}.shares`);
      }
      const cfs: DependentWrite[] = [];
      if (isSet(cpu.period)) {
        checkInt(`${f}.period`, cpu.period, 1000, 1_000_000);
        cfs.push([this.need('cpu', `${f}.period`), 'cpu.cfs_period_us', cpu.period, `${f}.period`]);
      }
      if (isSet(cpu.quota)) {
        checkInt(`${f}.quota`, cpu.quota, -1);
        if (cpu.quota > 0 && cpu.quota < 1000) throw new TsrunError(`${f}.quota: invalid value ${cpu.quota}, expected -1 or at least 1000 (microseconds)`);
        cfs.push([this.need('cpu', `${f}.quota`), 'cpu.cfs_quota_us', cpu.quota, `${f}.quota`]);
      }
      if (cpu.burst !== undefined && cpu.burst !== null) {
        checkInt(`${f}.burst`, cpu.burst, 0);
        cfs.push([this.need('cpu', `${f}.burst`), 'cpu.cfs_burst_us', cpu.burst, `${f}.burst`]);
      }
      writeDependent(cfs);
      const rt: DependentWrite[] = [];
      if (isSet(cpu.realtimePeriod)) rt.push([this.need('cpu', `${f}.realtimePeriod`), 'cpu.rt_period_us', cpu.realtimePeriod, `${f}.realtimePeriod`]);
      if (isSet(cpu.realtimeRuntime)) rt.push([this.need('cpu', `${f}.realtimeRuntime`), 'cpu.rt_runtime_us', cpu.realtimeRuntime, `${f}.realtimeRuntime`]);
      writeDependent(rt);
      if (cpu.idle !== undefined && cpu.idle !== null) {
        checkInt(`${f}.idle`, cpu.idle, 0, 1);
        writeFile(this.need('cpu', `${f}.idle`), 'cpu.idle', cpu.idle, `${f}.idle`);
      }
      if (cpu.cpus) writeFile(this.need('cpuset', `${f}.cpus`), 'cpuset.cpus', cpu.cpus, `${f}.cpus`);
      if (cpu.mems) writeFile(this.need('cpuset', `${f}.mems`), 'cpuset.mems', cpu.mems, `${f}.mems`);
    }
    if (r.pids && isSet(r.pids.limit)) {
      checkInt(`${base}.pids.limit`, r.pids.limit, -1);
      writeFile(this.need('pids', `${base}.pids.limit`), 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max', `${base}.pids.limit`);
    }
    if (r.blockIO) this.applyBlkio(r);
    r.hugepageLimits?.forEach((h, i) => {
      const f = `${base}.hugepageLimits[${i}]`;
      // Hybrid hosts may have hugetlb only in the unified tree: the v2 files then.
      const unified = !this.dir('hugetlb') ? this.unifiedHugetlb() : undefined;
      const d = unified ?? this.need('hugetlb', f);
      const file = unified ? `hugetlb.${h.pageSize}.max` : `hugetlb.${h.pageSize}.limit_in_bytes`;
      if (!exists(d, file)) throw new TsrunError(`${f}.pageSize: page size ${JSON.stringify(h.pageSize)} is not supported on this host`);
      writeFile(d, file, h.limit, `${f}.limit`);
    });
    if (r.rdma && Object.keys(r.rdma).length) {
      const d = this.need('rdma', `${base}.rdma`);
      for (const [dev, v] of Object.entries(r.rdma)) writeFile(d, 'rdma.max', rdmaLine(dev, v), `${base}.rdma.${dev}`);
    }
    if (r.network) {
      if (isSet(r.network.classID)) writeFile(this.need('net_cls', `${base}.network.classID`), 'net_cls.classid', r.network.classID, `${base}.network.classID`);
      for (const p of r.network.priorities ?? []) {
        writeFile(this.need('net_prio', `${base}.network.priorities`), 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `${base}.network.priorities`);
      }
    }
    if (r.unified && Object.keys(r.unified).length) {
      const d = this.dir('unified');
      for (const [key, value] of Object.entries(r.unified)) {
        const field = `${base}.unified.${key}`;
        if (!d || key.includes('/') || !exists(d, key)) {
          throw new TsrunError(`${field}: cgroup v2 keys are not supported on this cgroup v1 host`);
        }
        writeFile(d, key, value, field);
      }
    }
  }

  /** The unified dir with hugetlb enabled down to it, when the unified tree has hugetlb. */
  private unifiedHugetlb(): string | undefined {
    const d = this.dir('unified');
    if (!d) return undefined;
    const ancestors: string[] = [];
    for (let a = path.dirname(d); exists(a, 'cgroup.controllers'); a = path.dirname(a)) {
      ancestors.unshift(a);
      if (a === path.dirname(a)) break;
    }
    if (!ancestors.length || !(readFile(ancestors[0], 'cgroup.controllers') ?? '').split(/\s+/).includes('hugetlb')) return undefined;
    for (const a of ancestors) {
      if (!(readFile(a, 'cgroup.subtree_control') ?? '').split(/\s+/).includes('hugetlb')) writeFile(a, 'cgroup.subtree_control', '+hugetlb', 'linux.resources.hugepageLimits');
    }
    return d;
  }

  private applyDevices(r: LinuxResources, opts: ApplyOptions): void {
    const d = this.dir('devices');
    if (!d) return;
    for (const [file, value] of v1DeviceWrites(deviceRules(r.devices))) writeFile(d, file, value, 'linux.resources.devices');
  }

  private applyMemory(r: LinuxResources, opts: ApplyOptions): void {
    const m = r.memory!;
    const f = 'linux.resources.memory';
    const d = this.need('memory', f);
    for (const k of ['limit', 'reservation', 'swap', 'kernelTCP'] as const) {
      const v = m[k];
      if (v !== undefined && v !== null) checkInt(`${f}.${k}`, v, -1);
    }
    const limit = m.limit ?? 0;
    const swap = m.swap ?? 0;
    if (opts.update && m.checkBeforeUpdate && limit > 0) {
      const usage = readNumber(d, 'memory.usage_in_bytes') ?? 0;
      if (limit < usage) throw new TsrunError(`${f}.limit: ${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
    }
    const hasMemsw = exists(d, 'memory.memsw.limit_in_bytes');
    const setLimit = () => writeFile(d, 'memory.limit_in_bytes', limit, `${f}.limit`);
    const setSwap = () => {
      if (!hasMemsw) {
        // Nothing to enforce when no extra swap is asked for (-1 or swap == limit).
        if (swap === -1 || swap === limit) return;
        throw new TsrunError(`${f}.swap: not supported on this host: swap accounting is off (no memory.memsw.limit_in_bytes)`);
      }
      writeFile(d, 'memory.memsw.limit_in_bytes', swap, `${f}.swap`);
    };
    if (limit !== 0 && swap !== 0) {
      if (swap !== -1 && limit !== -1 && swap < limit) throw new TsrunError(`${f}.swap: ${swap} is below memory.limit ${limit} (swap counts memory plus swap)`);
      // memsw >= limit at every step: raise memsw first when growing.
      const current = readNumber(d, 'memory.memsw.limit_in_bytes') ?? Infinity;
      if (swap === -1 || current < swap) {
        setSwap();
        setLimit();
      } else {
        setLimit();
        setSwap();
      }
    } else {
      if (limit !== 0) setLimit();
      if (swap !== 0) setSwap();
    }
    if (isSet(m.reservation)) writeFile(d, 'memory.soft_limit_in_bytes', m.reservation, `${f}.reservation`);
    if (isSet(m.kernelTCP)) writeFile(d, 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP, `${f}.kernelTCP`);
    if (m.swappiness !== undefined && m.swappiness !== null && m.swappiness !== -1) {
      checkInt(`${f}.swappiness`, m.swappiness, 0, 100);
      writeFile(d, 'memory.swappiness', m.swappiness, `${f}.swappiness`);
    }
    if (m.disableOOMKiller) writeFile(d, 'memory.oom_control', 1, `${f}.disableOOMKiller`);
    if (m.useHierarchy) writeFile(d, 'memory.use_hierarchy', 1, `${f}.useHierarchy`);
  }

  private applyBlkio(r: LinuxResources): void {
    const b = r.blockIO!;
    const f = 'linux.resources.blockIO';
    const d = this.need('blkio', f);
    const weightFile = exists(d, 'blkio.weight') ? 'blkio.weight' : 'blkio.bfq.weight';
    if (isSet(b.weight)) {
      checkInt(`${f}.weight`, b.weight, 10, 1000);
      writeFile(d, weightFile, b.weight, `${f}.weight`);
    }
    if (isSet(b.leafWeight)) {
      checkInt(`${f}.leafWeight`, b.leafWeight, 10, 1000);
      writeFile(d, 'blkio.leaf_weight', b.leafWeight, `${f}.leafWeight`);
    }
    b.weightDevice?.forEach((w, i) => {
      if (isSet(w.weight)) writeFile(d, `${weightFile}_device`, `${w.major}:${w.minor} ${w.weight}`, `${f}.weightDevice[${i}].weight`);
      if (isSet(w.leafWeight)) writeFile(d, 'blkio.leaf_weight_device', `${w.major}:${w.minor} ${w.leafWeight}`, `${f}.weightDevice[${i}].leafWeight`);
    });
    const throttles = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ] as const;
    for (const [key, file] of throttles) {
      b[key]?.forEach((t, i) => {
        checkInt(`${f}.${key}[${i}].rate`, t.rate, 0);
        writeFile(d, file, `${t.major}:${t.minor} ${t.rate}`, `${f}.${key}[${i}]`);
      });
    }
  }

  procsFiles(): string[] {
    return this.uniqueDirs().map((d) => path.join(d, 'cgroup.procs'));
  }

  join(pid: number): void {
    for (const f of this.procsFiles()) writeFile(path.dirname(f), 'cgroup.procs', pid);
  }

  freeze(): void {
    const d = this.need('freezer', 'pause');
    for (let i = 0; i < 1000; i++) {
      writeFile(d, 'freezer.state', 'FROZEN');
      const s = readFile(d, 'freezer.state');
      if (s === 'FROZEN') return;
      sleepMs(i < 10 ? 1 : 10);
    }
    writeFile(d, 'freezer.state', 'THAWED');
    throw new TsrunError(`pause: ${d} did not freeze (freezer.state stayed FREEZING)`);
  }

  thaw(): void {
    const d = this.dir('freezer');
    if (d && fs.existsSync(d)) writeFile(d, 'freezer.state', 'THAWED');
  }

  isFrozen(): boolean {
    const d = this.dir('freezer');
    return !!d && readFile(d, 'freezer.state') === 'FROZEN';
  }

  pids(): number[] {
    const d = this.dir('pids') ?? this.dir('memory') ?? this.dir('freezer') ?? this.uniqueDirs()[0];
    return d ? procsBelow(d) : [];
  }

  stats(): CgroupStats {
    const s: CgroupStats = {
      cpu: { usage: { kernel: 0, user: 0 }, throttling: {} },
      memory: { usage: { limit: 0, failcnt: 0 }, swap: { limit: 0, failcnt: 0 }, kernel: { limit: 0, failcnt: 0 }, kernelTCP: { limit: 0, failcnt: 0 } },
      pids: {},
      blkio: {},
      hugetlb: {},
    };
    const acct = this.dir('cpuacct');
    if (acct) {
      s.cpu.usage.total = readNumber(acct, 'cpuacct.usage');
      const per = readFile(acct, 'cpuacct.usage_percpu');
      if (per) s.cpu.usage.percpu = per.split(/\s+/).map(Number);
      const st = readKeyed(acct, 'cpuacct.stat');
      const tick = 1e9 / 100; // USER_HZ
      s.cpu.usage.user = (st.user ?? 0) * tick;
      s.cpu.usage.kernel = (st.system ?? 0) * tick;
    }
    const cpu = this.dir('cpu');
    if (cpu) {
      const st = readKeyed(cpu, 'cpu.stat');
      s.cpu.throttling = { periods: st.nr_periods, throttledPeriods: st.nr_throttled, throttledTime: st.throttled_time };
    }
    const mem = this.dir('memory');
    if (mem) {
      const entry = (prefix: string) => ({
        limit: readNumber(mem, `${prefix}limit_in_bytes`) ?? 0,
        usage: readNumber(mem, `${prefix}usage_in_bytes`),
        max: readNumber(mem, `${prefix}max_usage_in_bytes`),
        failcnt: readNumber(mem, `${prefix}failcnt`) ?? 0,
      });
      s.memory.usage = entry('memory.');
      s.memory.swap = entry('memory.memsw.');
      s.memory.kernel = entry('memory.kmem.');
      s.memory.kernelTCP = entry('memory.kmem.tcp.');
      s.memory.raw = readKeyed(mem, 'memory.stat');
      s.memory.cache = s.memory.raw.total_cache ?? s.memory.raw.cache;
    }
    const pids = this.dir('pids');
    if (pids) s.pids = { current: readNumber(pids, 'pids.current'), limit: readNumber(pids, 'pids.max') };
    const blkio = this.dir('blkio');
    if (blkio) {
      s.blkio.ioServiceBytesRecursive = blkioEntries(blkio, 'blkio.throttle.io_service_bytes_recursive');
      s.blkio.ioServicedRecursive = blkioEntries(blkio, 'blkio.throttle.io_serviced_recursive');
    }
    const huge = this.dir('hugetlb');
    const unified = this.dir('unified');
    if (!huge && unified) {
      for (const f of safeReaddir(unified)) {
        const m = /^hugetlb\.([^.]+)\.current$/.exec(f);
        if (!m) continue;
        s.hugetlb[m[1]] = { usage: readNumber(unified, f), max: readNumber(unified, `hugetlb.${m[1]}.max`), failcnt: readKeyed(unified, `hugetlb.${m[1]}.events`).max ?? 0 };
      }
    }
    if (huge) {
      for (const f of safeReaddir(huge)) {
        const m = /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(f);
        if (!m) continue;
        s.hugetlb[m[1]] = {
          usage: readNumber(huge, f),
          max: readNumber(huge, `hugetlb.${m[1]}.max_usage_in_bytes`),
          failcnt: readNumber(huge, `hugetlb.${m[1]}.failcnt`) ?? 0,
        };
      }
    }
    return s;
  }

  oomKills(): number {
    const d = this.dir('memory');
    if (!d) return 0;
    return readKeyed(d, 'memory.oom_control').oom_kill ?? 0;
  }

  destroy(): void {
    killAll(() => this.pids(), () => this.thaw());
    this.thaw();
    for (const d of this.uniqueDirs()) removeTree(d, this.cfs);
    // Parents create made, when nothing else lives there any more.
    for (const d of [...this.record.created].reverse()) {
      try {
        this.cfs.rmdir(d);
      } catch {
        // gone already, or shared with other cgroups
      }
    }
  }
}

function rdmaLine(dev: string, v: { hcaHandles?: number; hcaObjects?: number }): string {
  const parts = [dev];
  if (v.hcaHandles !== undefined && v.hcaHandles !== null) parts.push(`hca_handle=${v.hcaHandles}`);
  if (v.hcaObjects !== undefined && v.hcaObjects !== null) parts.push(`hca_object=${v.hcaObjects}`);
  return parts.join(' ');
}
export { rdmaLine };

function blkioEntries(dir: string, file: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (readFile(dir, file) ?? '').split('\n')) {
    const [dev, op, value] = line.trim().split(/\s+/);
    if (!dev?.includes(':') || value === undefined) continue;
    const [major, minor] = parseDevNum(dev);
    out.push({ major, minor, op, value: Number(value) });
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
