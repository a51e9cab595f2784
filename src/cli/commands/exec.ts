import { execInContainer } from '../../container/exec';
import { TsrunError } from '../../errors';
import { containerId, Invocation, listFlag, preserveFdsOption, resolveGlobals, stringFlag } from '../context';

/** exec [options] ID (--process FILE | COMMAND [ARGS...]). */
export async function execCommand(inv: Invocation): Promise<void> {
  const { rootless } = resolveGlobals(inv.globals);
  const preserveFds = preserveFdsOption(stringFlag(inv, 'preserve-fds'));
  const processFile = stringFlag(inv, 'process');
  if (processFile !== undefined && inv.rest.length > 0) {
    throw new TsrunError('exec: give either --process FILE or a command, not both');
  }
  if (processFile === undefined && inv.rest.length === 0) {
    throw new TsrunError('exec: a command or --process FILE is required');
  }
  const gids = listFlag(inv, 'additional-gids').flatMap((g) => g.split(',')).map((g) => {
    if (!/^\d+$/.test(g)) throw new TsrunError(`--additional-gids: expected numbers, found ${JSON.stringify(g)}`);
    return Number(g);
  });
  process.exitCode = await execInContainer({
    root: inv.root,
    id: containerId(inv),
    processFile,
    args: inv.rest,
    tty: inv.flags.tty === true,
    consoleSocket: stringFlag(inv, 'console-socket'),
    cwd: stringFlag(inv, 'cwd'),
    env: listFlag(inv, 'env'),
    user: stringFlag(inv, 'user'),
    additionalGids: gids,
    caps: listFlag(inv, 'cap'),
    noNewPrivs: inv.flags['no-new-privs'] === true,
    apparmor: stringFlag(inv, 'apparmor'),
    processLabel: stringFlag(inv, 'process-label'),
    preserveFds,
    detach: inv.flags.detach === true,
    pidFile: stringFlag(inv, 'pid-file'),
    ignorePaused: inv.flags['ignore-paused'] === true,
    cgroup: stringFlag(inv, 'cgroup'),
    debug: inv.globals.debug === true,
    rootless,
  });
}
