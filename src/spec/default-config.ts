// The config.json `tsrun spec` writes: runc's default, a shell on a terminal.
import type { Spec } from './types';

/**
 * The runtime-spec version implemented (spec-schemas/ describe 1.3.0: netDevices,
 * memoryPolicy, intelRdt.schemata/enableMonitoring): `spec` and hooks' state carry it,
 * `--version` prints it (runc 1.4 prints 1.3.0, the version it is built against).
 */
export const OCI_VERSION = '1.3.0';

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(rootless: boolean): Spec {
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (rootless) toRootless(spec);
  return spec;
}

/**
 * runc's specconv.ToRootless: a user namespace mapping root to the caller's own ids (no
 * subordinate ids needed), no network namespace (an unprivileged user could not give it an
 * interface), /sys bound from the host (sysfs cannot be mounted without a network namespace
 * of our own), no uid=/gid= mount options (ids the namespace does not map) and no
 * linux.resources (no cgroup is writable by an unprivileged user on most hosts). tsrun
 * also drops the /sys/fs/cgroup mount: the /sys bind brings the host's cgroup tree.
 */
function toRootless(spec: Spec): void {
  const linux = spec.linux!;
  linux.namespaces = linux.namespaces!.filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  linux.namespaces.push({ type: 'user' });
  linux.uidMappings = [{ containerID: 0, hostID: process.geteuid?.() ?? 1000, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: process.getegid?.() ?? 1000, size: 1 }];
  delete linux.resources;
  spec.mounts = spec.mounts!.filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup');
  spec.mounts.push({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  for (const m of spec.mounts) if (m.options) m.options = m.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid='));
}
