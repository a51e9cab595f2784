// Global options every command sees (parsed in main.ts).
import { TsrunError } from '../errors';
import { runningInUserNamespace } from '../container/paths';

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
