// Device rules: linux.resources.devices, then runc's default allowed devices (runc's order).
// The last rule that matches an access decides; no match means deny. linux.devices only
// makes nodes: a node listed there is usable only if these rules allow it (as with runc),
// so a deny-all rule keeps e.g. /dev/kmsg closed even when linux.devices creates it.
// v1 writes them to devices.allow/deny; v2 compiles them to a BPF_PROG_TYPE_CGROUP_DEVICE
// program (same instruction layout as runc's devicefilter).
import type { LinuxDeviceCgroup } from '../spec/types';
import { TsrunError } from '../errors';

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  /** -1: any */
  major: number;
  minor: number;
  access: string;
}

/** runc's AllowedDevices (libcontainer/specconv): mknod of anything, and the usual nodes. */
export const DEFAULT_ALLOWED: DeviceRule[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // console
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
];

/** The full rule list for a container; invalid entries fail naming the field. */
export function deviceRules(spec: LinuxDeviceCgroup[] | undefined): DeviceRule[] {
  const rules: DeviceRule[] = (spec ?? []).map((d, i) => {
    const field = `linux.resources.devices[${i}]`;
    const type = d.type ?? 'a';
    if (type !== 'a' && type !== 'c' && type !== 'b') throw new TsrunError(`${field}.type: found ${JSON.stringify(type)}, expected a, c or b`);
    const access = d.access ?? 'rwm';
    if (!/^[rwm]*$/.test(access)) throw new TsrunError(`${field}.access: found ${JSON.stringify(access)}, expected letters among r, w, m`);
    for (const k of ['major', 'minor'] as const) {
      const v = d[k];
      if (v !== undefined && v !== null && (!Number.isInteger(v) || v < -1)) throw new TsrunError(`${field}.${k}: found ${v}, expected a device number`);
    }
    return { allow: !!d.allow, type, major: d.major ?? -1, minor: d.minor ?? -1, access };
  });
  rules.push(...DEFAULT_ALLOWED);
  return rules;
}

