// Semantic checks of a config that already matches the JSON Schema: the rules a schema
// cannot express (required-for-create, absolute paths, namespace consistency, rlimits).
// Each throws a ConfigError naming the JSON pointer of the offending value. Wording
// follows runc where engines or users may know it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { O } from '../../bindings';
import { ConfigError, describeValue } from '../errors';
import { isBindMount, isIdmapped } from '../init/mount-options';
import { checkBoundingSet } from '../security/capabilities';
import { MAX_NODE, MPOL_FLAGS, MPOL_MODES, parseNodes } from '../init/memory-policy';
import type { HookName, LinuxNamespaceType, LinuxResources, Mount, Process, Spec } from './types';

export const RLIMIT_TYPES: ReadonlySet<string> = new Set([
  'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_LOCKS',
  'RLIMIT_MEMLOCK', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_NOFILE', 'RLIMIT_NPROC',
  'RLIMIT_RSS', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME', 'RLIMIT_SIGPENDING', 'RLIMIT_STACK',
]);

const DEVICE_TYPES = ['c', 'b', 'u', 'p'];

/** JSON pointer: join segments, escaping "~" and "/" inside them. */
export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

function fail(file: string, path: string, detail: string): never {
  throw new ConfigError(file, path, detail);
}

function requireAbsolute(file: string, path: string, value: string): void {
  if (!value.startsWith('/')) fail(file, path, `found ${describeValue(value)}, expected an absolute path`);
}

/** All checks for a config.json used to create a container. */
export function checkSpec(spec: Spec, file: string): void {
  if (!spec.process) fail(file, '', 'missing required property "process"');
  checkProcess(spec.process, file, '/process');
  if (!spec.root) fail(file, '', 'missing required property "root"');
  if (spec.root.path === '') fail(file, '/root/path', 'found "", expected the path of the root filesystem');
  spec.mounts?.forEach((m, i) => {
    if (m.destination === '') fail(file, pointer('mounts', i, 'destination'), 'found "", expected a path in the container');
  });
  checkIdmappedMounts(spec, file);
  checkHooks(spec, file);
  checkNamespaces(spec, file);
  checkSysctls(spec, file);
  checkLinuxPaths(spec, file);
  checkCgroupsPath(spec, file);
  checkMemoryPolicy(spec, file);
  if (spec.linux?.resources) checkResources(spec.linux.resources, file, '/linux/resources');
}

/** Checks for a process, at `base` ("/process" in config.json, "" in a process.json). */
export function checkProcess(process: Process, file: string, base: string): void {
  if (!process.args) fail(file, base, 'missing required property "args"');
  if (process.args.length === 0) fail(file, `${base}/args`, 'found [], expected at least the program to run');
  requireAbsolute(file, `${base}/cwd`, process.cwd);
  process.env?.forEach((entry, i) => {
    if (entry.indexOf('=') <= 0) {
      fail(file, `${base}/env/${i}`, `found ${describeValue(entry)}, expected NAME=VALUE with a non-empty NAME`);
    }
  });
  const seen = new Set<string>();
  process.rlimits?.forEach((rlimit, i) => {
    const at = `${base}/rlimits/${i}`;
    if (!RLIMIT_TYPES.has(rlimit.type)) {
      fail(file, `${at}/type`, `found ${describeValue(rlimit.type)}, expected one of ${[...RLIMIT_TYPES].join(', ')}`);
    }
    if (seen.has(rlimit.type)) fail(file, `${at}/type`, `found "${rlimit.type}" a second time: each rlimit type may appear once`);
    seen.add(rlimit.type);
    if (rlimit.soft > rlimit.hard) {
      fail(file, `${at}/soft`, `found soft limit ${rlimit.soft} above hard limit ${rlimit.hard} for ${rlimit.type}`);
    }
  });
}

/** Checks for linux.resources (also what `update --resources` reads). */
export function checkResources(_resources: LinuxResources, _file: string, _base: string): void {
  // The schema covers types and ranges; nothing more is enforced here yet. The cgroup
  // code reports values the kernel refuses, with the file it was writing.
}

