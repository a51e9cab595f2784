// linux.seccomp -> libseccomp rules (src/security/seccomp.ts). The plan is pure; building
// a filter with the real libseccomp needs no root (only seccomp_load would, and is not called).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLibseccomp, Libseccomp, packArgs, SCMP_ACT, SCMP_CMP, SCMP_FLTATR, SeccompCtx } from '../../bindings/libseccomp';
import { buildSeccomp, containerProcessState, hostPid, planSeccomp, supportedSeccompFlags } from '../../src/security/seccomp';
import { enosysStub } from '../../src/security/enosys-stub';
import type { LinuxSeccomp } from '../../src/spec/types';

const fixtures = path.join(__dirname, '..', 'fixtures', 'engine-configs');
const profileOf = (file: string): LinuxSeccomp =>
  (JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')) as { linux: { seccomp: LinuxSeccomp } }).linux.seccomp;

t.test('actions: ERRNO and TRACE carry errnoRet (EPERM when absent)', async (t) => {
  const plan = planSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    syscalls: [
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
      { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['ptrace'], action: 'SCMP_ACT_TRACE' },
      { names: ['kill'], action: 'SCMP_ACT_KILL' },
      { names: ['tkill'], action: 'SCMP_ACT_KILL_PROCESS' },
      { names: ['tgkill'], action: 'SCMP_ACT_KILL_THREAD' },
      { names: ['reboot'], action: 'SCMP_ACT_TRAP' },
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['write'], action: 'SCMP_ACT_LOG' },
    ],
  });
  t.equal(plan.defaultAction, 0x50026);
  t.same(plan.rules.map((r) => [r.name, r.action]), [
    ['mkdir', 0x50001],
    ['rmdir', 0x5000d],
    ['ptrace', 0x7ff00001],
    ['kill', 0],
    ['tkill', 0x80000000],
    ['tgkill', 0],
    ['reboot', 0x30000],
    ['read', 0x7fff0000],
    ['write', 0x7ffc0000],
  ]);
  t.same(plan.attributes, [[SCMP_FLTATR.CTL_NNP, 0]], 'no_new_privs is left to tsrun');
});

t.test('rules repeating the default action are skipped; ERRNO values are compared', async (t) => {
  const plan = planSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['a1', 'a2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['b'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['c'], action: 'SCMP_ACT_ERRNO' },
    ],
  });
  t.same(plan.rules.map((r) => r.name), ['b']);
});

t.test('args: operators, values, valueTwo; same index twice -> separate rules', async (t) => {
  const plan = planSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      {
        names: ['clone'],
        action: 'SCMP_ACT_ERRNO',
        args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
      {
        names: ['personality'],
        action: 'SCMP_ACT_ERRNO',
        args: [
          { index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 3, op: 'SCMP_CMP_NE' },
        ],
      },
      {
        names: ['socket'],
        action: 'SCMP_ACT_ERRNO',
        args: [
          { index: 0, value: 1, op: 'SCMP_CMP_GE' },
          { index: 0, value: 18446744073709551615, op: 'SCMP_CMP_LT' },
        ],
      },
    ],
  });
  t.same(plan.rules.map((r) => [r.name, r.args]), [
    ['clone', [{ arg: 0, op: SCMP_CMP.MASKED_EQ, datumA: 2114060288n, datumB: 0n }]],
    ['personality', [
      { arg: 0, op: SCMP_CMP.EQ, datumA: 0xffffffffn, datumB: 0n },
      { arg: 1, op: SCMP_CMP.NE, datumA: 3n, datumB: 0n },
    ]],
    ['socket', [{ arg: 0, op: SCMP_CMP.GE, datumA: 1n, datumB: 0n }]],
    ['socket', [{ arg: 0, op: SCMP_CMP.LT, datumA: 0xffffffffffffffffn, datumB: 0n }]],
  ]);
});

t.test('struct scmp_arg_cmp layout: 24 bytes, u32 arg, u32 op, u64 a, u64 b', async (t) => {
  const buf = packArgs([{ arg: 2, op: 7, datumA: 0x1122334455667788n, datumB: 0xffffffffffffffffn }]);
  t.equal(buf.length, 24);
  t.equal(buf.toString('hex'), '02000000' + '07000000' + '8877665544332211' + 'ffffffffffffffff');
});

