// linux.seccomp -> a libseccomp filter, as runc builds it (libcontainer/seccomp):
//  - the default action (ERRNO/TRACE carry defaultErrnoRet, else EPERM);
//  - the extra architectures (SCMP_ARCH_X86 -> libseccomp's "x86"; the native one is there);
//  - flags TSYNC/LOG/SPEC_ALLOW as filter attributes, no_new_privs left to tsrun (NNP=0);
//    WAIT_KILLABLE_RECV (runtime-spec 1.2, Linux 5.19) goes straight to seccomp(2), with a listener;
//  - one rule per syscall name; unknown names are skipped (the profile may be newer than
//    this libseccomp); rules whose action is the default one are skipped (libseccomp
//    refuses them); when one argument index is compared twice, each comparison becomes
//    its own rule (runc does the same: libseccomp cannot AND two tests of one argument).
// The filter is built and checked in the init before `create` reports success, exported
// as a BPF program (seccomp_export_bpf) behind runc's -ENOSYS stub (enosys-stub.ts), and loaded by tsrun-stage (bindings/process-stage.c)
// at the end, just before execve (before the user change without no_new_privs, as runc).
//
// SCMP_ACT_NOTIFY (seccomp user notification) needs linux.seccomp.listenerPath: the init
// connects to it while building the filter (a host path: before any namespace change or
// pivot_root); right after loading, tsrun-stage sends the listener fd (SCM_RIGHTS) with the
// container process state as JSON, closes both and goes on to execve. Between the load and
// that sendmsg only sendmsg itself runs under the filter with nobody to answer a
// notification: tsrun refuses NOTIFY on sendmsg (runc refuses it on write). Calls made after
// the fd is sent (close, setresuid, execve, ...) reach the listener, which must answer them.
import type { LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSyscall } from '../spec/types';
import { libseccomp, Libseccomp, NR_SCMP_ERROR, ScmpArgCmp, SCMP_ACT, SCMP_CMP, SCMP_FLTATR, SeccompCtx } from '../../bindings/libseccomp';
import { TsrunError } from '../errors';
import * as fs from 'node:fs';
import { connectUnix } from '../../bindings/tty';
import { OCI_VERSION } from '../spec/default-config';
import { libc, MFD_CLOEXEC } from '../../bindings';
import { enosysStub } from './enosys-stub';

const EPERM = 1;

/** Actions tsrun implements (SCMP_ACT_NOTIFY with linux.seccomp.listenerPath). */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP',
];

/** Syscalls a NOTIFY rule may not name: the init makes them before the listener has the fd. */
const NOTIFY_REFUSED = ['sendmsg'];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE',
];

/** Architectures libseccomp 2.5 knows. */
export const SECCOMP_ARCHS = [
  'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64',
];

/** seccomp(2) flags for linux.seccomp.flags, when tsrun-stage loads the filter. */
const STAGE_FLAGS: Record<string, number> = { SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
/** Notifications wait killably once received; only with a listener (the kernel refuses it alone). */
const WAIT_KILLABLE_RECV = 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;
/** JSON.stringify of this is tsrun-stage's PID_PLACEHOLDER. */
const PID_PLACEHOLDER_VALUE = '__TSRUN_HOST_PID__';

const FLAG_ATTRS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SCMP_FLTATR.CTL_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SCMP_FLTATR.CTL_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SCMP_FLTATR.CTL_SSB,
};
export const SECCOMP_FLAGS = [...Object.keys(FLAG_ATTRS), WAIT_KILLABLE_RECV];

/** The flags this kernel takes (`features` supportedFlags): WAIT_KILLABLE_RECV came with Linux 5.19. */
export function supportedSeccompFlags(release: string): string[] {
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10));
  const killable = major > 5 || (major === 5 && minor >= 19);
  return SECCOMP_FLAGS.filter((f) => f !== WAIT_KILLABLE_RECV || killable);
}

const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: SCMP_CMP.NE,
  SCMP_CMP_LT: SCMP_CMP.LT,
  SCMP_CMP_LE: SCMP_CMP.LE,
  SCMP_CMP_EQ: SCMP_CMP.EQ,
  SCMP_CMP_GE: SCMP_CMP.GE,
  SCMP_CMP_GT: SCMP_CMP.GT,
  SCMP_CMP_MASKED_EQ: SCMP_CMP.MASKED_EQ,
};

export interface SeccompRule {
  /** The syscall name as in the profile. */
  name: string;
  action: number;
  args: ScmpArgCmp[];
  /** Where it came from, for messages: linux.seccomp.syscalls[i]. */
  where: string;
}

