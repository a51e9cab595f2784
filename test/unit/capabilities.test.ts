// src/security/capabilities: names, masks, warnings, and the order of the system calls
// (against a small recording Libc; no root needed).
import t from 'tap';
import { constants } from 'node:os';
import { CapSets, Libc, SysError } from '../../bindings';
import {
  CAPABILITY_NAMES, checkBoundingSet, capabilityMask, capabilityName,
  capabilityNumber, fitToKernelRules, formatMask, lastCapability, maskNumbers, parseCapabilities, prepareCapabilities,
} from '../../src/security/capabilities';
import { features } from '../../src/container/features';

const ALL = (1n << 41n) - 1n;
const RUNC_DEFAULT = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** A Libc that records calls; prctl(PR_CAPBSET_READ, n) fails with EINVAL past `lastCap`. */
function recorder(lastCap = 40, held: CapSets = { effective: ALL, permitted: ALL, inheritable: 0n }) {
  const calls: unknown[][] = [];
  const impl: Partial<Libc> = {
    prctl(option: number, arg2: number, arg3?: number) {
      if (option === 23 && arg2 > lastCap) throw new SysError('prctl', '23', constants.errno.EINVAL, 'invalid argument');
      if (option !== 23) calls.push(arg3 === undefined ? ['prctl', option, arg2] : ['prctl', option, arg2, arg3]);
      return 1;
    },
    capget: () => ({ ...held }),
    capset: (sets: CapSets) => void calls.push(['capset', sets]),
  };
  return { sys: impl as Libc, calls };
}

t.test('the name table: numbers as in linux/capability.h', async (t) => {
  t.equal(CAPABILITY_NAMES.length, 41);
  t.equal(capabilityNumber('CAP_CHOWN'), 0);
  t.equal(capabilityNumber('CAP_KILL'), 5);
  t.equal(capabilityNumber('CAP_NET_BIND_SERVICE'), 10);
  t.equal(capabilityNumber('CAP_SYS_ADMIN'), 21);
  t.equal(capabilityNumber('CAP_SYS_RESOURCE'), 24);
  t.equal(capabilityNumber('CAP_MKNOD'), 27);
  t.equal(capabilityNumber('CAP_AUDIT_WRITE'), 29);
  t.equal(capabilityNumber('CAP_SETFCAP'), 31);
  t.equal(capabilityNumber('CAP_AUDIT_READ'), 37);
  t.equal(capabilityNumber('CAP_PERFMON'), 38);
  t.equal(capabilityNumber('CAP_BPF'), 39);
  t.equal(capabilityNumber('CAP_CHECKPOINT_RESTORE'), 40);
  t.equal(capabilityNumber('CAP_FOO'), undefined);
  t.equal(capabilityNumber('cap_chown'), undefined, 'names are exact (upper case, CAP_ prefix)');
  t.equal(capabilityNumber('CHOWN'), undefined);
  t.equal(capabilityName(40), 'CAP_CHECKPOINT_RESTORE');
  t.equal(capabilityName(41), 'CAP_41');
  t.equal(new Set(CAPABILITY_NAMES).size, 41, 'no duplicates');
});

t.test('masks', async (t) => {
  t.equal(capabilityMask([]), 0n);
  t.equal(capabilityMask([0, 5, 10]), 0x421n);
  t.equal(capabilityMask([40]), 1n << 40n, 'above 32 bits');
  t.equal(formatMask(capabilityMask(RUNC_DEFAULT.map((n) => capabilityNumber(n)!))), '00000000a80425fb');
  t.equal(formatMask(ALL), '000001ffffffffff');
  t.same(maskNumbers(0x421n), [0, 5, 10]);
  t.same(maskNumbers(1n << 40n | 1n), [0, 40]);
  t.same(maskNumbers(0n), []);
});

t.test('parseCapabilities: masks per set, missing set = empty', async (t) => {
  const warnings: string[] = [];
  const m = parseCapabilities(
    { bounding: RUNC_DEFAULT, effective: ['CAP_KILL'], permitted: ['CAP_KILL', 'CAP_KILL'], ambient: ['CAP_CHECKPOINT_RESTORE'] },
    40,
    (w) => warnings.push(w),
  );
  t.same(m, { bounding: 0xa80425fbn, effective: 0x20n, permitted: 0x20n, inheritable: 0n, ambient: 1n << 40n });
  t.same(warnings, []);
  t.same(parseCapabilities({}, 40, () => t.fail('no warning')), { bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n });
});

