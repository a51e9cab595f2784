// process.capabilities: names -> numbers, the sets as 64-bit masks, and applying them so the
// user process ends with exactly the configured sets, for root and for other users.
//
// Order (runc's): while still uid 0, set PR_SET_KEEPCAPS and drop the bounding set; then the
// caller changes uid/gid; then capset() effective/permitted/inheritable, raise the ambient
// caps and clear PR_SET_KEEPCAPS. capset and the bounding/ambient prctls act on the calling
// thread only: that is the main thread, the one that calls execve.
//
// Unknown names and capabilities this kernel lacks are warnings, not errors (the spec says
// SHOULD NOT fail). A known capability outside tsrun's own bounding set is an error at create
// (checkBoundingSet): no process tsrun starts could hold it. Other capabilities the kernel
// would refuse (not held by tsrun, effective outside permitted, ambient outside permitted &
// inheritable) are dropped with a warning, before the container is reported created.
import * as fs from 'node:fs';
import { CapSets, Libc, PR, SysError } from '../../bindings';
import { ConfigError } from '../errors';
import type { CapabilitySet, LinuxCapabilities } from '../spec/types';

/** Capability names by number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL', // 5
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', // 15
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', // 25
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM', // 35
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE', // 40
];

const NUMBERS = new Map(CAPABILITY_NAMES.map((name, n) => [name, n]));

/** The five sets in the order they are reported. */
export const CAPABILITY_SETS: readonly CapabilitySet[] = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'];

export type Warn = (msg: string) => void;

/** The number of a capability name ("CAP_CHOWN" -> 0), or undefined when unknown. */
export function capabilityNumber(name: string): number | undefined {
  return NUMBERS.get(name);
}

/** The name of a capability number, or "CAP_<n>" for numbers past the table. */
export function capabilityName(n: number): string {
  return CAPABILITY_NAMES[n] ?? `CAP_${n}`;
}

/** The mask with bit n set for each capability number n. */
export function capabilityMask(numbers: Iterable<number>): bigint {
  let mask = 0n;
  for (const n of numbers) mask |= 1n << BigInt(n);
  return mask;
}

/** The capability numbers in a mask, ascending. */
export function maskNumbers(mask: bigint): number[] {
  const out: number[] = [];
  for (let n = 0; mask >> BigInt(n) !== 0n; n++) if ((mask >> BigInt(n)) & 1n) out.push(n);
  return out;
}

/** A mask as /proc/<pid>/status shows it (16 hex digits). */
export function formatMask(mask: bigint): string {
  return mask.toString(16).padStart(16, '0');
}

/** The capability sets to give the container process, as masks. */
export type CapabilityMasks = Record<CapabilitySet, bigint>;

/**
 * Turn process.capabilities into masks. A missing set is empty. Unknown names and numbers
 * past `lastCap` (the kernel's /proc/sys/kernel/cap_last_cap) are reported through `warn`
 * (one line per name, listing the sets it appeared in) and left out.
 */
export function parseCapabilities(caps: LinuxCapabilities, lastCap: number, warn: Warn): CapabilityMasks {
  const masks = { bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n } as CapabilityMasks;
  const ignored = new Map<string, { why: string; sets: CapabilitySet[] }>();
  for (const set of CAPABILITY_SETS) {
    for (const name of caps[set] ?? []) {
      const n = capabilityNumber(name);
      if (n !== undefined && n <= lastCap) {
        masks[set] |= 1n << BigInt(n);
        continue;
      }
      const why = n === undefined ? 'unknown capability' : `not supported by this kernel (cap_last_cap is ${lastCap})`;
      const entry = ignored.get(name) ?? { why, sets: [] };
      if (!entry.sets.includes(set)) entry.sets.push(set);
      ignored.set(name, entry);
    }
  }
  for (const [name, { why, sets }] of ignored) {
    warn(`process.capabilities: ignoring ${JSON.stringify(name)} in ${sets.join(', ')}: ${why}`);
  }
  return masks;
}

/**
 * Leave out what the kernel would refuse, with a warning for each: capabilities tsrun does
 * not hold itself (`held`: its own sets, from capget), effective outside permitted,
 * inheritable outside (bounding | held inheritable), ambient outside permitted & inheritable.
 */
export function fitToKernelRules(masks: CapabilityMasks, held: CapSets, warn: Warn): CapabilityMasks {
  const out = { ...masks };
  const drop = (set: CapabilitySet, allowed: bigint, why: string) => {
    const refused = out[set] & ~allowed;
    if (refused === 0n) return;
    out[set] &= allowed;
    const names = maskNumbers(refused).map(capabilityName).join(', ');
    warn(`process.capabilities.${set}: ignoring ${names}: ${why}`);
  };
  drop('permitted', held.permitted, 'not held by tsrun on this host');
  drop('effective', held.permitted, 'not held by tsrun on this host');
  drop('effective', out.permitted, 'an effective capability must also be permitted');
  drop('inheritable', out.bounding | held.inheritable, 'an inheritable capability must also be in the bounding set');
  drop('ambient', out.permitted & out.inheritable, 'an ambient capability must also be permitted and inheritable');
  return out;
}

/** The bounding set and cap_last_cap of this process, as /proc shows them. */
export function ownBoundingSet(): { bounding: bigint; lastCap: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return { bounding: BigInt(`0x${hex}`), lastCap };
}

/**
 * Refuse (at create, before the init sets up anything) a capability this kernel knows but
 * tsrun's own bounding set lacks, in any of the five sets: no process tsrun starts can ever
 * hold it, and capset would fail in the init after create reported success. Unknown names
 * and ones past cap_last_cap stay warnings (parseCapabilities).
 */
export function checkBoundingSet(caps: LinuxCapabilities, file: string, own = ownBoundingSet()): void {
  for (const set of CAPABILITY_SETS) {
    caps[set]?.forEach((name, i) => {
      const n = capabilityNumber(name);
      if (n === undefined || n > own.lastCap || own.bounding & (1n << BigInt(n))) return;
      throw new ConfigError(file, `/process/capabilities/${set}/${i}`, `${name} is not in tsrun's bounding set on this host (CapBnd ${formatMask(own.bounding)}): no container process can be given it`);
    });
  }
}

/** The highest capability number this kernel knows (probed with PR_CAPBSET_READ). */
export function lastCapability(sys: Libc): number {
  const valid = (n: number): boolean => {
    try {
      sys.prctl(PR.CAPBSET_READ, n);
      return true;
    } catch (err) {
      if (err instanceof SysError && err.code === 'EINVAL') return false;
      throw err;
    }
  };
  let last = CAPABILITY_NAMES.length - 1;
  while (last > 0 && !valid(last)) last--;
  while (last < 63 && valid(last + 1)) last++;
  return last;
}

/**
 * Everything checked before `create` reports success: the masks to apply, or undefined when
 * the config has no process.capabilities (the process then keeps what its uid gives it, as
 * with runc).
 */
export function prepareCapabilities(caps: LinuxCapabilities | undefined, sys: Libc, warn: Warn): PreparedCapabilities | undefined {
  if (!caps) return undefined;
  const lastCap = lastCapability(sys);
  const masks = fitToKernelRules(parseCapabilities(caps, lastCap, warn), sys.capget(), warn);
  return { ...masks, lastCap };
}

export interface PreparedCapabilities extends CapabilityMasks {
  lastCap: number;
}

