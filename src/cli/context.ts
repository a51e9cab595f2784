// Global options every command sees (parsed in main.ts).
import { TsrunError } from '../errors';

export interface GlobalOptions {
  root: string;
  log?: string;
  'log-format': 'text' | 'json';
  debug: boolean;
  'systemd-cgroup': boolean;
  rootless: string;
}

/** Flags accepted for compatibility that would change what create does: refuse, never ignore. */
export function refuseUnsupportedGlobals(argv: Pick<GlobalOptions, 'systemd-cgroup' | 'rootless'>): void {
  if (argv['systemd-cgroup']) {
    throw new TsrunError('--systemd-cgroup: the systemd cgroup driver is not supported by tsrun yet (and this host has no systemd)');
  }
  const rootless = argv.rootless === 'true' || (argv.rootless === 'auto' && process.getuid?.() !== 0);
  if (rootless) throw new TsrunError('--rootless: rootless containers are not supported by tsrun yet; run as root');
}

export function containerId(argv: { id?: unknown }): string {
  if (argv.id === undefined || argv.id === '') throw new TsrunError('container id cannot be empty');
  return String(argv.id);
}
