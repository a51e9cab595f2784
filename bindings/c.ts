// The C-calling helpers every bindings module shares: one handle on libc, errno -> SysError,
// C memory (calloc/free) and pointer addresses. Only bindings/ imports ffi-rs.
import type * as FFI from 'ffi-rs';
import { loadFfi } from './load-ffi';
import { SysError } from './types';

/**
 * ffi-rs is loaded on first use, not when a module importing this one is loaded: commands
 * that make no system call (list, spec, features, state) are in the same bundle as those
 * that do.
 */
const ffi = (): typeof FFI => loadFfi();

/** ffi-rs's DataType, looked up when a call is made. */
export const T: typeof FFI.DataType = new Proxy({} as typeof FFI.DataType, {
  get: (_target, key) => (loadFfi().DataType as unknown as Record<string | symbol, unknown>)[key],
});
export type Param = FFI.DataType | FFI.ArrayConstructorOptions;

export interface CResult<V = number> {
  value: V;
  errnoCode: number;
  errnoMessage: string;
}

let libcOpened = false;

/** Call a libc function; the result carries errno. Runs on the calling (main) thread. */
export function libcCall<V = number>(funcName: string, retType: FFI.DataType, paramsType: Param[], values: unknown[]): CResult<V> {
  if (!libcOpened) {
    ffi().open({ library: 'libc', path: 'libc.so.6' });
    libcOpened = true;
  }
  return ffi().load({ library: 'libc', funcName, retType, paramsType, paramsValue: values, errno: true }) as unknown as CResult<V>;
}

export function sysError(name: string, arg: string, errno: number, message: string): SysError {
  // ffi-rs reports "Operation not permitted (os error 1)"; engines grep the lower-case text.
  const text = message.replace(/ \(os error \d+\)$/, '');
  return new SysError(name, arg, errno, text.charAt(0).toLowerCase() + text.slice(1));
}

/**
 * Call a libc function returning int (or syscall(), returning long): -1 throws a SysError
 * naming `name` and `arg`. An int read as 64 bits would turn -1 into 4294967295.
 */
export function checked(name: string, arg: string, funcName: string, paramsType: Param[], values: unknown[]): number {
  const r = libcCall(funcName, funcName === 'syscall' ? T.I64 : T.I32, paramsType, values);
  if (r.value === -1) throw sysError(name, arg, r.errnoCode, r.errnoMessage);
  return r.value;
}

export function calloc(size: number): FFI.JsExternal {
  return libcCall<FFI.JsExternal>('calloc', T.External, [T.U64, T.U64], [1, size]).value;
}

export function free(ptr: FFI.JsExternal): void {
  libcCall('free', T.Void, [T.External], [ptr]);
}

/** The numeric address of a C pointer: strncpy(p, p, 0) returns p unchanged. */
export function addressOf(ptr: FFI.JsExternal): bigint {
  return BigInt.asUintN(64, BigInt(libcCall('strncpy', T.I64, [T.External, T.External, T.U64], [ptr, ptr, 0]).value));
}

/** A Buffer passed by pointer (a struct the kernel only reads). */
export const u8 = (length: number): FFI.ArrayConstructorOptions => ffi().arrayConstructor({ type: T.U8Array, length });

/** View C memory as a Buffer without copying. */
export const view = (ptr: FFI.JsExternal, length: number): Buffer => ffi().createExternalBuffer(ptr, length);
