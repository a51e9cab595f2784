// libseccomp (libseccomp.so.2) through ffi-rs, opened on first use. libseccomp reports
// failures as a negative errno in the return value (it does not set errno): every call that
// can fail throws a SysError naming the call.
//
// ffi-rs and the library are loaded on the first call, so importing the constants costs
// nothing. The container init must make that first call before pivot_root: dlopen after
// it would look for libseccomp.so.2 inside the container.
import type * as FFI from 'ffi-rs';
import { constants } from 'node:os';
import { loadFfi } from './load-ffi';
import { SysError } from './types';

const LIB = 'libseccomp';
let ffiModule: typeof FFI | undefined;
function ffiRs(): typeof FFI {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ffiModule ??= loadFfi();
  return ffiModule;
}

/** An opaque scmp_filter_ctx. */
export type SeccompCtx = { readonly __brand: 'scmp_filter_ctx' };

/** One struct scmp_arg_cmp. */
export interface ScmpArgCmp {
  arg: number;
  op: number;
  datumA: bigint;
  datumB: bigint;
}

/** enum scmp_filter_attr (libseccomp >= 2.5). */
export const SCMP_FLTATR = {
  ACT_DEFAULT: 1,
  ACT_BADARCH: 2,
  CTL_NNP: 3,
  CTL_TSYNC: 4,
  API_TSKIP: 5,
  CTL_LOG: 6,
  CTL_SSB: 7,
  CTL_OPTIMIZE: 8,
  API_SYSRAWRC: 9,
} as const;

/** enum scmp_compare. */
export const SCMP_CMP = { NE: 1, LT: 2, LE: 3, EQ: 4, GE: 5, GT: 6, MASKED_EQ: 7 } as const;

/** Action values (seccomp.h); ERRNO and TRACE carry a 16-bit value in the low bits. */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  KILL: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: (errno: number) => (0x00050000 | (errno & 0xffff)) >>> 0,
  TRACE: (msg: number) => (0x7ff00000 | (msg & 0xffff)) >>> 0,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  NOTIFY: 0x7fc00000,
} as const;

/** __NR_SCMP_ERROR: what seccomp_syscall_resolve_name returns for an unknown name. */
export const NR_SCMP_ERROR = -1;

export interface Libseccomp {
  init(defaultAction: number): SeccompCtx;
  release(ctx: SeccompCtx): void;
  /** 0 when the name is unknown. */
  archResolveName(name: string): number;
  archNative(): number;
  archAdd(ctx: SeccompCtx, arch: number): void;
  /** The syscall number (negative pseudo numbers included), NR_SCMP_ERROR when unknown. */
  syscallResolveName(name: string): number;
  /** The syscall number on architecture token `arch` (an AUDIT_ARCH_* value), NR_SCMP_ERROR when unknown. */
  syscallResolveNameArch(arch: number, name: string): number;
  /** seccomp_version(): "2.5.4". */
  version(): string;
  ruleAdd(ctx: SeccompCtx, action: number, syscall: number, args: ScmpArgCmp[], what: string): void;
  attrSet(ctx: SeccompCtx, attr: number, value: number): void;
  load(ctx: SeccompCtx): void;
  /** seccomp_notify_fd: after load of a filter with SCMP_ACT_NOTIFY rules, its listener fd. */
  notifyFd(ctx: SeccompCtx): number;
  /** seccomp_export_bpf: write the filter's BPF program (struct sock_filter[]) to fd. */
  exportBpf(ctx: SeccompCtx, fd: number): void;
}

const errnoText = new Map<number, string>([
  [constants.errno.EINVAL, 'invalid argument'],
  [constants.errno.EEXIST, 'file exists'],
  [constants.errno.ENOMEM, 'cannot allocate memory'],
  [constants.errno.EACCES, 'permission denied'],
  [constants.errno.EFAULT, 'bad address'],
  [constants.errno.EOPNOTSUPP, 'operation not supported'],
  [constants.errno.ESRCH, 'no such process'],
  [constants.errno.ECANCELED, 'operation canceled'],
  [constants.errno.EDOM, 'numerical argument out of domain'],
]);

function seccompError(call: string, arg: string, rc: number): SysError {
  const errno = -rc;
  return new SysError(call, arg, errno, errnoText.get(errno) ?? `libseccomp error ${rc}`);
}

type Param = FFI.DataType | FFI.ArrayConstructorOptions;