/** "c 1:3 rwm" as devices.allow / devices.deny want it. */
export function v1RuleText(r: DeviceRule): string {
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access || 'rwm'}`;
}

const fullAccess = (access: string) => access === '' || [...'rwm'].every((c) => access.includes(c));

/**
 * Writes for v1: [file, value] pairs in order. Starts from deny-all (the rule semantics
 * above); an "a" rule with every access resets the list (allow all / deny all); one with
 * partial access stands for "c *:*" and "b *:*".
 */
export function v1DeviceWrites(rules: DeviceRule[]): Array<['devices.allow' | 'devices.deny', string]> {
  let out: Array<['devices.allow' | 'devices.deny', string]> = [['devices.deny', 'a']];
  for (const r of rules) {
    const file = r.allow ? 'devices.allow' : 'devices.deny';
    if (r.type === 'a' && fullAccess(r.access)) out = [[file, 'a']];
    else if (r.type === 'a') {
      out.push([file, v1RuleText({ ...r, type: 'c', major: -1, minor: -1 })], [file, v1RuleText({ ...r, type: 'b', major: -1, minor: -1 })]);
    } else out.push([file, v1RuleText(r)]);
  }
  return out;
}

// ------------------------------------------------------------------ eBPF (cgroup v2)

/** struct bpf_insn: code, dst_reg:4 | src_reg:4, off (s16), imm (s32). */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const ins = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const LDX_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_X = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const MOV64_K = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JNE_K = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT = 0x95;

const BPF_DEVCG_DEV_BLOCK = 1;
const BPF_DEVCG_DEV_CHAR = 2;
const ACC = { m: 1, r: 2, w: 4 } as const;

/**
 * The program: r2 = type, r3 = access, r4 = major, r5 = minor (from struct
 * bpf_cgroup_dev_ctx), then one block per rule, last rule first: the first block that
 * matches returns its verdict; falling off the end returns 0 (deny).
 */
export function deviceProgram(rules: DeviceRule[]): Insn[] {
  const prog: Insn[] = [
    ins(LDX_W, 2, 1, 0, 0),
    ins(AND32_K, 2, 0, 0, 0xffff),
    ins(LDX_W, 3, 1, 0, 0),
    ins(RSH32_K, 3, 0, 0, 16),
    ins(LDX_W, 4, 1, 4, 0),
    ins(LDX_W, 5, 1, 8, 0),
  ];
  let unconditional = false;
  for (let i = rules.length - 1; i >= 0 && !unconditional; i--) {
    const r = rules[i];
    const access = [...new Set(r.access || 'rwm')].reduce((a, c) => a | ACC[c as keyof typeof ACC], 0);
    const checks: Insn[][] = [];
    if (r.type !== 'a') checks.push([ins(JNE_K, 2, 0, 0, r.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)]);
    if (access !== 7) checks.push([ins(MOV32_X, 1, 3, 0, 0), ins(AND32_K, 1, 0, 0, access), ins(JNE_X, 1, 3, 0, 0)]);
    if (r.type !== 'a' && r.major >= 0) checks.push([ins(JNE_K, 4, 0, 0, r.major)]);
    if (r.type !== 'a' && r.minor >= 0) checks.push([ins(JNE_K, 5, 0, 0, r.minor)]);
    const flat = checks.flat();
    const block = [...flat, ins(MOV64_K, 0, 0, 0, r.allow ? 1 : 0), ins(EXIT, 0, 0, 0, 0)];
    // Each jump skips to the end of this block.
    block.forEach((insn, at) => {
      if (insn.code === JNE_K || insn.code === JNE_X) insn.off = block.length - (at + 1);
    });
    prog.push(...block);
    if (flat.length === 0) unconditional = true;
  }
  if (!unconditional) prog.push(ins(MOV64_K, 0, 0, 0, 0), ins(EXIT, 0, 0, 0, 0));
  return prog;
}

export function encodeProgram(prog: Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt8(p.code, i * 8);
    buf.writeUInt8((p.src << 4) | (p.dst & 0xf), i * 8 + 1);
    buf.writeInt16LE(p.off, i * 8 + 2);
    buf.writeInt32LE(p.imm, i * 8 + 4);
  });
  return buf;
}

/** Evaluate the rules the way the program does (tests compare the two). */
export function allowedByRules(rules: DeviceRule[], type: 'c' | 'b', major: number, minor: number, access: string): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i];
    if (r.type !== 'a' && r.type !== type) continue;
    if (![...access].every((c) => (r.access || 'rwm').includes(c))) continue;
    if (r.type !== 'a' && r.major >= 0 && r.major !== major) continue;
    if (r.type !== 'a' && r.minor >= 0 && r.minor !== minor) continue;
    return r.allow;
  }
  return false;
}

/** A tiny interpreter of deviceProgram's output, for unit tests (no kernel needed). */
export function runProgram(prog: Insn[], type: 'c' | 'b', major: number, minor: number, access: string): number {
  const acc = [...access].reduce((a, c) => a | ACC[c as keyof typeof ACC], 0);
  const ctx = [((acc << 16) | (type === 'b' ? 1 : 2)) >>> 0, major, minor];
  const reg = new Array<number>(11).fill(0);
  for (let pc = 0; pc < prog.length; pc++) {
    const p = prog[pc];
    switch (p.code) {
      case LDX_W: reg[p.dst] = ctx[p.off / 4]; break;
      case AND32_K: reg[p.dst] = (reg[p.dst] & p.imm) >>> 0; break;
      case RSH32_K: reg[p.dst] = reg[p.dst] >>> p.imm; break;
      case MOV32_X: reg[p.dst] = reg[p.src]; break;
      case MOV64_K: reg[p.dst] = p.imm; break;
      case JNE_K: if (reg[p.dst] !== p.imm) pc += p.off; break;
      case JNE_X: if (reg[p.dst] !== reg[p.src]) pc += p.off; break;
      case EXIT: return reg[0];
      default: throw new Error(`unknown opcode 0x${p.code.toString(16)}`);
    }
  }
  throw new Error('fell off the end of the program');
}
