import { createContainer, CreateOptions } from '../../container/create';
import { containerId, Invocation, preserveFdsOption, resolveGlobals, stringFlag } from '../context';

/** The options of create, which run shares. */
export function createOptions(inv: Invocation): CreateOptions {
  const { rootless } = resolveGlobals(inv.globals);
  return {
    root: inv.root,
    id: containerId(inv),
    bundle: stringFlag(inv, 'bundle') ?? '.',
    pidFile: stringFlag(inv, 'pid-file'),
    consoleSocket: stringFlag(inv, 'console-socket'),
    noPivot: inv.flags['no-pivot'] === true,
    noNewKeyring: inv.flags['no-new-keyring'] === true,
    preserveFds: preserveFdsOption(stringFlag(inv, 'preserve-fds')),
    rootless,
  };
}

export async function createCommand(inv: Invocation): Promise<void> {
  await createContainer(createOptions(inv));
}
