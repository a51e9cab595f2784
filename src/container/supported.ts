// What tsrun cannot do yet: refused with a clear message rather than silently ignored.
import type { Spec } from '../spec/types';
import { TsrunError } from '../errors';

export function checkSupported(config: Spec, opts: { consoleSocket?: string }): void {
  const namespaces = config.linux?.namespaces ?? [];
  if (namespaces.some((ns) => ns.type === 'user')) {
    throw new TsrunError('linux.namespaces: user namespaces are not supported by tsrun yet');
  }
  if (!namespaces.some((ns) => ns.type === 'mount')) {
    throw new TsrunError('linux.namespaces: tsrun needs a mount namespace to set up the rootfs (add {"type": "mount"})');
  }
  if (config.process?.terminal) {
    throw new TsrunError('process.terminal: terminals are not supported by tsrun yet; set "terminal": false');
  }
  if (opts.consoleSocket) {
    throw new TsrunError('--console-socket: terminals are not supported by tsrun yet');
  }
  for (const name of ['createContainer', 'startContainer'] as const) {
    if (config.hooks?.[name]?.length) throw new TsrunError(`hooks.${name}: not supported by tsrun yet`);
  }
}
