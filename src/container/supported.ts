// What tsrun cannot do here: refused with a clear message rather than silently ignored
// (linux.intelRdt without resctrl: intel-rdt.ts).
import type { Spec } from '../spec/types';
import { TsrunError } from '../errors';

export function checkSupported(config: Spec, opts: { consoleSocket?: string; terminalRelay?: boolean }): void {
  const namespaces = config.linux?.namespaces ?? [];
  const user = namespaces.find((ns) => ns.type === 'user');
  if (user && !user.path && !(config.linux?.uidMappings?.length && config.linux?.gidMappings?.length)) {
    // The text users saw when userns.ts refused this at the init's spawn.
    throw new TsrunError('linux.uidMappings/gidMappings: a new user namespace needs both mappings');
  }
  if (!user && (config.linux?.uidMappings?.length || config.linux?.gidMappings?.length)) {
    throw new TsrunError('linux.uidMappings/gidMappings: mappings given without a user namespace (add {"type": "user"} to linux.namespaces)');
  }
  // As runc: moving host interfaces needs host privileges.
  if (Object.keys(config.linux?.netDevices ?? {}).length > 0 && process.geteuid?.() !== 0) {
    throw new TsrunError('linux.netDevices: network devices are not supported for rootless containers');
  }
  // runc's rules: a terminal needs somewhere to send the pty master, and vice versa.
  if (config.process?.terminal && !opts.consoleSocket && !opts.terminalRelay) {
    throw new TsrunError('process.terminal: cannot allocate tty if tsrun will detach without setting console socket (--console-socket)');
  }
  if (!config.process?.terminal && opts.consoleSocket) {
    throw new TsrunError('--console-socket: cannot use console socket if tsrun will not detach or allocate tty (process.terminal is false)');
  }
}
