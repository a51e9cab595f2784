// The process attributes the runtime-spec asks for beyond user, caps and rlimits:
// oomScoreAdj, personality, scheduler, ioPriority, execCPUAffinity and the LSM labels.
// Everything is checked by prepareAttributes (before `ready`, so a bad value fails
// `create`); each apply step names the field and the value when the kernel refuses.
import * as fs from 'node:fs';
import { libc, SysError } from '../../bindings';
import type { Linux, Process } from '../spec/types';
import { TsrunError } from '../errors';

/** personality(2) domains (linux/personality.h) the spec allows. */
const PERSONA_DOMAINS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
/** Flags a persona may carry (linux/personality.h). The spec defines none yet: these are the kernel's. */
const PERSONA_FLAGS: Record<string, number> = {
  UNAME26: 0x0020000,
  ADDR_NO_RANDOMIZE: 0x0040000,
  FDPIC_FUNCPTRS: 0x0080000,
  MMAP_PAGE_ZERO: 0x0100000,
  ADDR_COMPAT_LAYOUT: 0x0200000,
  READ_IMPLIES_EXEC: 0x0400000,
  ADDR_LIMIT_32BIT: 0x0800000,
  SHORT_INODE: 0x1000000,
  WHOLE_SECONDS: 0x2000000,
  STICKY_TIMEOUTS: 0x4000000,
  ADDR_LIMIT_3GB: 0x8000000,
};

export const SCHED_POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
export const SCHED_FLAGS: Record<string, bigint> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01n,
  SCHED_FLAG_RECLAIM: 0x02n,
  SCHED_FLAG_DL_OVERRUN: 0x04n,
  SCHED_FLAG_KEEP_POLICY: 0x08n,
  SCHED_FLAG_KEEP_PARAMS: 0x10n,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20n,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40n,
};
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

export interface PreparedAttributes {
  persona?: number;
  initialCpus?: number[];
  finalCpus?: number[];
  /** What to write to the LSM exec attribute just before execve, and where. */
  lsmExec?: { file: string; value: string; field: string };
}

/** "0-3,7" -> [0,1,2,3,7]. */
export function parseCpuList(list: string, field: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const from = m ? Number(m[1]) : NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || to < from || to > 8191) throw new TsrunError(`${field} "${list}": invalid CPU list (expected e.g. "0-3,7")`);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** AppArmor is usable when the module is loaded and enabled (runc's IsEnabled). */
export function apparmorEnabled(): boolean {
  try {
    return fs.existsSync('/sys/kernel/security/apparmor') && fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

/** SELinux is usable when selinuxfs is mounted (go-selinux's GetEnabled, simplified). */
export function selinuxEnabled(): boolean {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' - ')[1]?.startsWith('selinuxfs '));
  } catch {
    return false;
  }
}

/**
 * The LSM checks runc makes: an AppArmor profile on a host without AppArmor is an error,
 * as is an SELinux process label on a host without SELinux; linux.mountLabel is ignored
 * there. Runs in the init before any namespace change (it reads the host's /sys and /proc).
 */
function prepareLsm(proc: Process): PreparedAttributes['lsmExec'] {
  if (proc.apparmorProfile) {
    if (!apparmorEnabled()) {
      throw new TsrunError(`process.apparmorProfile: apparmor profile "${proc.apparmorProfile}" specified but AppArmor is not enabled on this system`);
    }
    // Newer kernels have a per-LSM directory; older ones only the shared attr file.
    const file = fs.existsSync('/proc/self/attr/apparmor/exec') ? '/proc/self/attr/apparmor/exec' : '/proc/self/attr/exec';
    return { file, value: `exec ${proc.apparmorProfile}`, field: `process.apparmorProfile "${proc.apparmorProfile}"` };
  }
  if (proc.selinuxLabel) {
    if (!selinuxEnabled()) {
      throw new TsrunError(`process.selinuxLabel "${proc.selinuxLabel}": selinux label is specified in config, but selinux is disabled or not supported`);
    }
    return { file: '/proc/self/attr/exec', value: proc.selinuxLabel, field: `process.selinuxLabel "${proc.selinuxLabel}"` };
  }
  return undefined;
}

