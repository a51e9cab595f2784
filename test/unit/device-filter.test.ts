// The cgroup v2 device program's bytes against programs written from linux/bpf.h
// (test/helpers/devcg.ts), not from the constants of src/cgroups/devices.ts: a wrong
// opcode or context offset there would otherwise go unnoticed by the interpreter that
// shares them (test/unit/cgroups.test.ts). The kernel loads them in
// test/integration/device-filter.test.ts.
import t from 'tap';
import { deviceProgram, encodeProgram } from '../../src/cgroups/devices';
import { expectedPrograms } from '../helpers/devcg';

/** One hex string per 8-byte instruction, so a failure shows which one differs. */
const insns = (b: Buffer): string[] => Array.from({ length: b.length / 8 }, (_, i) => b.subarray(i * 8, i * 8 + 8).toString('hex'));

for (const e of expectedPrograms) {
  t.test(`device program bytes: ${e.name}`, async (t) => {
    const got = encodeProgram(deviceProgram(e.rules));
    t.same(insns(got), insns(e.bytes), 'instruction by instruction');
    t.ok(got.equals(e.bytes), 'byte for byte');
  });
}
