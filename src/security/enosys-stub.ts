// The -ENOSYS stub runc (libcontainer/seccomp/patchbpf) puts in front of a seccomp filter:
// a syscall numbered above the highest one the profile names, on the calling architecture,
// fails with ENOSYS instead of the profile's default action. A profile written before a
// syscall existed then makes programs fall back (glibc tries clone3, then clone) instead of
// failing with EPERM. Our own BPF, prepended to the program libseccomp exported.
import type { LinuxSeccomp } from '../spec/types';
import type { Libseccomp } from '../../bindings/libseccomp';
import { SCMP_ACT } from '../../bindings/libseccomp';

const ENOSYS = 38;
const AUDIT_ARCH_X86_64 = 0xc000003e;
/** libseccomp's SCMP_ARCH_X32 token: x86_64's audit arch with __X32_SYSCALL_BIT in the number. */
const SCMP_ARCH_X32 = 0x4000003e;
const X32_SYSCALL_BIT = 0x40000000;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS = 0x20;
const JA = 0x05;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JSET_K = 0x45;
const RET_K = 0x06;
/** struct seccomp_data: nr at 0, arch at 4. */
const NR = 0;
const ARCH = 4;

/** One instruction; jumps name labels, resolved by assemble(). */
interface Insn {
  code: number;
  k: number | string;
  jt?: string;
  jf?: string;
  label?: string;
}

/**
 * The stub's BPF (struct sock_filter[]) for this profile, or an empty buffer when it needs
 * none (a default action that allows, a default errno of ENOSYS, or no syscall it knows).
 */
export function enosysStub(seccomp: LinuxSeccomp, lib: Libseccomp): Buffer {
  if (seccomp.defaultAction === 'SCMP_ACT_ALLOW' || seccomp.defaultAction === 'SCMP_ACT_LOG') return Buffer.alloc(0);
  if (seccomp.defaultErrnoRet === ENOSYS) return Buffer.alloc(0);
  // The native architecture always (Docker's profiles on ppc64le leave it out), and the listed ones.
  const tokens = new Set<number>([lib.archNative()]);
  for (const arch of seccomp.architectures ?? []) {
    const token = lib.archResolveName(arch.slice('SCMP_ARCH_'.length).toLowerCase());
    if (token !== 0) tokens.add(token >>> 0);
  }
  const names = [...new Set((seccomp.syscalls ?? []).flatMap((sc) => sc.names ?? []))];
  /** audit arch -> (libseccomp arch token -> highest syscall number of the profile). */
  const highest = new Map<number, Map<number, number>>();
  for (const token of tokens) {
    let max = 0;
    // Negative numbers are libseccomp's pseudo syscalls (not on this architecture).
    for (const name of names) max = Math.max(max, lib.syscallResolveNameArch(token, name));
    if (max === 0) continue;
    const audit = token === SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token;
    if (!highest.has(audit)) highest.set(audit, new Map());
    highest.get(audit)!.set(token, max);
  }
  if (highest.size === 0) return Buffer.alloc(0);

  const prog: Insn[] = [{ code: LD_W_ABS, k: ARCH }];
  for (const audit of highest.keys()) prog.push({ code: JEQ_K, k: audit, jt: `arch-${audit}`, jf: undefined });
  prog.push({ code: JA, k: 'filter' });
  for (const [audit, byToken] of highest) {
    prog.push({ code: LD_W_ABS, k: NR, label: `arch-${audit}` });
    const above = (max: number, label?: string): Insn => ({ code: JGT_K, k: max, jt: 'enosys', jf: 'filter', label });
    if (audit !== AUDIT_ARCH_X86_64) {
      prog.push(above([...byToken.values()][0]));
      continue;
    }
    // x86_64: the x32 ABI sets bit 30 of the number; each ABI is compared with its own highest.
    const x64 = byToken.get(AUDIT_ARCH_X86_64);
    const x32 = byToken.get(SCMP_ARCH_X32);
    prog.push({ code: JSET_K, k: X32_SYSCALL_BIT, jt: x32 !== undefined ? 'x32' : 'filter', jf: x64 !== undefined ? 'x64' : 'filter' });
    if (x64 !== undefined) prog.push(above(x64, 'x64'));
    if (x32 !== undefined) prog.push(above(x32, 'x32'));
  }
  prog.push({ code: RET_K, k: SCMP_ACT.ERRNO(ENOSYS), label: 'enosys' });
  return assemble(prog);
}

/** Resolve labels ("filter" is the first instruction after the stub) and encode. */
function assemble(prog: Insn[]): Buffer {
  const at = new Map<string, number>([['filter', prog.length]]);
  prog.forEach((insn, i) => insn.label && at.set(insn.label, i));
  const offset = (from: number, label: string | undefined): number => {
    if (label === undefined) return 0; // fall through
    const off = at.get(label)! - from - 1;
    if (off < 0 || off > 255) throw new Error(`seccomp -ENOSYS stub: jump to ${label} out of range (${off})`);
    return off;
  };
  const out = Buffer.alloc(prog.length * 8);
  prog.forEach((insn, i) => {
    const k = typeof insn.k === 'string' ? offset(i, insn.k) : insn.k;
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(offset(i, insn.jt), i * 8 + 2);
    out.writeUInt8(offset(i, insn.jf), i * 8 + 3);
    out.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return out;
}