t.test('flags, architectures', async (t) => {
  const plan = planSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
    flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
  });
  t.same(plan.architectures, ['x86_64', 'x86', 'x32', 'aarch64']);
  t.same(plan.attributes, [
    [SCMP_FLTATR.CTL_NNP, 0],
    [SCMP_FLTATR.CTL_TSYNC, 1],
    [SCMP_FLTATR.CTL_LOG, 1],
    [SCMP_FLTATR.CTL_SSB, 1],
  ]);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NO_SUCH_FLAG' as 'SECCOMP_FILTER_FLAG_LOG'] }),
    /linux\.seccomp\.flags: "SECCOMP_FILTER_FLAG_NO_SUCH_FLAG" is not supported by tsrun/);
  // WAIT_KILLABLE_RECV is no libseccomp attribute: tsrun-stage passes it to seccomp(2).
  t.same(planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }).attributes, [[SCMP_FLTATR.CTL_NNP, 0]]);
});

t.test('notify: rules need listenerPath; default NOTIFY, sendmsg and stray metadata refused', async (t) => {
  const plan = planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] });
  t.equal(plan.notify, true);
  t.equal(plan.rules[0].action, SCMP_ACT.NOTIFY);
  t.equal(planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock' }).notify, false, 'listenerPath alone: ignored');
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/l.sock' }), /defaultAction: SCMP_ACT_NOTIFY cannot be the default action/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }),
    /syscalls\[0\]\.action: SCMP_ACT_NOTIFY needs linux\.seccomp\.listenerPath/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/l', syscalls: [{ names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }] }),
    /cannot be used for sendmsg/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'x' }), /listenerMetadata: must not be set without listenerPath/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: 'rel.sock' }), /listenerPath: "rel\.sock" is not an absolute path/);
});

t.test('notify: the container process state and the host pid', async (t) => {
  t.equal(hostPid('Name:\tsh\nNSpid:\t4422\t1\nSeccomp:\t0\n'), 4422, 'first NSpid field');
  t.equal(hostPid('Name:\tsh\n'), process.pid, 'no NSpid: our pid');
  const state = { ociVersion: '1.0.2', id: 'c1', status: 'creating', bundle: '/b', annotations: { k: 'v' } };
  t.same(JSON.parse(containerProcessState({ pid: 4422, metadata: 'M', state }, '1.2.0')), {
    ociVersion: '1.2.0', fds: ['seccompFd'], pid: 4422, metadata: 'M',
    state: { ociVersion: '1.0.2', id: 'c1', status: 'creating', pid: 4422, bundle: '/b', annotations: { k: 'v' } },
  });
  const exec = JSON.parse(containerProcessState({ pid: 5000, state: { ...state, status: 'running', pid: 4422, annotations: undefined } }, '1.2.0'));
  t.equal(exec.pid, 5000);
  t.equal(exec.state.pid, 4422);
  t.same(exec.state.annotations, {});
  t.notOk('metadata' in exec);
});

t.test('refused: unknown actions and operators', async (t) => {
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_NOPE' as 'SCMP_ACT_ALLOW' }), /unknown seccomp action "SCMP_ACT_NOPE"/);
  t.throws(() => planSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' as 'SCMP_CMP_EQ' }] }],
  }), /syscalls\[0\]\.args\[0\]\.op: unknown operator "SCMP_CMP_XX"/);
});

/** A recording wrapper around the real libseccomp (nothing is loaded). */
function recording(): { lib: Libseccomp; log: string[] } {
  const real = createLibseccomp();
  const log: string[] = [];
  const lib: Libseccomp = {
    ...real,
    init: (a) => (log.push(`init ${a.toString(16)}`), real.init(a)),
    archAdd: (c, a) => (log.push(`arch ${a.toString(16)}`), real.archAdd(c, a)),
    attrSet: (c, a, v) => (log.push(`attr ${a}=${v}`), real.attrSet(c, a, v)),
    ruleAdd: (c, act, nr, args, what) => (log.push(`rule ${what} ${act.toString(16)} ${args.length}`), real.ruleAdd(c, act, nr, args, what)),
    release: (c: SeccompCtx) => (log.push('release'), real.release(c)),
    load: () => {
      throw new Error('load must not be called in unit tests');
    },
  };
  return { lib, log };
}

