// Config validation: engine configs pass, invalid configs fail with a ConfigError that
// names the file, the JSON pointer and what was wrong. Needs `npm run build` first (the
// validators are generated from spec-schemas/).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors';
import { resolveInRootfs } from '../../src/container/host-checks';
import {
  validateFeatures,
  validateProcess,
  validateResources,
  validateSpec,
  validateState,
} from '../../src/spec/validate';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'engine-configs');
const FILE = '/bundles/b1/config.json';

function fixture(name: string): any {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
}

/** A valid config to break: containerd's default spec plus a few optional fields. */
function base(): any {
  const spec = fixture('ctr-config.json');
  spec.hostname = 'box';
  spec.hooks = { poststop: [{ path: '/bin/true', args: ['true'], timeout: 5 }] };
  spec.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  return spec;
}

/** Run fn, expect a ConfigError and return it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, got none');
}

t.test('every engine config is accepted', async (t) => {
  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('config.json'));
  t.ok(files.length >= 3, 'found the engine configs');
  for (const f of files) {
    const raw = fixture(f);
    const spec = validateSpec(raw, f);
    t.equal(spec, raw, `${f} accepted and returned as is`);
  }
  t.ok(validateSpec(base(), FILE), 'the test base config is valid');
});

t.test('engine process.json files are accepted by validateProcess', async (t) => {
  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('process.json'));
  t.ok(files.length >= 2);
  for (const f of files) t.ok(validateProcess(fixture(f), f).args.length > 0, f);
});

t.test('update --resources input is accepted by validateResources', async (t) => {
  const res = validateResources(fixture('docker-update-stdin.json'), '-');
  t.equal(res.pids?.limit, 100);
  const err = configError(() => validateResources({ cpu: { shares: 'lots' } }, '-'));
  t.equal(err.jsonPath, '/cpu/shares');
  t.match(err.detail, 'found "lots", expected an integer');
});

t.test('unknown properties are ignored everywhere', async (t) => {
  const spec = base();
  spec.futureTopLevel = { anything: [1, 2] };
  spec.process.futureField = 1;
  spec.process.user.futureField = 'x';
  spec.process.capabilities.futureSet = ['CAP_X'];
  spec.process.rlimits[0].futureField = true;
  spec.root.futureField = null;
  spec.mounts[0].futureField = 7;
  spec.hooks.futureStage = [{ nothing: 'here' }];
  spec.hooks.poststop[0].futureField = {};
  spec.linux.futureField = 'x';
  spec.linux.namespaces[0].futureField = 1;
  spec.linux.resources.futureController = { x: 1 };
  spec.linux.resources.memory = { limit: 1 << 30, futureField: 'y' };
  spec.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    futureField: 1,
    syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', futureField: 2, args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ', x: 1 }] }],
  };
  spec.solaris = { anything: true };
  spec.windows = { layerFolders: [] };
  spec.vm = { hypervisor: { path: '/x' } };
  t.equal(validateSpec(spec, FILE), spec);

  const proc = fixture('podman-exec-process.json');
  proc.futureField = { deep: [1] };
  t.ok(validateProcess(proc, 'process.json'));
});

t.test('a full config using every section is accepted', async (t) => {
  const spec = base();
  Object.assign(spec.process, {
    terminal: true,
    consoleSize: { height: 24, width: 80 },
    apparmorProfile: 'docker-default',
    oomScoreAdj: -999,
    selinuxLabel: 'system_u:system_r:container_t:s0',
    ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
    scheduler: { policy: 'SCHED_BATCH', nice: 5, flags: ['SCHED_FLAG_RESET_ON_FORK'] },
    execCPUAffinity: { initial: '0', final: '0-1' },
  });
  spec.process.user = { uid: 1000, gid: 1000, umask: 18, additionalGids: [10, 4294967295] };
  spec.process.capabilities.ambient = [];
  spec.process.capabilities.inheritable = ['CAP_NET_RAW', 'CAP_NOT_A_REAL_ONE'];
  spec.domainname = 'example.org';
  spec.annotations = { 'org.example/key': 'value' };
  spec.mounts.push({
    destination: 'data', source: '/srv', type: 'bind', options: ['rbind', 'ro'],
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  });
  spec.hooks = Object.fromEntries(
    ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'].map((h) => [
      h,
      [{ path: '/usr/bin/hook', args: ['hook', h], env: ['A=1'], timeout: 10 }],
    ]),
  );
  const linux = spec.linux;
  linux.namespaces.push({ type: 'user' }, { type: 'cgroup' }, { type: 'time' });
  linux.namespaces[4].path = '/proc/1/ns/net';
  linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  linux.timeOffsets = { monotonic: { secs: 100, nanosecs: 0 }, boottime: { secs: -5 } };
  linux.devices = [
    { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
    { path: '/dev/pipe', type: 'p' },
  ];
  linux.sysctl = { 'net.core.somaxconn': '1024', 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '10', 'kernel.domainname': 'x' };
  linux.resources = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: null, minor: 3, access: 'rw' }],
    memory: { limit: 536870912, reservation: -1, swap: -1, kernel: 0, kernelTCP: 0, swappiness: 60, disableOOMKiller: false, useHierarchy: true, checkBeforeUpdate: true },
    cpu: { shares: 1024, quota: 50000, burst: 0, period: 100000, realtimeRuntime: 0, realtimePeriod: 0, cpus: '0-1', mems: '0', idle: 0 },
    pids: { limit: -1 },
    blockIO: {
      weight: 500, leafWeight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 500 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    },
    hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
    network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
    unified: { 'memory.high': '1073741824' },
  };
  linux.intelRdt = { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0', enableMonitoring: true };
  linux.seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    listenerPath: '/run/seccomp.sock',
    listenerMetadata: 'meta',
    syscalls: [
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['kexec_load'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  };
  linux.rootfsPropagation = 'rslave';
  linux.mountLabel = 'system_u:object_r:container_file_t:s0';
  linux.personality = { domain: 'LINUX32', flags: [] };
  t.equal(validateSpec(spec, FILE), spec);
});

interface Case {
  name: string;
  edit: (spec: any) => unknown;
  path: string;
  detail: string | RegExp;
}

const NS_WORDS = 'expected one of pid, network, mount, ipc, uts, user, cgroup, time';

const cases: Case[] = [
  // top level and process
  { name: 'no ociVersion', edit: (s) => delete s.ociVersion, path: '', detail: 'missing required property "ociVersion"' },
  { name: 'ociVersion a number', edit: (s) => (s.ociVersion = 1.2), path: '/ociVersion', detail: 'found 1.2, expected a string' },
  { name: 'no process', edit: (s) => delete s.process, path: '', detail: 'missing required property "process"' },
  { name: 'process a string', edit: (s) => (s.process = 'sh'), path: '/process', detail: 'found "sh", expected an object' },
  { name: 'no args', edit: (s) => delete s.process.args, path: '/process', detail: 'missing required property "args"' },
  { name: 'empty args', edit: (s) => (s.process.args = []), path: '/process/args', detail: 'found [], expected at least the program to run' },
  { name: 'args not strings', edit: (s) => (s.process.args = ['sh', 42]), path: '/process/args/1', detail: 'found 42, expected a string' },
  { name: 'args a string', edit: (s) => (s.process.args = 'sh -c true'), path: '/process/args', detail: 'found "sh -c true", expected an array' },
  { name: 'no cwd', edit: (s) => delete s.process.cwd, path: '/process', detail: 'missing required property "cwd"' },
  { name: 'relative cwd', edit: (s) => (s.process.cwd = 'tmp'), path: '/process/cwd', detail: 'found "tmp", expected an absolute path' },
  { name: 'no user', edit: (s) => delete s.process.user, path: '/process', detail: 'missing required property "user"' },
  { name: 'no uid', edit: (s) => delete s.process.user.uid, path: '/process/user', detail: 'missing required property "uid"' },
  { name: 'negative uid', edit: (s) => (s.process.user.uid = -1), path: '/process/user/uid', detail: 'found -1, expected an integer from 0 to 4294967295' },
  { name: 'gid beyond uint32', edit: (s) => (s.process.user.gid = 4294967296), path: '/process/user/gid', detail: 'found 4294967296, expected an integer from 0 to 4294967295' },
  { name: 'uid a string', edit: (s) => (s.process.user.uid = '0'), path: '/process/user/uid', detail: 'found "0", expected an integer from 0 to 4294967295' },
  { name: 'fractional additional gid', edit: (s) => (s.process.user.additionalGids = [0, 1.5]), path: '/process/user/additionalGids/1', detail: 'found 1.5, expected an integer' },
  { name: 'terminal a string', edit: (s) => (s.process.terminal = 'yes'), path: '/process/terminal', detail: 'found "yes", expected a boolean' },
  { name: 'consoleSize without width', edit: (s) => (s.process.consoleSize = { height: 10 }), path: '/process/consoleSize', detail: 'missing required property "width"' },
  { name: 'env without =', edit: (s) => s.process.env.push('JUSTNAME'), path: '/process/env/1', detail: 'found "JUSTNAME", expected NAME=VALUE' },
  { name: 'env with empty name', edit: (s) => s.process.env.push('=value'), path: '/process/env/1', detail: 'expected NAME=VALUE with a non-empty NAME' },
  { name: 'env not strings', edit: (s) => (s.process.env = [{ PATH: '/bin' }]), path: '/process/env/0', detail: 'found {"PATH":"/bin"}, expected a string' },
  { name: 'capability set not a list', edit: (s) => (s.process.capabilities.bounding = 'CAP_CHOWN'), path: '/process/capabilities/bounding', detail: 'expected an array' },
  { name: 'unknown rlimit', edit: (s) => (s.process.rlimits[0].type = 'RLIMIT_FOO'), path: '/process/rlimits/0/type', detail: /found "RLIMIT_FOO", expected one of RLIMIT_AS, RLIMIT_CORE, .*RLIMIT_STACK$/ },
  { name: 'lowercase rlimit', edit: (s) => (s.process.rlimits[0].type = 'nofile'), path: '/process/rlimits/0/type', detail: 'found "nofile"' },
  { name: 'duplicate rlimit', edit: (s) => s.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }), path: '/process/rlimits/1/type', detail: 'found "RLIMIT_NOFILE" a second time' },
  { name: 'soft above hard', edit: (s) => (s.process.rlimits[0] = { type: 'RLIMIT_NPROC', soft: 200, hard: 100 }), path: '/process/rlimits/0/soft', detail: 'soft limit 200 above hard limit 100 for RLIMIT_NPROC' },
  { name: 'rlimit without hard', edit: (s) => delete s.process.rlimits[0].hard, path: '/process/rlimits/0', detail: 'missing required property "hard"' },
  { name: 'negative rlimit', edit: (s) => (s.process.rlimits[0].soft = -1), path: '/process/rlimits/0/soft', detail: 'found -1, expected an integer >= 0' },
  { name: 'oomScoreAdj out of range', edit: (s) => (s.process.oomScoreAdj = 2000), path: '/process/oomScoreAdj', detail: 'found 2000, expected an integer from -1000 to 1000' },
  { name: 'bad ioPriority class', edit: (s) => (s.process.ioPriority = { class: 'BEST', priority: 0 }), path: '/process/ioPriority/class', detail: 'found "BEST", expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE' },
  { name: 'bad scheduler policy', edit: (s) => (s.process.scheduler = { policy: 'SCHED_FAST' }), path: '/process/scheduler/policy', detail: 'found "SCHED_FAST", expected one of SCHED_OTHER' },
  { name: 'noNewPrivileges a number', edit: (s) => (s.process.noNewPrivileges = 1), path: '/process/noNewPrivileges', detail: 'found 1, expected a boolean' },

  // root, mounts, hooks, annotations
  { name: 'no root', edit: (s) => delete s.root, path: '', detail: 'missing required property "root"' },
  { name: 'root without path', edit: (s) => (s.root = { readonly: true }), path: '/root', detail: 'missing required property "path"' },
  { name: 'empty root path', edit: (s) => (s.root.path = ''), path: '/root/path', detail: 'found ""' },
  { name: 'readonly a string', edit: (s) => (s.root.readonly = 'true'), path: '/root/readonly', detail: 'found "true", expected a boolean' },
  { name: 'mount without destination', edit: (s) => delete s.mounts[2].destination, path: '/mounts/2', detail: 'missing required property "destination"' },
  { name: 'mount destination a number', edit: (s) => (s.mounts[1].destination = 7), path: '/mounts/1/destination', detail: 'found 7, expected a string' },
  { name: 'empty mount destination', edit: (s) => (s.mounts[0].destination = ''), path: '/mounts/0/destination', detail: 'found "", expected a path in the container' },
  { name: 'mount options a string', edit: (s) => (s.mounts[0].options = 'ro,nosuid'), path: '/mounts/0/options', detail: 'found "ro,nosuid", expected an array' },
  { name: 'mount idmapping without size', edit: (s) => (s.mounts[0].uidMappings = [{ containerID: 0, hostID: 1000 }]), path: '/mounts/0/uidMappings/0', detail: 'missing required property "size"' },
  { name: 'mounts an object', edit: (s) => (s.mounts = { '/proc': {} }), path: '/mounts', detail: 'expected an array' },
  { name: 'relative hook path', edit: (s) => (s.hooks.poststop[0].path = 'true'), path: '/hooks/poststop/0/path', detail: 'found "true", expected an absolute path' },
  { name: 'hook without path', edit: (s) => (s.hooks.prestart = [{ args: ['x'] }]), path: '/hooks/prestart/0', detail: 'missing required property "path"' },
  { name: 'hook timeout zero', edit: (s) => (s.hooks.poststop[0].timeout = 0), path: '/hooks/poststop/0/timeout', detail: 'found 0, expected an integer >= 1' },
  { name: 'hook stage not a list', edit: (s) => (s.hooks.createRuntime = { path: '/bin/true' }), path: '/hooks/createRuntime', detail: 'expected an array' },
  { name: 'annotation not a string', edit: (s) => (s.annotations = { 'org.example/n': 1 }), path: '/annotations/org.example~1n', detail: 'found 1, expected a string' },

  // linux: namespaces and friends
  { name: 'unknown namespace type', edit: (s) => s.linux.namespaces.push({ type: 'foo' }), path: '/linux/namespaces/5/type', detail: `found "foo", ${NS_WORDS}` },
  { name: 'namespace without type', edit: (s) => s.linux.namespaces.push({ path: '/proc/1/ns/net' }), path: '/linux/namespaces/5', detail: 'missing required property "type"' },
  { name: 'duplicate namespace', edit: (s) => s.linux.namespaces.push({ type: 'pid' }), path: '/linux/namespaces/5/type', detail: 'found "pid" a second time' },
  { name: 'relative namespace path', edit: (s) => (s.linux.namespaces[4].path = 'netns/x'), path: '/linux/namespaces/4/path', detail: 'found "netns/x", expected an absolute path' },
  { name: 'hostname without uts', edit: (s) => s.linux.namespaces.splice(2, 1), path: '/hostname', detail: 'unable to set hostname without a private UTS namespace' },
  { name: 'domainname without uts', edit: (s) => { delete s.hostname; s.domainname = 'x'; s.linux.namespaces.splice(2, 1); }, path: '/domainname', detail: 'unable to set domainname without a private UTS namespace' },
  { name: 'net sysctl without netns', edit: (s) => s.linux.namespaces.splice(4, 1), path: '/linux/sysctl/net.ipv4.ip_forward', detail: 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace' },
  { name: 'ipc sysctl without ipcns', edit: (s) => { s.linux.sysctl = { 'kernel.shmmax': '1' }; s.linux.namespaces.splice(1, 1); }, path: '/linux/sysctl/kernel.shmmax', detail: 'not allowed in host IPC namespace' },
  { name: 'host-wide sysctl', edit: (s) => (s.linux.sysctl['vm.swappiness'] = '10'), path: '/linux/sysctl/vm.swappiness', detail: 'sysctl "vm.swappiness" is not in a separate kernel namespace' },
  { name: 'sysctl value a number', edit: (s) => (s.linux.sysctl['net.core.somaxconn'] = 1024), path: '/linux/sysctl/net.core.somaxconn', detail: 'found 1024, expected a string' },
  { name: 'uidMappings without userns', edit: (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), path: '/linux/uidMappings', detail: 'user namespace mappings specified' },
  { name: 'gidMappings without userns', edit: (s) => (s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), path: '/linux/gidMappings', detail: 'no "user" entry in linux.namespaces' },
  { name: 'idmapping hostID negative', edit: (s) => { s.linux.namespaces.push({ type: 'user' }); s.linux.uidMappings = [{ containerID: 0, hostID: -5, size: 1 }]; }, path: '/linux/uidMappings/0/hostID', detail: 'found -5, expected an integer from 0 to 4294967295' },
  { name: 'timeOffsets without timens', edit: (s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } }), path: '/linux/timeOffsets', detail: 'no "time" entry' },

  // linux: devices, paths, misc
  { name: 'relative device path', edit: (s) => (s.linux.devices = [{ path: 'dev/fuse', type: 'c', major: 10, minor: 229 }]), path: '/linux/devices/0/path', detail: 'found "dev/fuse", expected an absolute path' },
  { name: 'bad device type', edit: (s) => (s.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 1 }]), path: '/linux/devices/0/type', detail: 'found "x", expected one of c, b, u, p' },
  { name: 'char device without major', edit: (s) => (s.linux.devices = [{ path: '/dev/x', type: 'c', minor: 1 }]), path: '/linux/devices/0', detail: 'missing required property "major"' },
  { name: 'device without type', edit: (s) => (s.linux.devices = [{ path: '/dev/x' }]), path: '/linux/devices/0', detail: 'missing required property "type"' },
  { name: 'relative masked path', edit: (s) => s.linux.maskedPaths.push('proc/kcore'), path: `/linux/maskedPaths/${fixture('ctr-config.json').linux.maskedPaths.length}`, detail: 'found "proc/kcore", expected an absolute path' },
  { name: 'relative readonly path', edit: (s) => (s.linux.readonlyPaths[0] = 'proc/sys'), path: '/linux/readonlyPaths/0', detail: 'expected an absolute path' },
  { name: 'bad rootfsPropagation', edit: (s) => (s.linux.rootfsPropagation = 'sharedish'), path: '/linux/rootfsPropagation', detail: 'found "sharedish", expected one of "", private, rprivate' },
  { name: 'bad personality', edit: (s) => (s.linux.personality = { domain: 'LINUX64' }), path: '/linux/personality/domain', detail: 'expected one of LINUX, LINUX32' },
  { name: 'cgroupsPath a number', edit: (s) => (s.linux.cgroupsPath = 5), path: '/linux/cgroupsPath', detail: 'found 5, expected a string' },
  { name: 'cgroupsPath with a NUL', edit: (s) => (s.linux.cgroupsPath = '/a\u0000b'), path: '/linux/cgroupsPath', detail: 'contains a NUL byte' },
  { name: 'cgroupsPath with a newline', edit: (s) => (s.linux.cgroupsPath = '/a\nb'), path: '/linux/cgroupsPath', detail: 'contains a control character' },
  { name: 'cgroupsPath too long', edit: (s) => (s.linux.cgroupsPath = `/${'a/'.repeat(1100)}`), path: '/linux/cgroupsPath', detail: '2201 characters, at most 2048' },
  { name: 'cgroupsPath component too long', edit: (s) => (s.linux.cgroupsPath = `/a/${'b'.repeat(256)}`), path: '/linux/cgroupsPath', detail: 'a path component of 256 bytes, at most 255' },
  { name: 'cgroupsPath cgroup.procs', edit: (s) => (s.linux.cgroupsPath = '/a/cgroup.procs/b'), path: '/linux/cgroupsPath', detail: 'names the cgroup control file "cgroup.procs"' },
  { name: 'cgroupsPath tasks', edit: (s) => (s.linux.cgroupsPath = 'tasks'), path: '/linux/cgroupsPath', detail: 'names the cgroup control file "tasks"' },
  { name: 'cgroupsPath memory.max', edit: (s) => (s.linux.cgroupsPath = '/x/memory.max'), path: '/linux/cgroupsPath', detail: 'names the cgroup control file "memory.max"' },
  { name: 'cgroupsPath release_agent', edit: (s) => (s.linux.cgroupsPath = '/release_agent'), path: '/linux/cgroupsPath', detail: 'names the cgroup control file "release_agent"' },

  // linux.resources
  { name: 'cgroup device access', edit: (s) => (s.linux.resources.devices[0].access = 'rwx'), path: '/linux/resources/devices/0/access', detail: 'found "rwx", expected a combination of the letters r, w and m' },
  { name: 'cgroup device without allow', edit: (s) => delete s.linux.resources.devices[1].allow, path: '/linux/resources/devices/1', detail: 'missing required property "allow"' },
  { name: 'cgroup device type', edit: (s) => (s.linux.resources.devices[1].type = 'p'), path: '/linux/resources/devices/1/type', detail: 'found "p", expected one of a, c, b' },
  { name: 'memory limit a string', edit: (s) => (s.linux.resources.memory = { limit: '1g' }), path: '/linux/resources/memory/limit', detail: 'found "1g", expected an integer' },
  { name: 'negative cpu shares', edit: (s) => (s.linux.resources.cpu.shares = -1), path: '/linux/resources/cpu/shares', detail: 'found -1, expected an integer >= 0' },
  { name: 'fractional pids limit', edit: (s) => (s.linux.resources.pids = { limit: 1.5 }), path: '/linux/resources/pids/limit', detail: 'found 1.5, expected an integer' },
  { name: 'blkio weight too big', edit: (s) => (s.linux.resources.blockIO = { weight: 70000 }), path: '/linux/resources/blockIO/weight', detail: 'found 70000, expected an integer from 0 to 65535' },
  { name: 'hugepage size', edit: (s) => (s.linux.resources.hugepageLimits = [{ pageSize: '2M', limit: 1 }]), path: '/linux/resources/hugepageLimits/0/pageSize', detail: 'found "2M", expected a page size like 2MB or 1GB' },
  { name: 'throttle without rate', edit: (s) => (s.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0 }] }), path: '/linux/resources/blockIO/throttleReadBpsDevice/0', detail: 'missing required property "rate"' },
  { name: 'unified value a number', edit: (s) => (s.linux.resources.unified = { 'pids.max': 10 }), path: '/linux/resources/unified/pids.max', detail: 'found 10, expected a string' },

  // linux.seccomp
  { name: 'seccomp without defaultAction', edit: (s) => (s.linux.seccomp = { syscalls: [] }), path: '/linux/seccomp', detail: 'missing required property "defaultAction"' },
  { name: 'bad seccomp action', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_DENY' }), path: '/linux/seccomp/defaultAction', detail: 'found "SCMP_ACT_DENY", expected one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS' },
  { name: 'seccomp arch', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['x86_64'] }), path: '/linux/seccomp/architectures/0', detail: 'found "x86_64", expected a seccomp architecture name' },
  { name: 'seccomp flag', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['TSYNC'] }), path: '/linux/seccomp/flags/0', detail: 'found "TSYNC", expected a seccomp flag name' },
  { name: 'syscall without names', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }), path: '/linux/seccomp/syscalls/0/names', detail: 'found [], expected at least 1 item' },
  { name: 'syscall arg op', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: '==' }] }] }), path: '/linux/seccomp/syscalls/0/args/0/op', detail: 'found "==", expected one of SCMP_CMP_NE' },
  { name: 'syscall arg index', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] }), path: '/linux/seccomp/syscalls/0/args/0/index', detail: 'found 6, expected an integer from 0 to 5' },
  { name: 'errnoRet negative', edit: (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 }), path: '/linux/seccomp/defaultErrnoRet', detail: 'found -1, expected an integer from 0 to 4294967295' },
];

t.test('invalid configs are rejected with the file, the JSON path and the reason', async (t) => {
  t.ok(cases.length >= 30, `${cases.length} cases`);
  const names = new Set<string>();
  for (const c of cases) {
    t.notOk(names.has(c.name), `case name ${c.name} is unique`);
    names.add(c.name);
    const spec = base();
    c.edit(spec);
    const err = configError(() => validateSpec(spec, FILE));
    t.equal(err.file, FILE, `${c.name}: file`);
    t.equal(err.jsonPath, c.path, `${c.name}: path`);
    t.match(err.detail, c.detail, `${c.name}: detail (${err.detail})`);
    t.equal(err.message, `${FILE}: ${c.path || '/'}: ${err.detail}`, `${c.name}: message`);
  }
});

t.test('the whole document must be an object', async (t) => {
  for (const raw of ['hello', 42, null, [], true]) {
    const err = configError(() => validateSpec(raw, 'config.json'));
    t.equal(err.jsonPath, '');
    t.match(err.detail, /^found .*, expected an object$/);
    t.match(err.message, /^config\.json: \/: found /);
  }
});

t.test('process.json errors are rooted at the document', async (t) => {
  const proc = fixture('docker-exec-process.json');
  proc.args = [];
  let err = configError(() => validateProcess(proc, '/tmp/p.json'));
  t.equal(err.jsonPath, '/args');
  t.equal(err.file, '/tmp/p.json');

  const noCwd = fixture('docker-exec-process.json');
  delete noCwd.cwd;
  err = configError(() => validateProcess(noCwd, 'p.json'));
  t.equal(err.jsonPath, '');
  t.equal(err.detail, 'missing required property "cwd"');

  const badEnv = fixture('podman-exec-process.json');
  badEnv.env.push('NOVALUE');
  err = configError(() => validateProcess(badEnv, 'p.json'));
  t.equal(err.jsonPath, `/env/${badEnv.env.length - 1}`);

  const badUid = fixture('podman-exec-process.json');
  badUid.user.uid = 'root';
  err = configError(() => validateProcess(badUid, 'p.json'));
  t.equal(err.message, 'p.json: /user/uid: found "root", expected an integer from 0 to 4294967295');
});

t.test('the deepest error wins when there are several', async (t) => {
  const spec = base();
  delete spec.process.cwd; // at /process
  spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 'zero', op: 'SCMP_CMP_EQ' }] }] };
  const err = configError(() => validateSpec(spec, FILE));
  t.equal(err.jsonPath, '/linux/seccomp/syscalls/0/args/0/value');
  t.equal(err.detail, 'found "zero", expected an integer >= 0');
});

t.test('long values are shortened in messages', async (t) => {
  const spec = base();
  spec.process.cwd = 'x'.repeat(200);
  const err = configError(() => validateSpec(spec, FILE));
  t.ok(err.detail.length < 140, err.detail);
  t.match(err.detail, '...');
});

t.test('state and features documents', async (t) => {
  const state = { ociVersion: '1.2.0', id: 'c1', status: 'created', pid: 42, bundle: '/b', annotations: {}, rootfs: '/b/rootfs', created: '2024-01-01T00:00:00Z', owner: '' };
  t.equal(validateState(state, 'state.json'), state);
  let err = configError(() => validateState({ ...state, status: 'sleeping' }, 'state.json'));
  t.equal(err.jsonPath, '/status');
  t.match(err.detail, 'expected one of creating, created, running, paused, stopped');
  err = configError(() => validateState({ ...state, id: '' }, 'state.json'));
  t.equal(err.detail, 'found "", expected a non-empty string');

  const features = {
    ociVersionMin: '1.0.0', ociVersionMax: '1.2.0', hooks: ['prestart'], mountOptions: ['ro'],
    linux: { namespaces: ['pid'], capabilities: ['CAP_CHOWN'], cgroup: { v1: true, v2: true, systemd: false }, seccomp: { enabled: true, actions: [] }, apparmor: { enabled: false }, futureThing: {} },
    annotations: { 'org.example.x': 'y' },
  };
  t.equal(validateFeatures(features, 'features'), features);
  err = configError(() => validateFeatures({ ...features, ociVersionMax: undefined }, 'features'));
  t.equal(err.detail, 'missing required property "ociVersionMax"');
});

t.test('resolveInRootfs: symlinks followed inside the rootfs, never above it', async (t) => {
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-resolve-'));
  t.teardown(() => fs.rmSync(rootfs, { recursive: true, force: true }));
  fs.mkdirSync(path.join(rootfs, 'etc'));
  fs.symlinkSync('/proc/sys', path.join(rootfs, 'etc', 'abs'));
  fs.symlinkSync('../proc', path.join(rootfs, 'etc', 'rel'));
  fs.symlinkSync('../../../../proc', path.join(rootfs, 'up'));
  fs.symlinkSync('loop', path.join(rootfs, 'loop'));
  t.equal(resolveInRootfs(rootfs, '/etc/abs/kernel'), '/proc/sys/kernel', 'absolute target from the rootfs');
  t.equal(resolveInRootfs(rootfs, '/etc/rel/sys'), '/proc/sys', 'relative target from its directory');
  t.equal(resolveInRootfs(rootfs, '/up'), '/proc', '.. stops at the rootfs');
  t.equal(resolveInRootfs(rootfs, '/new/../etc/./x'), '/etc/x', 'missing parts taken as written');
  t.equal(resolveInRootfs(rootfs, '/loop'), '/loop', 'a symlink loop ends');
});

t.test('usual cgroupsPath forms are accepted', async (t) => {
  for (const p of ['/docker/abc', '/kubepods/besteffort/pod1234/abc', 'system.slice:docker:abc', 'user.slice/x', 'a/b', '/tsrun/c-1.2']) {
    const spec = base();
    spec.linux.cgroupsPath = p;
    t.doesNotThrow(() => validateSpec(spec, FILE), p);
  }
});
