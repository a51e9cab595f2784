// linux.seccomp -> a libseccomp filter, as runc builds it (libcontainer/seccomp):
//  - the default action (ERRNO/TRACE carry defaultErrnoRet, else EPERM);
//  - the extra architectures (SCMP_ARCH_X86 -> libseccomp's "x86"; the native one is there);
//  - flags TSYNC/LOG/SPEC_ALLOW as filter attributes, no_new_privs left to tsrun (NNP=0);
//  - one rule per syscall name; unknown names are skipped (the profile may be newer than
//    this libseccomp); rules whose action is the default one are skipped (libseccomp
//    refuses them); when one argument index is compared twice, each comparison becomes
//    its own rule (runc does the same: libseccomp cannot AND two tests of one argument).
// The filter is built and checked in the init before `create` reports success; only
// seccomp_load runs at the end, just before execve.
import type { LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSyscall } from '../spec/types';
import { libseccomp, Libseccomp, NR_SCMP_ERROR, ScmpArgCmp, SCMP_ACT, SCMP_CMP, SCMP_FLTATR, SeccompCtx } from '../../bindings/libseccomp';
import { TsrunError } from '../errors';

const EPERM = 1;

/** Actions tsrun implements (SCMP_ACT_NOTIFY needs a listener, which tsrun lacks yet). */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP',
];

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

const FLAG_ATTRS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SCMP_FLTATR.CTL_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SCMP_FLTATR.CTL_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SCMP_FLTATR.CTL_SSB,
};
export const SECCOMP_FLAGS = Object.keys(FLAG_ATTRS);

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
}

function fail(where: string, detail: string): never {
  throw new TsrunError(`${where}: ${detail}`);
}

/** Refuse what tsrun cannot do yet, with a clear message (no FFI: usable from `create`). */
export function checkSeccompSupported(seccomp: LinuxSeccomp): void {
  if (seccomp.listenerPath) {
    fail('linux.seccomp.listenerPath', 'seccomp user notification (SCMP_ACT_NOTIFY with a listener) is not supported by tsrun yet');
  }
  if (seccomp.defaultAction === 'SCMP_ACT_NOTIFY') {
    fail('linux.seccomp.defaultAction', 'SCMP_ACT_NOTIFY is not supported by tsrun yet');
  }
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    if (sc.action === 'SCMP_ACT_NOTIFY') fail(`linux.seccomp.syscalls[${i}].action`, 'SCMP_ACT_NOTIFY is not supported by tsrun yet');
  });
  for (const flag of seccomp.flags ?? []) {
    if (!(flag in FLAG_ATTRS)) {
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
      return fail(where, 'SCMP_ACT_NOTIFY is not supported by tsrun yet');
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
  for (const flag of seccomp.flags ?? []) attributes.push([FLAG_ATTRS[flag], 1]);
  const rules: SeccompRule[] = [];
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    const action = actionValue(sc.action, sc.errnoRet, `${where}.action`);
    if (!Array.isArray(sc.names) || sc.names.length === 0) fail(`${where}.names`, 'needs at least one syscall name');
    const groups = argGroups(sc, where);
    if (action === defaultAction) return; // libseccomp refuses a rule that repeats the default
    for (const name of sc.names) {
      for (const args of groups) rules.push({ name, action, args, where });
    }
  });
  return { defaultAction, architectures, attributes, rules };
}

/** A filter built and checked by libseccomp, waiting to be loaded. */
export class SeccompFilter {
  constructor(
    private readonly lib: Libseccomp,
    private readonly ctx: SeccompCtx,
    /** Syscall names the profile lists that this libseccomp does not know (skipped). */
    readonly unknownSyscalls: string[],
  ) {}

  /** seccomp_load: from here on the calling thread (and with TSYNC all threads) is filtered. */
  load(): void {
    try {
      this.lib.load(this.ctx);
    } catch (err) {
      throw new TsrunError(`linux.seccomp: loading the filter: ${(err as Error).message}`);
    }
  }

  release(): void {
    this.lib.release(this.ctx);
  }
}

/**
 * Build the filter for linux.seccomp (undefined when there is none). Must run before
 * pivot_root: it opens libseccomp.so.2 from the host.
 */
export function buildSeccomp(seccomp: LinuxSeccomp | undefined, lib: Libseccomp = libseccomp()): SeccompFilter | undefined {
  if (!seccomp) return undefined;
  const plan = planSeccomp(seccomp);
  const ctx = lib.init(plan.defaultAction);
  const unknown: string[] = [];
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
  } catch (err) {
    lib.release(ctx);
    if (err instanceof TsrunError) throw err;
    throw new TsrunError(`linux.seccomp: ${(err as Error).message}`);
  }
  return new SeccompFilter(lib, ctx, [...new Set(unknown)]);
}
