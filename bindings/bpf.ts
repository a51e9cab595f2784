// bpf(2) for cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach
// it to a cgroup directory fd. Kept apart from libc.ts (and its Libc interface) because only
// the cgroup v2 driver needs it; like libc.ts it is the only kind of module importing ffi-rs.
import type * as ffi from 'ffi-rs';
import { addressOf, calloc, free, libcCall as call, T, view } from './c';
import { SysError } from './types';

const BPF_SYSCALL: Record<string, number> = { x64: 321, arm64: 280 };
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;

function bpf(cmd: number, attr: ffi.JsExternal, size: number, what: string): number {
  const nr = BPF_SYSCALL[process.arch];
  if (nr === undefined) throw new Error(`tsrun does not know the bpf syscall number of ${process.arch}`);
  const r = call('syscall', T.I64, [T.I64, T.I64, T.External, T.U64], [nr, cmd, attr, size]);
  if (r.value === -1) {
    const text = r.errnoMessage.replace(/ \(os error \d+\)$/, '');
    throw new SysError('bpf', what, r.errnoCode, text.charAt(0).toLowerCase() + text.slice(1));
  }
  return r.value as number;
}

/**
 * BPF_PROG_LOAD of `insns` (8 bytes per instruction) as a cgroup device program; returns the
 * program fd. A verifier refusal is reported with the verifier's log.
 */
export function loadDeviceProgram(insns: Buffer, license = 'Apache'): number {
  const ATTR = 128;
  const LOG = 64 * 1024;
  const code = calloc(insns.length);
  const lic = calloc(license.length + 1);
  const log = calloc(LOG);
  const attr = calloc(ATTR);
  try {
    insns.copy(view(code, insns.length));
    Buffer.from(license, 'latin1').copy(view(lic, license.length + 1));
    const a = view(attr, ATTR);
    a.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0); // prog_type
    a.writeUInt32LE(insns.length / 8, 4); // insn_cnt
    a.writeBigUInt64LE(addressOf(code), 8); // insns
    a.writeBigUInt64LE(addressOf(lic), 16); // license
    a.writeUInt32LE(1, 24); // log_level
    a.writeUInt32LE(LOG, 28); // log_size
    a.writeBigUInt64LE(addressOf(log), 32); // log_buf
    try {
      return bpf(BPF_PROG_LOAD, attr, ATTR, 'BPF_PROG_LOAD cgroup device program');
    } catch (err) {
      const text = view(log, LOG).toString('latin1');
      const verifier = text.slice(0, text.indexOf('\0') < 0 ? LOG : text.indexOf('\0')).trim();
      if (verifier && err instanceof Error) err.message += `: verifier: ${verifier.split('\n').slice(-5).join(' | ')}`;
      throw err;
    }
  } finally {
    for (const p of [code, lic, log, attr]) free(p);
  }
}

/** BPF_PROG_ATTACH of program `progFd` to the cgroup directory `cgroupFd` (BPF_CGROUP_DEVICE). */
export function attachDeviceProgram(cgroupFd: number, progFd: number, flags = BPF_F_ALLOW_MULTI): void {
  const ATTR = 32;
  const attr = calloc(ATTR);
  try {
    const a = view(attr, ATTR);
    a.writeUInt32LE(cgroupFd, 0); // target_fd
    a.writeUInt32LE(progFd, 4); // attach_bpf_fd
    a.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
    a.writeUInt32LE(flags, 12); // attach_flags
    bpf(BPF_PROG_ATTACH, attr, ATTR, `BPF_PROG_ATTACH to cgroup fd ${cgroupFd}`);
  } finally {
    free(attr);
  }
}
