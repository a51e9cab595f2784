// The BPF program libseccomp makes for a profile, kept between commands (issue 13). Engines
// pass the same default profile to every container; building it through libseccomp costs
// ~30 ms per create or exec here (~350 syscall names resolved and added one FFI call at a
// time, then exported), loading the program kept from the last time ~0.1 ms.
//
// The key covers everything the program depends on: the profile as given, the libseccomp
// library file (its syscall tables), the kernel, the CPU architecture, and this build of
// tsrun (the -ENOSYS stub and the flags are ours). Profiles with a listener are never kept
// (the message names a socket and a pid). Only root uses it, in a root-owned directory that
// is checked before it is read (a writable cache would be a filter of an attacker's choice).
// Best effort: any problem means building as before.
//
// An entry is found by a fast hash of its key and holds the whole key, which must match
// exactly: a hash collision is only a miss. (node:crypto's sha256 would cost every create
// ~7 ms to load.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LinuxSeccomp } from '../spec/types';
import { buildSeccomp, ListenerState, PreparedSeccomp, StageSeccomp } from './seccomp';

export const SECCOMP_CACHE_DIR = '/var/cache/tsrun/seccomp';
const FORMAT = 2;

/**
 * linux.seccomp through the cache (root, no listener) or libseccomp (`state`: what a
 * listener is told, as buildSeccomp).
 */
export function buildSeccompCached(
  seccomp: LinuxSeccomp | undefined, debug: (msg: string) => void = () => {}, state?: ListenerState, dir = SECCOMP_CACHE_DIR,
): PreparedSeccomp | undefined {
  if (!seccomp) return undefined;
  if (seccomp.listenerPath) return buildSeccomp(seccomp, undefined, state);
  const key = process.geteuid?.() !== 0 ? undefined : cacheKey(seccomp);
  const file = key && path.join(dir, `${fnv64(key)}.json`);
  const kept = key && file ? readKept(dir, file, key) : undefined;
  if (kept) {
    debug(`seccomp: program from ${file}`);
    return kept;
  }
  const built = buildSeccomp(seccomp);
  if (!built || !file) return built;
  // No listener: what the stage gets does not depend on who loads it.
  const program = built.forStage(false);
  built.release();
  const prepared = keptSeccomp(program, built.unknownSyscalls);
  writeKept(dir, file, key, program, built.unknownSyscalls);
  return prepared;
}

function keptSeccomp(program: StageSeccomp, unknownSyscalls: string[]): PreparedSeccomp {
  return { unknownSyscalls, forStage: () => program, release: () => {} };
}

function cacheKey(seccomp: LinuxSeccomp): string | undefined {
  const lib = libseccompFile();
  if (!lib) return undefined;
  let code: fs.Stats;
  try {
    code = fs.statSync(__filename); // this bundle: a new build is a new key
  } catch {
    return undefined;
  }
  const parts = {
    format: FORMAT, profile: seccomp, kernel: os.release(), arch: process.arch,
    lib: [lib.path, lib.st.ino, lib.st.size, lib.st.mtimeMs], code: [__filename, code.ino, code.size, code.mtimeMs],
  };
  return JSON.stringify(parts);
}

/** FNV-1a over the UTF-16 code units, two 32-bit lanes: 16 hex digits, a file name. */
function fnv64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** The libseccomp.so.2 the dynamic loader finds first in the usual places. */
function libseccompFile(): { path: string; st: fs.Stats } | undefined {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : process.arch === 'x64' ? 'x86_64-linux-gnu' : process.arch;
  for (const dir of [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib']) {
    try {
      const real = fs.realpathSync(path.join(dir, 'libseccomp.so.2'));
      return { path: real, st: fs.statSync(real) };
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The directory and its parent must be root's and writable by root only. */
function trusted(dir: string): boolean {
  for (const d of [path.dirname(dir), dir]) {
    try {
      const st = fs.lstatSync(d);
      if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function readKept(dir: string, file: string, key: string): PreparedSeccomp | undefined {
  if (!trusted(dir)) return undefined;
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0) return undefined;
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as { key?: unknown; bpf?: unknown; flags?: unknown; unknown?: unknown };
    if (kept.key !== key) return undefined; // another profile, library or build with the same hash
    if (typeof kept.bpf !== 'string' || typeof kept.flags !== 'number' || !Array.isArray(kept.unknown)) return undefined;
    const bpf = Buffer.from(kept.bpf, 'base64');
    // struct sock_filter is 8 bytes; the kernel takes at most 4096 instructions.
    if (bpf.length === 0 || bpf.length % 8 !== 0 || bpf.length > 4096 * 8) return undefined;
    return keptSeccomp({ bpf, flags: kept.flags }, kept.unknown.map(String));
  } catch {
    return undefined;
  }
}

function writeKept(dir: string, file: string, key: string, program: StageSeccomp, unknown: string[]): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!trusted(dir)) return;
    // Whole or not at all: written aside, then renamed over.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ key, bpf: program.bpf.toString('base64'), flags: program.flags, unknown }), { mode: 0o600 });
    fs.renameSync(tmp, file);
    prune(dir);
  } catch {
    // a cache we cannot write only costs the next command the build
  }
}

/** At most KEEP programs (each build of tsrun makes new keys): the least recently written go. */
const KEEP = 64;
function prune(dir: string): void {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= KEEP) return;
  const byAge = names.map((n) => ({ n, t: fs.statSync(path.join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - KEEP)) fs.rmSync(path.join(dir, n), { force: true });
}
