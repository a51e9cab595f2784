// `tsrun features`: what this build implements (runtime-spec features.md).
import type { Features } from '../spec/types';
import { KNOWN_MOUNT_OPTIONS } from '../spec/mount-options';
import { OCI_VERSION } from '../spec/default-config';
import { release } from 'node:os';
import { MPOL_FLAGS, MPOL_MODES } from '../spec/memory-policy';
import { SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS, supportedSeccompFlags } from '../security/seccomp';
import { CAPABILITY_NAMES } from '../security/capabilities';

export function features(): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...KNOWN_MOUNT_OPTIONS].sort(),
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      capabilities: [...CAPABILITY_NAMES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: [...SECCOMP_ARCHS],
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: supportedSeccompFlags(release()),
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      // Idmapped bind mounts ("idmap"/"ridmap", mounts[].uidMappings/gidMappings).
      mountExtensions: { idmap: { enabled: true } },
      // Implemented; refused on a host without a mounted resctrl (src/container/intel-rdt.ts).
      intelRdt: { enabled: true, schemata: true, monitoring: true },
      netDevices: { enabled: true },
      memoryPolicy: { modes: Object.keys(MPOL_MODES), flags: Object.keys(MPOL_FLAGS) },
    },
    annotations: { 'org.opencontainers.runtime-spec.features.tsrun.version': '0.1.0' },
  } as Features;
}