/** What the filter will be, before libseccomp is asked anything. */
export interface SeccompPlan {
  defaultAction: number;
  /** libseccomp architecture names ("x86_64", "x86", ...). */
  architectures: string[];
  /** [attribute, value] pairs for seccomp_attr_set. */
  attributes: Array<[number, number]>;
  rules: SeccompRule[];
  /** Some rule is SCMP_ACT_NOTIFY: the listener gets the notify fd after load. */
  notify: boolean;
}

function fail(where: string, detail: string): never {
  throw new TsrunError(`${where}: ${detail}`);
}

/** Refuse what tsrun cannot do, with a clear message (no FFI: usable from `create`). */
export function checkSeccompSupported(seccomp: LinuxSeccomp): void {
  if (seccomp.listenerMetadata !== undefined && !seccomp.listenerPath) {
    fail('linux.seccomp.listenerMetadata', 'must not be set without listenerPath');
  }
  if (seccomp.listenerPath !== undefined && !seccomp.listenerPath.startsWith('/')) {
    fail('linux.seccomp.listenerPath', `${JSON.stringify(seccomp.listenerPath)} is not an absolute path`);
  }
  if (seccomp.defaultAction === 'SCMP_ACT_NOTIFY') {
    // As runc: every syscall of the init after seccomp_load would wait for the listener.
    fail('linux.seccomp.defaultAction', 'SCMP_ACT_NOTIFY cannot be the default action');
  }
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    if (sc.action !== 'SCMP_ACT_NOTIFY') return;
    const where = `linux.seccomp.syscalls[${i}].action`;
    if (!seccomp.listenerPath) fail(where, 'SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath');
    const refused = (sc.names ?? []).find((n) => NOTIFY_REFUSED.includes(n));
    if (refused) fail(where, `SCMP_ACT_NOTIFY cannot be used for ${refused}: tsrun sends the notify fd with it`);
  });
  for (const flag of seccomp.flags ?? []) {
    if (!SECCOMP_FLAGS.includes(flag)) {
      fail('linux.seccomp.flags', `${JSON.stringify(flag)} is not supported by tsrun (supported: ${SECCOMP_FLAGS.join(', ')})`);
    }
  }
}

/** The libseccomp action value of a profile action. */
export function actionValue(action: LinuxSeccompAction | string, errnoRet: number | undefined, where: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SCMP_ACT.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SCMP_ACT.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SCMP_ACT.TRAP;
    case 'SCMP_ACT_ERRNO':
      return SCMP_ACT.ERRNO(errnoRet ?? EPERM);
    case 'SCMP_ACT_TRACE':
      return SCMP_ACT.TRACE(errnoRet ?? EPERM);
    case 'SCMP_ACT_ALLOW':
      return SCMP_ACT.ALLOW;
    case 'SCMP_ACT_LOG':
      return SCMP_ACT.LOG;
    case 'SCMP_ACT_NOTIFY':
      return SCMP_ACT.NOTIFY;
    default:
      return fail(where, `unknown seccomp action ${JSON.stringify(action)} (allowed: ${SECCOMP_ACTIONS.join(', ')})`);
  }
}

const U64_MAX = 0xffffffffffffffffn;
/** A JSON number as a u64: values at or past 2^64 - 2^11 (not exact in a double) are 2^64-1. */
function u64(value: number, where: string): bigint {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(where, `${JSON.stringify(value)} is not an unsigned 64-bit number`);
  return value >= 18446744073709549568 ? U64_MAX : BigInt(Math.trunc(value));
}

function argCmp(arg: LinuxSeccompArg, where: string): ScmpArgCmp {
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) fail(`${where}.index`, `${JSON.stringify(arg.index)} is not an argument index 0-5`);
  const op = OPERATORS[arg.op];
  if (op === undefined) fail(`${where}.op`, `unknown operator ${JSON.stringify(arg.op)} (allowed: ${SECCOMP_OPERATORS.join(', ')})`);
  return { arg: arg.index, op, datumA: u64(arg.value, `${where}.value`), datumB: u64(arg.valueTwo ?? 0, `${where}.valueTwo`) };
}

/** The argument comparisons of one entry, as the list of rules to add (AND within one). */
function argGroups(sc: LinuxSyscall, where: string): ScmpArgCmp[][] {
  const cmps = (sc.args ?? []).map((a, j) => argCmp(a, `${where}.args[${j}]`));
  if (cmps.length === 0) return [[]];
  const indexes = new Set(cmps.map((c) => c.arg));
  // runc: two tests of the same argument become separate rules.
  return indexes.size < cmps.length ? cmps.map((c) => [c]) : [cmps];
}