t.test('parseCapabilities: unknown names and caps past cap_last_cap are warnings, once per name', async (t) => {
  const warnings: string[] = [];
  const m = parseCapabilities(
    {
      bounding: ['CAP_KILL', 'CAP_FOO', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'],
      effective: ['CAP_FOO', 'CAP_FOO'],
      permitted: ['CAP_BPF', 'cap_kill'],
    },
    38, // a kernel without CAP_BPF and CAP_CHECKPOINT_RESTORE
    (w) => warnings.push(w),
  );
  t.same(m, { bounding: 0x20n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n });
  t.same(warnings, [
    'process.capabilities: ignoring "CAP_FOO" in bounding, effective: unknown capability',
    'process.capabilities: ignoring "CAP_BPF" in bounding, permitted: not supported by this kernel (cap_last_cap is 38)',
    'process.capabilities: ignoring "CAP_CHECKPOINT_RESTORE" in bounding: not supported by this kernel (cap_last_cap is 38)',
    'process.capabilities: ignoring "cap_kill" in permitted: unknown capability',
  ]);
});

t.test('fitToKernelRules: leaves out what capset or the ambient raise would refuse, with a warning', async (t) => {
  const warnings: string[] = [];
  const held = { effective: ALL & ~(1n << 24n), permitted: ALL & ~(1n << 24n), inheritable: 1n << 2n };
  const out = fitToKernelRules(
    {
      bounding: 0x21n, // CAP_CHOWN, CAP_KILL
      permitted: 0x20n | (1n << 24n), // CAP_KILL, CAP_SYS_RESOURCE (not held)
      effective: 0x21n, // CAP_CHOWN not permitted
      inheritable: 0x25n, // CAP_DAC_READ_SEARCH (2) held inheritable: allowed outside bounding
      ambient: 0x24n, // CAP_DAC_READ_SEARCH not permitted
    },
    held,
    (w) => warnings.push(w),
  );
  t.same(out, { bounding: 0x21n, permitted: 0x20n, effective: 0x20n, inheritable: 0x25n, ambient: 0x20n });
  t.same(warnings, [
    'process.capabilities.permitted: ignoring CAP_SYS_RESOURCE: not held by tsrun on this host',
    'process.capabilities.effective: ignoring CAP_CHOWN: an effective capability must also be permitted',
    'process.capabilities.ambient: ignoring CAP_DAC_READ_SEARCH: an ambient capability must also be permitted and inheritable',
  ]);
  const w2: string[] = [];
  fitToKernelRules({ bounding: 0n, permitted: 0x20n, effective: 0n, inheritable: 0x20n, ambient: 0n },
    { effective: ALL, permitted: ALL, inheritable: 0n }, (w) => w2.push(w));
  t.same(w2, ['process.capabilities.inheritable: ignoring CAP_KILL: an inheritable capability must also be in the bounding set']);
});

t.test('lastCapability probes PR_CAPBSET_READ', async (t) => {
  t.equal(lastCapability(recorder(40).sys), 40);
  t.equal(lastCapability(recorder(37).sys), 37);
  t.equal(lastCapability(recorder(43).sys), 43);
});

t.test('prepareCapabilities: undefined when the config has none', async (t) => {
  const { sys, calls } = recorder();
  t.equal(prepareCapabilities(undefined, sys, () => t.fail('no warning')), undefined);
  t.same(calls, []);
  const warnings: string[] = [];
  const p = prepareCapabilities({ bounding: ['CAP_KILL', 'CAP_FOO'], permitted: ['CAP_KILL'] }, sys, (w) => warnings.push(w));
  t.same(p, { bounding: 0x20n, effective: 0n, permitted: 0x20n, inheritable: 0n, ambient: 0n, lastCap: 40 });
  t.same(warnings, ['process.capabilities: ignoring "CAP_FOO" in bounding: unknown capability']);
});

t.test('features lists every capability name tsrun knows', async (t) => {
  t.same(features().linux?.capabilities, [...CAPABILITY_NAMES]);
});

t.test('checkBoundingSet: a known capability outside the bounding set is refused, naming set and index', async (t) => {
  const own = { bounding: ALL & ~(1n << 24n), lastCap: 40 }; // no CAP_SYS_RESOURCE, as on these hosts
  t.doesNotThrow(() => checkBoundingSet({ bounding: RUNC_DEFAULT, effective: RUNC_DEFAULT, permitted: RUNC_DEFAULT }, 'config.json', own));
  t.throws(() => checkBoundingSet({ bounding: ['CAP_KILL'], inheritable: ['CAP_KILL', 'CAP_SYS_RESOURCE'] }, 'config.json', own), {
    message: /^config\.json: \/process\/capabilities\/inheritable\/1: CAP_SYS_RESOURCE is not in tsrun's bounding set/,
  });
  t.doesNotThrow(() => checkBoundingSet({ bounding: ['CAP_BOGUS', 'CAP_CHECKPOINT_RESTORE'] }, 'config.json', { bounding: own.bounding & ~(1n << 40n), lastCap: 39 }), 'unknown names and ones past cap_last_cap stay warnings');
});