t.test('libseccomp: resolves names and arches', async (t) => {
  const lib = createLibseccomp();
  t.equal(lib.syscallResolveName('read'), process.arch === 'x64' ? 0 : 63);
  t.equal(lib.syscallResolveName('no_such_syscall'), -1);
  t.equal(lib.archResolveName('x86_64'), 0xc000003e);
  t.equal(lib.archResolveName('nope'), 0);
});

t.test('build: unknown syscall names skipped, native arch not re-added', async (t) => {
  const { lib, log } = recording();
  const filter = buildSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: ['mkdir', 'no_such_syscall_xyz'], action: 'SCMP_ACT_ERRNO' },
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
    ],
  }, lib)!;
  t.ok(filter);
  t.same(filter.unknownSyscalls, ['no_such_syscall_xyz']);
  const expectArch = process.arch === 'x64' ? ['arch 40000003'] : ['arch c000003e', 'arch 40000003'];
  t.same(log, ['init 7fff0000', ...expectArch, 'attr 3=0', 'rule mkdir 50001 0', 'rule personality 50016 1']);
  filter.release();
});

t.test('build: bad architecture and libseccomp refusals fail with the JSON path', async (t) => {
  const { lib, log } = recording();
  t.throws(() => buildSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, lib),
    /linux\.seccomp\.architectures: SCMP_ARCH_VAX is not an architecture libseccomp knows/);
  t.equal(log.at(-1), 'release', 'the context is released on failure');
  // A conditional rule on an argument index libseccomp rejects (index 6 slips past the schema here).
  t.throws(() => buildSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }],
  }, lib), /syscalls\[0\]\.args\[0\]\.index/);
});

t.test('build: the Docker and podman default profiles', async (t) => {
  for (const file of ['docker-config.json', 'podman-config.json']) {
    const { lib, log } = recording();
    const filter = buildSeccomp(profileOf(file), lib);
    t.ok(filter, file);
    t.ok(log.filter((l) => l.startsWith('rule ')).length > 300, `${file}: hundreds of rules`);
    t.ok(log.includes(`attr ${SCMP_FLTATR.CTL_OPTIMIZE}=2`), `${file}: binary tree optimisation`);
    filter?.release();
  }
  t.equal(SCMP_ACT.ERRNO(1), 0x50001);
});

t.test('no profile, no filter', async (t) => {
  t.equal(buildSeccomp(undefined), undefined);
});

t.test('-ENOSYS stub: none for an allowing default or default errno ENOSYS; else a program ending in ERRNO(ENOSYS)', async (t) => {
  const lib = createLibseccomp();
  const syscalls = [{ names: ['read', 'openat'], action: 'SCMP_ACT_ALLOW' as const }];
  t.equal(enosysStub({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO' }] }, lib).length, 0);
  t.equal(enosysStub({ defaultAction: 'SCMP_ACT_LOG', syscalls }, lib).length, 0);
  t.equal(enosysStub({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls }, lib).length, 0);
  const stub = enosysStub({ defaultAction: 'SCMP_ACT_ERRNO', syscalls }, lib);
  t.equal(stub.length % 8, 0, 'whole struct sock_filter entries');
  t.equal(stub.readUInt16LE(stub.length - 8), 0x06, 'the last instruction returns');
  t.equal(stub.readUInt32LE(stub.length - 4), SCMP_ACT.ERRNO(38), '... ERRNO(ENOSYS)');
  // The highest listed syscall (openat) is the bound the program compares with.
  const ks = Array.from({ length: stub.length / 8 }, (_, i) => stub.readUInt32LE(i * 8 + 4));
  t.ok(ks.includes(lib.syscallResolveName('openat')), 'compares with openat\'s number');
});

t.test('supportedSeccompFlags: WAIT_KILLABLE_RECV from Linux 5.19', async (t) => {
  t.notOk(supportedSeccompFlags('5.15.0-91-generic').includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'));
  t.ok(supportedSeccompFlags('5.19.0').includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'));
  t.ok(supportedSeccompFlags('6.1.0-13-amd64').includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'));
  t.ok(supportedSeccompFlags('4.19.0').includes('SECCOMP_FILTER_FLAG_LOG'));
});