/** Translate the profile; pure (no libseccomp), so unit tests can check it. */
export function planSeccomp(seccomp: LinuxSeccomp): SeccompPlan {
  checkSeccompSupported(seccomp);
  const defaultAction = actionValue(seccomp.defaultAction, seccomp.defaultErrnoRet, 'linux.seccomp.defaultAction');
  const architectures = (seccomp.architectures ?? []).map((arch) => {
    if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(arch)) fail('linux.seccomp.architectures', `${JSON.stringify(arch)} is not an architecture like SCMP_ARCH_X86_64`);
    return arch.slice('SCMP_ARCH_'.length).toLowerCase();
  });
  const attributes: Array<[number, number]> = [[SCMP_FLTATR.CTL_NNP, 0]];
  for (const flag of seccomp.flags ?? []) if (flag in FLAG_ATTRS) attributes.push([FLAG_ATTRS[flag], 1]);
  const rules: SeccompRule[] = [];
  let notify = false;
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    const action = actionValue(sc.action, sc.errnoRet, `${where}.action`);
    if (!Array.isArray(sc.names) || sc.names.length === 0) fail(`${where}.names`, 'needs at least one syscall name');
    const groups = argGroups(sc, where);
    if (action === defaultAction) return; // libseccomp refuses a rule that repeats the default
    if (action === SCMP_ACT.NOTIFY) notify = true;
    for (const name of sc.names) {
      for (const args of groups) rules.push({ name, action, args, where });
    }
  });
  return { defaultAction, architectures, attributes, rules, notify };
}