/**
 * Idmapped mounts (runtime-spec config.md "mounts", runc's checks): only bind mounts; a
 * mount's uidMappings and gidMappings come together and are not empty; without them the
 * container's user namespace provides the mapping, so there must be one.
 */
function checkIdmappedMounts(spec: Spec, file: string): void {
  const userns = namespaceIndex(spec, 'user') >= 0;
  spec.mounts?.forEach((m, i) => {
    if (!isIdmapped(m)) return;
    const option = (m.options ?? []).findIndex((o) => o === 'idmap' || o === 'ridmap');
    const mappings = m.uidMappings !== undefined || m.gidMappings !== undefined;
    const culprit = option >= 0 ? pointer('mounts', i, 'options', option) : pointer('mounts', i, m.uidMappings !== undefined ? 'uidMappings' : 'gidMappings');
    const what = option >= 0 ? describeValue(m.options![option]) : 'mappings';
    if (!isBindMount(m)) {
      fail(file, culprit, `found ${what} on a mount of type ${describeValue(m.type ?? '')}: only bind mounts (type "bind", or option "bind" or "rbind") can be idmapped`);
    }
    if (mappings) {
      for (const key of ['uidMappings', 'gidMappings'] as const) {
        if (!m[key]?.length) {
          fail(file, pointer('mounts', i, key), `found ${describeValue(m[key])}, expected a non-empty list: an idmapped mount needs both uidMappings and gidMappings`);
        }
      }
    } else if (!userns) {
      fail(file, culprit, `found ${what} without uidMappings/gidMappings on the mount and without a user namespace whose mappings it could use (add the mappings, or {"type": "user"} to linux.namespaces)`);
    }
  });
}

const HOOK_STAGES: readonly HookName[] = [
  'prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop',
];

function checkHooks(spec: Spec, file: string): void {
  for (const stage of HOOK_STAGES) {
    spec.hooks?.[stage]?.forEach((hook, i) => requireAbsolute(file, `/hooks/${stage}/${i}/path`, hook.path));
  }
}

/** Index of the namespace entry of that type, or -1. */
function namespaceIndex(spec: Spec, type: LinuxNamespaceType): number {
  return spec.linux?.namespaces?.findIndex((ns) => ns.type === type) ?? -1;
}

function checkNamespaces(spec: Spec, file: string): void {
  const linux = spec.linux;
  const seen = new Set<string>();
  linux?.namespaces?.forEach((ns, i) => {
    if (seen.has(ns.type)) {
      fail(file, `/linux/namespaces/${i}/type`, `found "${ns.type}" a second time: each namespace type may appear once`);
    }
    seen.add(ns.type);
    if (ns.path !== undefined) requireAbsolute(file, `/linux/namespaces/${i}/path`, ns.path);
  });
  if (spec.hostname && namespaceIndex(spec, 'uts') < 0) {
    fail(file, '/hostname', 'unable to set hostname without a private UTS namespace');
  }
  if (spec.domainname && namespaceIndex(spec, 'uts') < 0) {
    fail(file, '/domainname', 'unable to set domainname without a private UTS namespace');
  }
  if (namespaceIndex(spec, 'user') < 0) {
    for (const key of ['uidMappings', 'gidMappings'] as const) {
      if (linux?.[key]?.length) {
        fail(file, `/linux/${key}`, 'user namespace mappings specified, but there is no "user" entry in linux.namespaces');
      }
    }
  }
  if (linux?.timeOffsets && Object.keys(linux.timeOffsets).length > 0 && namespaceIndex(spec, 'time') < 0) {
    fail(file, '/linux/timeOffsets', 'time offsets specified, but there is no "time" entry in linux.namespaces');
  }  if (namespaceIndex(spec, 'mount') < 0) checkWithoutMountNamespace(spec, file);
}

/**
 * Without a mount namespace the process is only chrooted into the root (as runc): anything
 * that mounts would change the host's mount table, so it is refused.
 */
