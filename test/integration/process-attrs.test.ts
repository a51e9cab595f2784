// Process attributes in real containers (root), looked at from inside: oomScoreAdj,
// personality, scheduler, ioPriority, execCPUAffinity, rlimits errors, and the LSM fields on
// a host without AppArmor/SELinux. Build first (`npm run build`).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { BundleConfig } from '../helpers/bundle';
import { rootSuite, runIn } from '../helpers/container';
import { apparmorEnabled, selinuxEnabled } from '../../src/init/attributes';

const root = rootSuite();

// What this host lets root do, read from the kernel up front so each test knows which
// outcome is right (a test must not accept both).
const CAP_SYS_RESOURCE = 24;
const capEff = BigInt('0x' + (/^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'));
const haveSysResource = (capEff & (1n << BigInt(CAP_SYS_RESOURCE))) !== 0n;
// A v1 cpu controller with RT group scheduling gives a new cgroup no realtime budget.
const rtBudgetZero = fs.existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');
const sh = (script: string): string[] => ['sh', '-c', script];

function run(t: T, script: string, mutate: (c: BundleConfig) => void) {
  const r = runIn({ root, args: sh(script), mutate });
  t.same(r.residue, [], 'nothing left behind');
  return r;
}
type T = tap.Test;

t.test('oomScoreAdj: written before the process starts', async (t) => {
  const r = run(t, 'cat /proc/self/oom_score_adj', (c) => (c.process.oomScoreAdj = 500));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), '500');
  // Lowering it needs CAP_SYS_RESOURCE, which these hosts lack: the error names field, value, reason.
  const low = run(t, 'cat /proc/self/oom_score_adj', (c) => (c.process.oomScoreAdj = -500));
  if (haveSysResource) t.equal(low.stdout.trim(), '-500', `this host grants CAP_SYS_RESOURCE: lowered (${low.stderr})`);
  else t.match(low.stderr, /process\.oomScoreAdj -500: .*(permission denied|CAP_SYS_RESOURCE)/, 'no CAP_SYS_RESOURCE here: refused, naming field, value, reason');
});

t.test('personality LINUX32: uname -m says i686; LINUX: x86_64', { skip: os.arch() !== 'x64' && 'x86_64 only' }, async (t) => {
  const r32 = run(t, 'uname -m', (c) => (c.linux.personality = { domain: 'LINUX32' }));
  t.equal(r32.status, 0, r32.stderr);
  t.equal(r32.stdout.trim(), 'i686');
  const r64 = run(t, 'uname -m', (c) => (c.linux.personality = { domain: 'LINUX' }));
  t.equal(r64.stdout.trim(), 'x86_64');
  const flags = run(t, 'cat /proc/self/personality', (c) => (c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }));
  t.equal(flags.stdout.trim(), '00040000', 'ADDR_NO_RANDOMIZE reaches the process');
  const bad = run(t, 'true', (c) => (c.linux.personality = { domain: 'LINUX', flags: ['NO_SUCH_FLAG'] }));
  t.not(bad.status, 0);
  t.match(bad.stderr, /linux\.personality\.flags "NO_SUCH_FLAG"/);
});

t.test('scheduler: policy and nice seen in /proc/self/sched and stat', async (t) => {
  const batch = run(t, 'grep -E "^policy" /proc/self/sched; cut -d" " -f19 /proc/self/stat', (c) => (c.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 }));
  t.equal(batch.status, 0, batch.stderr);
  t.match(batch.stdout, /^policy\s+:\s+3$/m, 'SCHED_BATCH is policy 3');
  t.match(batch.stdout, /^7$/m, 'nice 7');
  const fifo = run(t, 'grep -E "^(policy|prio)" /proc/self/sched', (c) => (c.process.scheduler = { policy: 'SCHED_FIFO', priority: 10 }));
  if (!rtBudgetZero) {
    t.equal(fifo.status, 0, fifo.stderr);
    t.match(fifo.stdout, /^policy\s+:\s+1$/m, 'SCHED_FIFO');
    t.match(fifo.stdout, /^prio\s+:\s+89$/m, 'rt priority 10 = prio 89');
  } else {
    // In a cgroup v1 cpu controller a new cgroup has no realtime budget (cpu.rt_runtime_us 0).
    t.match(fifo.stderr, /process\.scheduler \{"policy":"SCHED_FIFO","priority":10\}: .*operation not permitted.*rt_runtime_us/);
  }
  const bad = run(t, 'true', (c) => (c.process.scheduler = { policy: 'SCHED_FIFO', priority: 0 }));
  t.not(bad.status, 0);
  t.match(bad.stderr, /process\.scheduler \{"policy":"SCHED_FIFO","priority":0\}: .*invalid argument/);
});

