// What every command handler gets, and the checks of global options several commands share.
import * as fs from 'node:fs';
import { TsrunError } from '../errors';
import { runningInUserNamespace } from '../procfs';
import type { Parsed } from './parse';

/** A parsed command line (parse.ts) with --root resolved. */
export interface Invocation extends Parsed {
  root: string;
}

export type Handler = (inv: Invocation) => void | Promise<void>;

/** A flag's value as a string (undefined when not given and without a default). */
export function stringFlag(inv: Invocation, name: string): string | undefined {
  const v = inv.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable flag's values. */
export function listFlag(inv: Invocation, name: string): string[] {
  const v = inv.flags[name];
  return Array.isArray(v) ? v : [];
}

/**
 * The global options that change what create/run/exec do: --systemd-cgroup is refused
 * (never ignored); --rootless true|false|auto is resolved as runc's
 * shouldUseRootlessCgroupManager: auto is rootless when euid != 0 or when running as root
 * inside a user namespace. Rootless means cgroup permission errors are not fatal as long
 * as linux.resources asks for no limits (the container then has no cgroup).
 */
export function resolveGlobals(globals: Parsed['globals']): { rootless: boolean } {
  if (globals['systemd-cgroup']) {
    throw new TsrunError('--systemd-cgroup: the systemd cgroup driver is not supported by tsrun yet (and this host has no systemd)');
  }
  return { rootless: resolveRootless(globals.rootless as string | undefined) };
}

export function resolveRootless(value: string | undefined): boolean {
  const v = value ?? 'auto';
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v !== 'auto') throw new TsrunError(`--rootless: expected true, false or auto, found ${JSON.stringify(v)}`);
  return process.geteuid?.() !== 0 || runningInUserNamespace();
}

export function containerId(inv: Invocation): string {
  const id = inv.positionals[0];
  if (id === undefined || id === '') throw new TsrunError('container id cannot be empty');
  return id;
}

/**
 * --preserve-fds N: fds 3 .. 3+N-1 of ours go to the container at the same numbers, so
 * each must be open here (runc fails later, at fork, with "bad file descriptor").
 */
export function preserveFdsOption(value: unknown): number {
  const text = String(value ?? '0');
  if (!/^\d+$/.test(text)) throw new TsrunError(`--preserve-fds: expected a number of fds (0 or more), found ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n === 0) return 0;
  const limit = openFileLimit();
  if (limit !== undefined && 3 + n > limit) {
    throw new TsrunError(`--preserve-fds ${text}: fds 3 to ${n + 2} are beyond the open file limit (RLIMIT_NOFILE ${limit})`);
  }
  const open = new Set(fs.readdirSync('/proc/self/fd').map(Number));
  for (let fd = 3; fd < 3 + n; fd++) {
    if (!open.has(fd)) throw new TsrunError(`--preserve-fds ${text}: fd ${fd} is not open (fds 3 to ${n + 2} are passed on)`);
  }
  return n;
}

/** Our soft RLIMIT_NOFILE, from /proc/self/limits (undefined when unreadable or unlimited). */
function openFileLimit(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isInteger(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}