function checkWithoutMountNamespace(spec: Spec, file: string): void {
  const why = 'needs a mount namespace (there is no "mount" entry in linux.namespaces, and tsrun never mounts in the host\'s)';
  if (spec.mounts?.length) fail(file, pointer('mounts', 0), `${describeValue(spec.mounts[0].destination)}: a mount ${why}`);
  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    // runc's wording.
    if (spec.linux?.[key]?.length) fail(file, `/linux/${key}`, 'unable to restrict sys entries without a private MNT namespace');
  }
  if (spec.root?.readonly) fail(file, '/root/readonly', `a read-only root ${why}`);
  if (spec.linux?.rootfsPropagation) fail(file, '/linux/rootfsPropagation', `rootfs propagation ${why}`);
  if (spec.linux?.devices?.length) fail(file, pointer('linux', 'devices', 0), `creating devices ${why}`);
}

/** Which namespace makes a sysctl private to the container (as runc decides), if any. */
function sysctlNamespace(name: string): LinuxNamespaceType | undefined {
  if (name.startsWith('net.')) return 'network';
  if (name.startsWith('fs.mqueue.') || name.startsWith('kernel.msg') || name.startsWith('kernel.shm')) return 'ipc';
  if (name === 'kernel.sem') return 'ipc';
  if (name === 'kernel.hostname' || name === 'kernel.domainname') return 'uts';
  return undefined;
}

function checkSysctls(spec: Spec, file: string): void {
  for (const name of Object.keys(spec.linux?.sysctl ?? {})) {
    const at = pointer('linux', 'sysctl', name);
    const ns = sysctlNamespace(name);
    if (!ns) fail(file, at, `sysctl "${name}" is not in a separate kernel namespace`);
    if (namespaceIndex(spec, ns) < 0) {
      const where = ns === 'network' ? 'network' : ns.toUpperCase();
      fail(file, at, `sysctl "${name}" not allowed in host ${where} namespace (no "${ns}" entry in linux.namespaces)`);
    }
  }
}

function checkLinuxPaths(spec: Spec, file: string): void {
  const linux = spec.linux;
  linux?.devices?.forEach((dev, i) => {
    const at = `/linux/devices/${i}`;
    requireAbsolute(file, `${at}/path`, dev.path);
    if (!DEVICE_TYPES.includes(dev.type)) {
      fail(file, `${at}/type`, `found ${describeValue(dev.type)}, expected one of ${DEVICE_TYPES.join(', ')}`);
    }
    if (dev.type !== 'p' && (dev.major === undefined || dev.minor === undefined)) {
      fail(file, at, `missing required property "${dev.major === undefined ? 'major' : 'minor'}" (needed for type ${dev.type})`);
    }
  });
  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    linux?.[key]?.forEach((p, i) => requireAbsolute(file, `/linux/${key}/${i}`, p));
  }
}

// ------------------------------------------------------------------ host checks

/**
 * Checks that need the host or the rootfs, made by `create` on the host side before the
 * init is told to set anything up: what the config asks must be possible and safe here.
 */
export function checkHostConfig(spec: Spec, file: string, rootfs: string, opts: { noPivot?: boolean } = {}): void {
  // runc's wording. Without pivot_root the host's mounts stay below the container's root.
  const propagation = spec.linux?.rootfsPropagation;
  if (opts.noPivot && (propagation === 'private' || propagation === 'rprivate')) {
    fail(file, '/linux/rootfsPropagation', `rootfsPropagation of [r]private is not safe without pivot_root (found ${JSON.stringify(propagation)} with --no-pivot)`);
  }
  checkProcSysMountpoints(spec, file, rootfs);
  checkMountsOverProc(spec, file, rootfs);
  checkNamespacePaths(spec, file);
  if (spec.process?.capabilities) checkBoundingSet(spec.process.capabilities, file);
}

/** How /proc/PID/fd names a namespace of each type ("net:[4026531840]"). */
const NS_PROC_NAMES: Record<LinuxNamespaceType, string> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

/**
 * A namespace path must be a namespace of its entry's type. Checked here, before anything is
 * made, since the join itself only fails with EINVAL, far from the entry (for pid, inside the
 * proc mount). O_PATH: opening never blocks (a fifo) nor touches a device. A path that cannot
 * be opened is left to the join, which names it.
 */