let opened = false;
function call<R>(funcName: string, retType: FFI.DataType, paramsType: Param[], paramsValue: unknown[]): R {
  const ffi = ffiRs();
  if (!opened) {
    ffi.open({ library: LIB, path: 'libseccomp.so.2' });
    opened = true;
  }
  return ffi.load({ library: LIB, funcName, retType, paramsType, paramsValue }) as R;
}

/** Calls returning int: negative is -errno. */
function check(call_: string, arg: string, funcName: string, paramsType: Param[], values: unknown[]): number {
  const rc = call<number>(funcName, ffiRs().DataType.I32, paramsType, values);
  if (rc < 0) throw seccompError(call_, arg, rc);
  return rc;
}

const u8 = (length: number): FFI.ArrayConstructorOptions => ffiRs().arrayConstructor({ type: ffiRs().DataType.U8Array, length });

/** struct scmp_arg_cmp[] laid out as in C: {u32 arg; u32 op; u64 datum_a; u64 datum_b}. */
export function packArgs(args: ScmpArgCmp[]): Buffer {
  const buf = Buffer.alloc(Math.max(args.length, 1) * 24);
  args.forEach((a, i) => {
    buf.writeUInt32LE(a.arg, i * 24);
    buf.writeUInt32LE(a.op, i * 24 + 4);
    buf.writeBigUInt64LE(a.datumA, i * 24 + 8);
    buf.writeBigUInt64LE(a.datumB, i * 24 + 16);
  });
  return buf;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export function createLibseccomp(): Libseccomp {
  const ffi = ffiRs();
  const T = ffi.DataType;
  return {
    init(defaultAction) {
      const ctx = call<FFI.JsExternal>('seccomp_init', T.External, [T.U32], [defaultAction >>> 0]);
      if (ffi.isNullPointer(ctx)) {
        throw new SysError('seccomp_init', `default action ${hex(defaultAction)}`, constants.errno.EINVAL, 'invalid argument');
      }
      return ctx as unknown as SeccompCtx;
    },
    release(ctx) {
      call('seccomp_release', T.Void, [T.External], [ctx]);
    },
    archResolveName: (name) => call<number>('seccomp_arch_resolve_name', T.U32, [T.String], [name]),
    archNative: () => call<number>('seccomp_arch_native', T.U32, [], []),
    archAdd(ctx, arch) {
      check('seccomp_arch_add', hex(arch), 'seccomp_arch_add', [T.External, T.U32], [ctx, arch >>> 0]);
    },
    syscallResolveName: (name) => call<number>('seccomp_syscall_resolve_name', T.I32, [T.String], [name]),
    syscallResolveNameArch: (arch, name) => call<number>('seccomp_syscall_resolve_name_arch', T.I32, [T.U32, T.String], [arch >>> 0, name]),
    version() {
      // const struct scmp_version { unsigned int major, minor, micro; } *
      // (ffi-rs reads a struct return type through the returned pointer)
      const v = call<{ major: number; minor: number; micro: number }>('seccomp_version', { major: T.I32, minor: T.I32, micro: T.I32 } as unknown as FFI.DataType, [], []);
      return `${v.major}.${v.minor}.${v.micro}`;
    },
    ruleAdd(ctx, action, syscall, args, what) {
      const packed = packArgs(args);
      check('seccomp_rule_add', what, 'seccomp_rule_add_array',
        [T.External, T.U32, T.I32, T.U32, u8(packed.length)], [ctx, action >>> 0, syscall, args.length, packed]);
    },
    attrSet(ctx, attr, value) {
      check('seccomp_attr_set', `attribute ${attr}=${value}`, 'seccomp_attr_set', [T.External, T.I32, T.U32], [ctx, attr, value >>> 0]);
    },
    load(ctx) {
      check('seccomp_load', 'filter', 'seccomp_load', [T.External], [ctx]);
    },
    notifyFd(ctx) {
      return check('seccomp_notify_fd', 'filter', 'seccomp_notify_fd', [T.External], [ctx]);
    },
    exportBpf(ctx, fd) {
      check('seccomp_export_bpf', 'filter', 'seccomp_export_bpf', [T.External, T.I32], [ctx, fd]);
    },
  };
}

let current: Libseccomp | undefined;

/** The real libseccomp, created on first use (tests may install a replacement). */
export function libseccomp(): Libseccomp {
  current ??= createLibseccomp();
  return current;
}

export function useLibseccomp(replacement: Libseccomp | undefined): void {
  current = replacement;
}