/** Check every attribute and compute what will be applied. Runs before any namespace change. */
export function prepareAttributes(proc: Process, linux: Linux | undefined): PreparedAttributes {
  const out: PreparedAttributes = {};
  const persona = linux?.personality;
  if (persona) {
    const domain = PERSONA_DOMAINS[persona.domain];
    if (domain === undefined) throw new TsrunError(`linux.personality.domain "${persona.domain}": expected LINUX or LINUX32`);
    let value = domain;
    for (const flag of persona.flags ?? []) {
      const bit = PERSONA_FLAGS[flag];
      if (bit === undefined) throw new TsrunError(`linux.personality.flags "${flag}": unknown flag (known: ${Object.keys(PERSONA_FLAGS).join(', ')})`);
      value |= bit;
    }
    out.persona = value;
  }
  if (proc.execCPUAffinity?.initial) out.initialCpus = parseCpuList(proc.execCPUAffinity.initial, 'process.execCPUAffinity.initial');
  if (proc.execCPUAffinity?.final) out.finalCpus = parseCpuList(proc.execCPUAffinity.final, 'process.execCPUAffinity.final');
  if (proc.scheduler) {
    const s = proc.scheduler;
    if (SCHED_POLICIES[s.policy] === undefined) throw new TsrunError(`process.scheduler.policy "${s.policy}": unknown policy`);
    for (const f of s.flags ?? []) if (SCHED_FLAGS[f] === undefined) throw new TsrunError(`process.scheduler.flags "${f}": unknown flag`);
    if (s.nice !== undefined && (s.nice < -20 || s.nice > 19)) throw new TsrunError(`process.scheduler.nice ${s.nice}: out of range -20..19`);
  }
  if (proc.ioPriority) {
    const { class: cls, priority } = proc.ioPriority;
    if (IOPRIO_CLASSES[cls] === undefined) throw new TsrunError(`process.ioPriority.class "${cls}": expected IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE`);
    if (!Number.isInteger(priority) || priority < 0 || priority > 7) throw new TsrunError(`process.ioPriority.priority ${priority}: out of range 0..7`);
  }
  out.lsmExec = prepareLsm(proc);
  return out;
}

/** execCPUAffinity.initial: for the init itself, as early as possible (before the cgroup join). */
export function applyInitialAffinity(prepared: PreparedAttributes): void {
  if (prepared.initialCpus) setAffinity(prepared.initialCpus, 'process.execCPUAffinity.initial');
}

/** process.oomScoreAdj, written to `file` (/proc/<pid>/oom_score_adj). */
export function writeOomScoreAdj(file: string, value: number): void {
  try {
    fs.writeFileSync(file, String(value));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM'
      ? 'permission denied (lowering oom_score_adj needs CAP_SYS_RESOURCE, which this host does not grant)'
      : code === 'EINVAL' ? 'invalid argument (the range is -1000..1000)' : (err as Error).message;
    throw new TsrunError(`process.oomScoreAdj ${value}: ${why}`);
  }
}

/** oomScoreAdj, personality, scheduler and ioPriority: on the init, inherited through execve. */
export function applyAttributes(proc: Process, prepared: PreparedAttributes): void {
  const sys = libc();
  if (proc.oomScoreAdj !== undefined) writeOomScoreAdj('/proc/self/oom_score_adj', proc.oomScoreAdj);
  if (prepared.persona !== undefined) {
    try {
      sys.personality(prepared.persona);
    } catch (err) {
      throw new TsrunError(`linux.personality 0x${prepared.persona.toString(16)}: ${(err as Error).message}`);
    }
  }
  if (proc.scheduler) {
    const s = proc.scheduler;
    const attr = {
      policy: SCHED_POLICIES[s.policy],
      flags: (s.flags ?? []).reduce((acc, f) => acc | SCHED_FLAGS[f], 0n),
      nice: s.nice ?? 0,
      priority: s.priority ?? 0,
      runtime: BigInt(s.runtime ?? 0),
      deadline: BigInt(s.deadline ?? 0),
      period: BigInt(s.period ?? 0),
    };
    try {
      sys.schedSetattr(attr);
    } catch (err) {
      const rt = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
      const why = rt && err instanceof SysError && err.code === 'EPERM'
        ? `${err.message} (a realtime policy needs realtime CPU time in the container's cgroup: cpu.rt_runtime_us is 0 there)`
        : explain(err);
      throw new TsrunError(`process.scheduler ${JSON.stringify(s)}: ${why}`);
    }
  }
  if (proc.ioPriority) {
    const { class: cls, priority } = proc.ioPriority;
    try {
      sys.ioprioSet((IOPRIO_CLASSES[cls] << 13) | priority);
    } catch (err) {
      throw new TsrunError(`process.ioPriority ${cls} ${priority}: ${explain(err)}`);
    }
  }
}

/** Right before execve: execCPUAffinity.final and the LSM exec label (both act on the next exec). */
export function applyBeforeExec(prepared: PreparedAttributes): void {
  if (prepared.finalCpus) setAffinity(prepared.finalCpus, 'process.execCPUAffinity.final');
  const lsm = prepared.lsmExec;
  if (lsm) {
    try {
      fs.writeFileSync(lsm.file, lsm.value);
    } catch (err) {
      throw new TsrunError(`${lsm.field}: writing ${lsm.file}: ${(err as Error).message}`);
    }
  }
}

function setAffinity(cpus: number[], field: string): void {
  try {
    libc().schedSetaffinity(cpus);
  } catch (err) {
    const why = err instanceof SysError && err.code === 'EINVAL' ? 'none of these CPUs is online or allowed here' : (err as Error).message;
    throw new TsrunError(`${field} ${cpus.join(',')}: ${why}`);
  }
}

function explain(err: unknown): string {
  if (err instanceof SysError && err.code === 'EPERM') return `${err.message} (the host does not allow this value)`;
  if (err instanceof SysError && err.code === 'EINVAL') return `${err.message} (the kernel rejects this combination of values)`;
  return (err as Error).message;
}