t.test('ioPriority: busybox ionice shows the class and level', async (t) => {
  const r = run(t, 'ionice', (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 }));
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /best-effort: prio 6/);
  const idle = run(t, 'ionice', (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 }));
  t.match(idle.stdout, /idle/);
  const bad = run(t, 'true', (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 9 }));
  t.not(bad.status, 0);
  t.match(bad.stderr, /ioPriority\/?\.?priority.*9/);
});

t.test('execCPUAffinity: final applies to the exec\'d process', async (t) => {
  const cpus = os.cpus().length;
  const last = cpus - 1;
  const r = run(t, 'grep Cpus_allowed_list /proc/self/status', (c) => (c.process.execCPUAffinity = { initial: '0', final: String(last) }));
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`Cpus_allowed_list:\\s+${last}$`, 'm'));
  const initialOnly = run(t, 'grep Cpus_allowed_list /proc/self/status', (c) => (c.process.execCPUAffinity = { initial: String(last) }));
  t.match(initialOnly.stdout, new RegExp(`Cpus_allowed_list:\\s+${last}$`, 'm'), 'initial alone is kept through exec');
  const bad = run(t, 'true', (c) => (c.process.execCPUAffinity = { final: '4000' }));
  t.not(bad.status, 0);
  t.match(bad.stderr, /process\.execCPUAffinity\.final 4000: /);
  const syntax = run(t, 'true', (c) => (c.process.execCPUAffinity = { initial: '1-a' }));
  t.match(syntax.stderr, /process\.execCPUAffinity\.initial "1-a": invalid CPU list/);
});

t.test('rlimits: applied, and a refused hard limit names type, value and reason', async (t) => {
  const r = run(t, 'ulimit -n; ulimit -Hn', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }]));
  t.equal(r.status, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), ['512', '1024']);
  const high = run(t, 'ulimit -Hn', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }]));
  if (haveSysResource) t.equal(high.stdout.trim(), '1048576', `this host grants CAP_SYS_RESOURCE: raised (${high.stderr})`);
  else t.match(high.stderr, /process\.rlimits RLIMIT_NOFILE soft=1048576 hard=1048576: .*(operation not permitted|CAP_SYS_RESOURCE)/);
});

const lsmOn = (apparmorEnabled() || selinuxEnabled()) && 'this host has AppArmor or SELinux enabled: the refusals are for hosts without them';
t.test('AppArmor and SELinux on a host without them (runc behaviour)', { skip: lsmOn }, async (t) => {
  const aa = run(t, 'true', (c) => (c.process.apparmorProfile = 'docker-default'));
  t.not(aa.status, 0, 'an AppArmor profile on a host without AppArmor fails create');
  t.match(aa.stderr, /apparmor profile "docker-default" specified but AppArmor is not enabled on this system/);
  const se = run(t, 'true', (c) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0'));
  t.not(se.status, 0, 'an SELinux process label on a host without SELinux fails create (as runc)');
  t.match(se.stderr, /selinux label is specified in config, but selinux is disabled or not supported/);
  const ml = run(t, 'echo ok', (c) => (c.linux.mountLabel = 'system_u:object_r:container_file_t:s0'));
  t.equal(ml.status, 0, 'linux.mountLabel is ignored without SELinux');
  t.equal(ml.stdout.trim(), 'ok');
});