function checkNamespacePaths(spec: Spec, file: string): void {
  spec.linux?.namespaces?.forEach((ns, i) => {
    if (ns.path === undefined) return;
    let fd: number;
    try {
      fd = fs.openSync(ns.path, O.PATH | O.CLOEXEC);
    } catch {
      return;
    }
    let kind: string;
    try {
      kind = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } finally {
      fs.closeSync(fd);
    }
    const at = pointer('linux', 'namespaces', i, 'path');
    const m = /^(\w+):\[\d+\]$/.exec(kind);
    const what = `${ns.type} namespace path ${ns.path}`;
    if (!m) {
      // A bind-mounted namespace file (ip netns, CNI) names its mount point: its type is not
      // told there, and the join checks it.
      if (isNsfs(ns.path)) return;
      fail(file, at, `${what}: not a namespace (expected /proc/PID/ns/${NS_PROC_NAMES[ns.type]} or a bind mount of one)`);
    }
    if (m[1] !== NS_PROC_NAMES[ns.type]) fail(file, at, `${what}: not a namespace of type ${ns.type} (it is ${kind})`);
  });
}

const isProcOrSysfs = (m: Mount) => m.type === 'proc' || m.type === 'sysfs';

/**
 * procfs and sysfs go on an ordinary directory (runc: "must be mounted on ordinary
 * directory"): a symlink there would put them wherever it points, inside the rootfs or, when
 * it is a mount of its own, over the container's root.
 */
function checkProcSysMountpoints(spec: Spec, file: string, rootfs: string): void {
  spec.mounts?.forEach((m, i) => {
    const dest = path.posix.normalize(`/${m.destination}`);
    if (!isProcOrSysfs(m) && dest !== '/proc' && dest !== '/sys') return;
    // The parent as the rootfs resolves it; the last component itself is not followed.
    const host = path.join(rootfs, resolveInRootfs(rootfs, path.posix.dirname(dest)), path.posix.basename(dest));
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return; // missing: the init makes a directory
    }
    if (st.isDirectory()) return;
    const what = st.isSymbolicLink() ? `a symlink (to ${JSON.stringify(fs.readlinkSync(host))})` : 'not a directory';
    fail(file, pointer('mounts', i, 'destination'), `${dest} in the rootfs is ${what}: filesystem ${JSON.stringify(m.type ?? m.source ?? '')} must be mounted on an ordinary directory`);
  });
}

/** The entries under /proc a mount may cover (runc's list: what lxcfs emulates). */
const PROC_FILES_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/sys/kernel/ns_last_pid', '/proc/sys/crypto/fips_enabled',
]);
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Nothing may hide the container's /proc or what is masked and read-only in it (runc's
 * checkProcMount): on /proc itself only a procfs (a proc mount, or a bind of a procfs);
 * under /proc only the few files lxcfs emulates. The destination is resolved inside the
 * rootfs first, so a symlink cannot lead a mount there.
 */
function checkMountsOverProc(spec: Spec, file: string, rootfs: string): void {
  spec.mounts?.forEach((m, i) => {
    const dest = resolveInRootfs(rootfs, m.destination);
    if (dest !== '/proc' && !dest.startsWith('/proc/')) return;
    const named = path.posix.normalize(`/${m.destination}`);
    const where = dest === named ? dest : `${named} (${dest} in the rootfs)`;
    if (dest === '/proc') {
      if (m.type === 'proc') return;
      if (isBindMount(m) && isProcfs(m.source)) return;
      const found = isBindMount(m) ? `a bind of ${JSON.stringify(m.source ?? '')}, not a procfs` : `type ${JSON.stringify(m.type ?? '')}`;
      fail(file, pointer('mounts', i, 'destination'), `${where} cannot be mounted because it is not of type proc (found ${found})`);
    }
    if (PROC_FILES_ALLOWED.has(dest)) return;
    fail(file, pointer('mounts', i, 'destination'), `${where} cannot be mounted because it is inside /proc (only ${[...PROC_FILES_ALLOWED].join(', ')} may be)`);
  });
}

const NSFS_MAGIC = 0x6e736673;

