// config.json mount options -> mount(2) flags, propagation flags and the data string.
import { MS } from '../../bindings/constants';
import type { Mount } from './types';

/** Options that set (or, with clear=true, clear) a mount flag. */
const FLAG_OPTIONS: Record<string, { flag: number; clear?: true }> = {
  defaults: { flag: 0 },
  ro: { flag: MS.RDONLY },
  rw: { flag: MS.RDONLY, clear: true },
  nosuid: { flag: MS.NOSUID },
  suid: { flag: MS.NOSUID, clear: true },
  nodev: { flag: MS.NODEV },
  dev: { flag: MS.NODEV, clear: true },
  noexec: { flag: MS.NOEXEC },
  exec: { flag: MS.NOEXEC, clear: true },
  sync: { flag: MS.SYNCHRONOUS },
  async: { flag: MS.SYNCHRONOUS, clear: true },
  dirsync: { flag: MS.DIRSYNC },
  remount: { flag: MS.REMOUNT },
  mand: { flag: MS.MANDLOCK },
  nomand: { flag: MS.MANDLOCK, clear: true },
  noatime: { flag: MS.NOATIME },
  atime: { flag: MS.NOATIME, clear: true },
  nodiratime: { flag: MS.NODIRATIME },
  diratime: { flag: MS.NODIRATIME, clear: true },
  relatime: { flag: MS.RELATIME },
  norelatime: { flag: MS.RELATIME, clear: true },
  strictatime: { flag: MS.STRICTATIME },
  nostrictatime: { flag: MS.STRICTATIME, clear: true },
  lazytime: { flag: MS.LAZYTIME },
  nolazytime: { flag: MS.LAZYTIME, clear: true },
  nosymfollow: { flag: MS.NOSYMFOLLOW },
  symfollow: { flag: MS.NOSYMFOLLOW, clear: true },
  silent: { flag: MS.SILENT },
  loud: { flag: MS.SILENT, clear: true },
  bind: { flag: MS.BIND },
  rbind: { flag: MS.BIND | MS.REC },
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP, made by the runtime: see
 * src/container/idmap.ts); "ridmap" maps the submounts of an rbind too. Never passed to mount(2).
 */
const IDMAP_OPTIONS: Record<string, 'idmap' | 'ridmap'> = { idmap: 'idmap', ridmap: 'ridmap' };

/** mount_setattr(2) attributes (linux/mount.h). */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME_MASK: 0x70, RELATIME: 0, NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
};

/**
 * Recursive options (as runc): set or clear an attribute on the mount and every mount under
 * it, with mount_setattr AT_RECURSIVE. An atime option replaces the whole atime mode.
 */
const RECURSIVE_OPTIONS: Record<string, { set?: number; clr?: number }> = {
  rro: { set: MOUNT_ATTR.RDONLY }, rrw: { clr: MOUNT_ATTR.RDONLY },
  rnosuid: { set: MOUNT_ATTR.NOSUID }, rsuid: { clr: MOUNT_ATTR.NOSUID },
  rnodev: { set: MOUNT_ATTR.NODEV }, rdev: { clr: MOUNT_ATTR.NODEV },
  rnoexec: { set: MOUNT_ATTR.NOEXEC }, rexec: { clr: MOUNT_ATTR.NOEXEC },
  rnodiratime: { set: MOUNT_ATTR.NODIRATIME }, rdiratime: { clr: MOUNT_ATTR.NODIRATIME },
  rnosymfollow: { set: MOUNT_ATTR.NOSYMFOLLOW }, rsymfollow: { clr: MOUNT_ATTR.NOSYMFOLLOW },
  rnoatime: { set: MOUNT_ATTR.NOATIME, clr: MOUNT_ATTR.ATIME_MASK },
  rstrictatime: { set: MOUNT_ATTR.STRICTATIME, clr: MOUNT_ATTR.ATIME_MASK },
  // relatime is the kernel's default mode: "atime", "norelatime", "nostrictatime" go back to it.
  rrelatime: { set: MOUNT_ATTR.RELATIME, clr: MOUNT_ATTR.ATIME_MASK },
  ratime: { set: MOUNT_ATTR.RELATIME, clr: MOUNT_ATTR.ATIME_MASK },
  rnorelatime: { set: MOUNT_ATTR.RELATIME, clr: MOUNT_ATTR.ATIME_MASK },
  rnostrictatime: { set: MOUNT_ATTR.RELATIME, clr: MOUNT_ATTR.ATIME_MASK },
};

export interface ParsedMountOptions {
  flags: number;
  propagation: number[];
  data: string;
  /** "idmap" or "ridmap" when the options ask for an idmapped mount (the last one wins). */
  idmap?: 'idmap' | 'ridmap';
  /** Attributes to set and clear on the whole mount tree (the r* options), if any. */
  recursive?: { set: number; clr: number };
  /** tmpcopyup: fill a new tmpfs with what the rootfs had at its destination. */
  copyUp?: true;
}

export function parseMountOptions(options: string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let idmap: ParsedMountOptions['idmap'];
  let recursive: ParsedMountOptions['recursive'];
  let copyUp = false;
  for (const option of options) {
    const known = FLAG_OPTIONS[option];
    if (known) {
      flags = known.clear ? flags & ~known.flag : flags | known.flag;
    } else if (option in PROPAGATION_OPTIONS) {
      propagation.push(PROPAGATION_OPTIONS[option]);
    } else if (option in IDMAP_OPTIONS) {
      idmap = IDMAP_OPTIONS[option];
    } else if (option in RECURSIVE_OPTIONS) {
      const { set = 0, clr = 0 } = RECURSIVE_OPTIONS[option];
      const r = recursive ?? { set: 0, clr: 0 };
      // The later option wins: it takes its bits out of the other set.
      recursive = { set: (r.set & ~clr & ~set) | set, clr: (r.clr & ~set) | clr };
    } else if (option === 'tmpcopyup') {
      copyUp = true;
    } else {
      data.push(option);
    }
  }
  return { flags, propagation, data: data.join(','), ...(idmap ? { idmap } : {}), ...(recursive ? { recursive } : {}), ...(copyUp ? { copyUp: true as const } : {}) };
}

export const ROOTFS_PROPAGATION: Record<string, number> = PROPAGATION_OPTIONS;

export const KNOWN_MOUNT_OPTIONS = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), ...Object.keys(IDMAP_OPTIONS), ...Object.keys(RECURSIVE_OPTIONS), 'tmpcopyup'];

/** A bind mount: type "bind", or a "bind"/"rbind" option. */
export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/**
 * An idmapped mount: an "idmap"/"ridmap" option, or mappings of its own (which imply
 * "idmap", as in runc).
 */
export function isIdmapped(m: Mount): boolean {
  return m.uidMappings !== undefined || m.gidMappings !== undefined || (m.options ?? []).some((o) => o in IDMAP_OPTIONS);
}