/** runtime-spec state of the container, as sent to the seccomp listener. */
export interface ListenerState {
  ociVersion: string;
  id: string;
  status: string;
  /** Host pid of the container's init; the init itself leaves it out (its own pid is used). */
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** A connection to listenerPath and what to send over it after seccomp_load. */
interface Listener {
  fd: number;
  metadata?: string;
  state: ListenerState;
  /** Host pid of the process that loads the filter. */
  pid: number;
}

/**
 * Our pid as the runtime sees it: the first NSpid field of /proc/self/status, read while
 * /proc is still the host's (the init may already be pid 1 of the container's pid ns).
 */
export function hostPid(status = fs.readFileSync('/proc/self/status', 'utf8')): number {
  const line = status.split('\n').find((l) => l.startsWith('NSpid:'));
  const pid = Number(line?.slice(6).trim().split(/\s+/)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : process.pid;
}

/** The container process state (runtime-spec config-linux.md), as one JSON message. */
export function containerProcessState(listener: Omit<Listener, 'fd'>, ociVersion: string): string {
  const state = { ...listener.state, pid: listener.state.pid ?? listener.pid, annotations: listener.state.annotations ?? {} };
  return JSON.stringify({
    ociVersion,
    fds: ['seccompFd'],
    pid: listener.pid,
    ...(listener.metadata !== undefined ? { metadata: listener.metadata } : {}),
    state: {
      ociVersion: state.ociVersion, id: state.id, status: state.status, pid: state.pid,
      bundle: state.bundle, annotations: state.annotations,
    },
  });
}

/** What tsrun-stage needs to load the filter (src/init/stage.ts). */
export interface StageSeccomp {
  /** struct sock_filter[] as seccomp_export_bpf wrote it. */
  bpf: Buffer;
  /** SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER). */
  flags: number;
  /** NOTIFY rules: the connected listener socket and the message that goes with the notify fd. */
  listenerFd?: number;
  listenerMessage?: string;
}

/** A filter ready for tsrun-stage: built by libseccomp, or kept from an earlier build (seccomp-cache.ts). */
export interface PreparedSeccomp {
  /** Syscall names the profile lists that this libseccomp does not know (skipped). */
  readonly unknownSyscalls: string[];
  forStage(forkedPid: boolean): StageSeccomp;
  release(): void;
}

/** A filter built and checked by libseccomp, waiting to be loaded. */
export class SeccompFilter implements PreparedSeccomp {
  constructor(
    private readonly lib: Libseccomp,
    private readonly ctx: SeccompCtx,
    /** Syscall names the profile lists that this libseccomp does not know (skipped). */
    readonly unknownSyscalls: string[],
    private readonly listener?: Listener,
    /** linux.seccomp.flags */
    private readonly flags: string[] = [],
    /** runc's -ENOSYS stub, run before libseccomp's program (empty: none). */
    private readonly stub: Buffer = Buffer.alloc(0),
  ) {}

  /**
   * What tsrun-stage loads itself (src/init/stage.ts): the BPF program, seccomp(2) flags
   * and, with NOTIFY rules, the listener socket and message. `forkedPid`: the process that
   * loads it is a child the stage forks, whose host pid only the stage learns.
   */
  forStage(forkedPid: boolean): StageSeccomp {
    const memfd = libc().memfdCreate('tsrun-seccomp', MFD_CLOEXEC);
    let bpf: Buffer;
    try {
      try {
        this.lib.exportBpf(this.ctx, memfd);
      } catch (err) {
        throw new TsrunError(`linux.seccomp: exporting the filter: ${(err as Error).message}`);
      }
      const program = Buffer.alloc(fs.fstatSync(memfd).size);
      fs.readSync(memfd, program, 0, program.length, 0);
      bpf = Buffer.concat([this.stub, program]);
    } finally {
      fs.closeSync(memfd);
    }
    // TSYNC is left out: tsrun-stage has a single thread (and TSYNC excludes NEW_LISTENER).
    let flags = 0;
    for (const flag of this.flags) flags |= STAGE_FLAGS[flag] ?? 0;
    if (!this.listener) return { bpf, flags };
    const pid = forkedPid ? (PID_PLACEHOLDER_VALUE as unknown as number) : this.listener.pid;
    if (this.flags.includes(WAIT_KILLABLE_RECV)) flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    return {
      bpf,
      flags: flags | SECCOMP_FILTER_FLAG_NEW_LISTENER,
      listenerFd: this.listener.fd,
      listenerMessage: containerProcessState({ ...this.listener, pid }, OCI_VERSION),
    };
  }

  release(): void {
    this.lib.release(this.ctx);
    if (this.listener) fs.closeSync(this.listener.fd);
  }
}

/**
 * Build the filter for linux.seccomp (undefined when there is none). Must run before
 * pivot_root and any namespace change: it opens libseccomp.so.2 from the host and, with
 * NOTIFY rules, connects to listenerPath (a host path) and reads our host pid; `state` is
 * what the listener is told about the container.
 */
export function buildSeccomp(seccomp: LinuxSeccomp | undefined, lib: Libseccomp = libseccomp(), state?: ListenerState): SeccompFilter | undefined {
  if (!seccomp) return undefined;
  const plan = planSeccomp(seccomp);
  const ctx = lib.init(plan.defaultAction);
  let listener: Listener | undefined;
  const unknown: string[] = [];
  let stub: Buffer;
  try {
    const native = lib.archNative();
    for (const name of plan.architectures) {
      const token = lib.archResolveName(name);
      if (token === 0) fail('linux.seccomp.architectures', `SCMP_ARCH_${name.toUpperCase()} is not an architecture libseccomp knows`);
      if (token === native) continue; // seccomp_init already added it (seccomp_arch_add would say EEXIST)
      try {
        lib.archAdd(ctx, token);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
    }
    for (const [attr, value] of plan.attributes) lib.attrSet(ctx, attr, value);
    if ((seccomp.syscalls?.length ?? 0) > 8) {
      try {
        lib.attrSet(ctx, SCMP_FLTATR.CTL_OPTIMIZE, 2); // binary tree, as runc asks; older libseccomp lacks it
      } catch {
        // not fatal
      }
    }
    for (const rule of plan.rules) {
      const nr = lib.syscallResolveName(rule.name);
      if (nr === NR_SCMP_ERROR) {
        unknown.push(rule.name);
        continue;
      }
      try {
        lib.ruleAdd(ctx, rule.action, nr, rule.args, rule.name);
      } catch (err) {
        fail(rule.where, `syscall ${JSON.stringify(rule.name)}: ${(err as Error).message}`);
      }
    }
    if (plan.notify) {
      let fd: number;
      try {
        fd = connectUnix(seccomp.listenerPath!);
      } catch (err) {
        fail('linux.seccomp.listenerPath', `connecting to ${seccomp.listenerPath}: ${(err as Error).message}`);
      }
      listener = {
        fd,
        metadata: seccomp.listenerMetadata,
        state: state ?? { ociVersion: OCI_VERSION, id: '', status: 'creating', bundle: '' },
        pid: hostPid(),
      };
    }
    stub = enosysStub(seccomp, lib);
  } catch (err) {
    lib.release(ctx);
    if (listener) fs.closeSync(listener.fd);
    if (err instanceof TsrunError) throw err;
    throw new TsrunError(`linux.seccomp: ${(err as Error).message}`);
  }
  return new SeccompFilter(lib, ctx, [...new Set(unknown)], listener, seccomp.flags ?? [], stub);
}