/** Whether p is a namespace file (nsfs): what a bind mount of /proc/PID/ns/X is. */
export function isNsfs(p: string): boolean {
  try {
    return fs.statfsSync(p).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

function isProcfs(source: string | undefined): boolean {
  try {
    return source !== undefined && fs.statfsSync(source).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * A path in the container as the rootfs resolves it: symlinks followed (absolute ones from
 * the rootfs, never above it), the part that does not exist yet taken as written.
 */
export function resolveInRootfs(rootfs: string, p: string): string {
  const todo = p.split('/');
  const done: string[] = [];
  for (let links = 0; todo.length > 0;) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const target = symlinkTarget(path.join(rootfs, ...done, part));
    if (target === undefined || ++links > 40) {
      done.push(part);
      continue;
    }
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/'));
  }
  return `/${done.join('/')}`;
}

/** The target of a symlink; undefined for anything else, missing or unreadable included. */
function symlinkTarget(p: string): string | undefined {
  try {
    // lstat that does not throw first: most components are missing or plain directories.
    return fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() ? fs.readlinkSync(p) : undefined;
  } catch {
    return undefined; // ENOTDIR, EACCES: the init reports it when it gets there
  }
}

/** Longest linux.cgroupsPath accepted: it is joined under /sys/fs/cgroup/<controller> (PATH_MAX 4096). */
export const MAX_CGROUPS_PATH = 2048;
const NAME_MAX = 255;
const CONTROLLERS = [
  'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'io', 'memory', 'misc',
  'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma',
];
const CONTROL_FILE = new RegExp(`^(cgroup\\..*|tasks|notify_on_release|release_agent|(${CONTROLLERS.join('|')})\\..+)$`);

/**
 * linux.cgroupsPath becomes directory names under every cgroup hierarchy: refuse what no
 * directory can be called (NUL and other control characters, over-long names) and names
 * of cgroup control files (cgroup.procs, tasks, memory.max, ...), which the kernel owns.
 */
function checkCgroupsPath(spec: Spec, file: string): void {
  const cgroupsPath = spec.linux?.cgroupsPath;
  if (cgroupsPath === undefined) return;
  const at = '/linux/cgroupsPath';
  const found = `found ${describeValue(cgroupsPath)}`;
  if (/[\u0000-\u001f\u007f]/.test(cgroupsPath)) {
    fail(file, at, `${found}, which contains ${cgroupsPath.includes('\u0000') ? 'a NUL byte' : 'a control character'}: expected a cgroup path`);
  }
  if (cgroupsPath.length > MAX_CGROUPS_PATH) fail(file, at, `${found}: ${cgroupsPath.length} characters, at most ${MAX_CGROUPS_PATH}`);
  for (const name of cgroupsPath.split('/')) {
    if (Buffer.byteLength(name) > NAME_MAX) fail(file, at, `${found}: a path component of ${Buffer.byteLength(name)} bytes, at most ${NAME_MAX}`);
    if (CONTROL_FILE.test(name)) fail(file, at, `${found} names the cgroup control file "${name}", not a cgroup`);
  }
}

/** linux.memoryPolicy: a known mode and flags, and nodes where the mode needs them. */
function checkMemoryPolicy(spec: Spec, file: string): void {
  const policy = spec.linux?.memoryPolicy;
  if (!policy) return;
  const at = '/linux/memoryPolicy';
  if (!(policy.mode in MPOL_MODES)) fail(file, `${at}/mode`, `found ${describeValue(policy.mode)}, expected one of ${Object.keys(MPOL_MODES).join(', ')}`);
  (policy.flags ?? []).forEach((f, i) => {
    if (!(f in MPOL_FLAGS)) fail(file, `${at}/flags/${i}`, `found ${describeValue(f)}, expected one of ${Object.keys(MPOL_FLAGS).join(', ')}`);
  });
  const nodes = parseNodes(policy.nodes ?? '');
  if (!nodes) fail(file, `${at}/nodes`, `found ${describeValue(policy.nodes)}, expected a node list such as "0-3,7" (nodes 0 to ${MAX_NODE})`);
  const none = policy.mode === 'MPOL_DEFAULT' || policy.mode === 'MPOL_LOCAL';
  if (none && nodes.length > 0) fail(file, `${at}/nodes`, `found ${describeValue(policy.nodes)}: ${policy.mode} takes no nodes`);
  if (!none && policy.mode !== 'MPOL_PREFERRED' && nodes.length === 0) fail(file, `${at}/nodes`, `${policy.mode} needs at least one node`);
}
