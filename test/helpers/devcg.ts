// Expected cgroup v2 device programs, written from the kernel's own definitions and NOT
// from src/cgroups/devices.ts: the opcodes of include/uapi/linux/bpf.h and bpf_common.h,
// the layout of struct bpf_insn and the offsets of struct bpf_cgroup_dev_ctx
// ({ __u32 access_type; __u32 major; __u32 minor; }, access_type = access << 16 | type).
// test/unit/device-filter.test.ts compares tsrun's bytes with these;
// test/integration/device-filter.test.ts loads them into the kernel.

// bpf_common.h / bpf.h
const BPF_LDX = 0x01, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_ALU64 = 0x07;
const BPF_W = 0x00, BPF_MEM = 0x60;
const BPF_K = 0x00, BPF_X = 0x08;
const BPF_AND = 0x50, BPF_RSH = 0x70, BPF_MOV = 0xb0;
const BPF_JNE = 0x50, BPF_EXIT = 0x90;
// struct bpf_cgroup_dev_ctx
const CTX_ACCESS_TYPE = 0, CTX_MAJOR = 4, CTX_MINOR = 8;
export const BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4;
/** enum bpf_prog_type */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

/** struct bpf_insn { __u8 code; __u8 dst_reg:4, src_reg:4; __s16 off; __s32 imm; } (little endian). */
function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

// Mnemonics, as in the kernel's filter.h macros.
const ldxW = (dst: number, src: number, off: number) => insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
const and32 = (dst: number, imm: number) => insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm);
const rsh32 = (dst: number, imm: number) => insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm);
const mov32Reg = (dst: number, src: number) => insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
const mov64Imm = (dst: number, imm: number) => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
const jneImm = (dst: number, imm: number, off: number) => insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
const jneReg = (dst: number, src: number, off: number) => insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0);
const exit = () => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

/** r2 = device type, r3 = requested access, r4 = major, r5 = minor. */
const prologue = [
  ldxW(R2, R1, CTX_ACCESS_TYPE),
  and32(R2, 0xffff),
  ldxW(R3, R1, CTX_ACCESS_TYPE),
  rsh32(R3, 16),
  ldxW(R4, R1, CTX_MAJOR),
  ldxW(R5, R1, CTX_MINOR),
];

export interface ExpectedProgram {
  name: string;
  /** The rule list given to deviceProgram(), written in spec terms. */
  rules: Array<{ allow: boolean; type: 'a' | 'c' | 'b'; major: number; minor: number; access: string }>;
  bytes: Buffer;
}

/** Rule lists and the program each must compile to (rules are matched last first). */
export const expectedPrograms: ExpectedProgram[] = [
  {
    name: 'deny all, then allow c 1:3 rw, then allow b *:* m',
    rules: [
      { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
    ],
    bytes: Buffer.concat([
      ...prologue,
      // b *:* m: block of 6, each jump lands after its exit
      jneImm(R2, BPF_DEVCG_DEV_BLOCK, 5),
      mov32Reg(R1, R3),
      and32(R1, BPF_DEVCG_ACC_MKNOD),
      jneReg(R1, R3, 2),
      mov64Imm(R0, 1),
      exit(),
      // c 1:3 rw: block of 8
      jneImm(R2, BPF_DEVCG_DEV_CHAR, 7),
      mov32Reg(R1, R3),
      and32(R1, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE),
      jneReg(R1, R3, 4),
      jneImm(R4, 1, 3),
      jneImm(R5, 3, 2),
      mov64Imm(R0, 1),
      exit(),
      // a rwm deny: unconditional, nothing after it
      mov64Imm(R0, 0),
      exit(),
    ]),
  },
  {
    name: 'allow c 136:* rwm, deny c 5:* w, allow a m (no unconditional rule: deny at the end)',
    rules: [
      { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
      { allow: false, type: 'c', major: 5, minor: -1, access: 'w' },
      { allow: true, type: 'a', major: -1, minor: -1, access: 'm' },
    ],
    bytes: Buffer.concat([
      ...prologue,
      // a m: access check only
      mov32Reg(R1, R3),
      and32(R1, BPF_DEVCG_ACC_MKNOD),
      jneReg(R1, R3, 2),
      mov64Imm(R0, 1),
      exit(),
      // c 5:* w deny
      jneImm(R2, BPF_DEVCG_DEV_CHAR, 6),
      mov32Reg(R1, R3),
      and32(R1, BPF_DEVCG_ACC_WRITE),
      jneReg(R1, R3, 3),
      jneImm(R4, 5, 2),
      mov64Imm(R0, 0),
      exit(),
      // c 136:* rwm: no access check (all three), no minor check
      jneImm(R2, BPF_DEVCG_DEV_CHAR, 3),
      jneImm(R4, 136, 2),
      mov64Imm(R0, 1),
      exit(),
      // no rule matched: deny
      mov64Imm(R0, 0),
      exit(),
    ]),
  },
];
