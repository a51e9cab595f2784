// Global options every command sees (parsed in main.ts).
import * as fs from 'node:fs';
import { TsrunError } from '../errors';
import { runningInUserNamespace } from '../procfs';

export interface GlobalOptions {
  root: string;
  log?: string;
  'log-format': 'text' | 'json';
  debug: boolean;
  'systemd-cgroup': boolean;
  rootless: string;
}

/**
 * The global options that change what create/run/exec do: --systemd-cgroup is refused
 * (never ignored); --rootless true|false|auto is resolved as runc's
 * shouldUseRootlessCgroupManager: auto is rootless when euid != 0 or when running as root
 * inside a user namespace. Rootless means cgroup permission errors are not fatal as long
 * as linux.resources asks for no limits (the container then has no cgroup).
 */
export function resolveGlobals(argv: { 'systemd-cgroup': boolean; rootless?: string }): { rootless: boolean } {
  if (argv['systemd-cgroup']) {
    throw new TsrunError('--systemd-cgroup: the systemd cgroup driver is not supported by tsrun yet (and this host has no systemd)');
  }
  return { rootless: resolveRootless(argv.rootless) };
}

export function resolveRootless(value: string | undefined): boolean {
  const v = value ?? 'auto';
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v !== 'auto') throw new TsrunError(`--rootless: expected true, false or auto, found ${JSON.stringify(v)}`);
  return process.geteuid?.() !== 0 || runningInUserNamespace();
}

export function containerId(argv: { id?: unknown }): string {
  if (argv.id === undefined || argv.id === '') throw new TsrunError('container id cannot be empty');
  return String(argv.id);
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
