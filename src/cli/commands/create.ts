import type { Argv, CommandModule } from 'yargs';
import { createContainer } from '../../container/create';
import { containerId, GlobalOptions, preserveFdsOption, resolveGlobals } from '../context';

export interface CreateArgs extends GlobalOptions {
  id: string;
  bundle: string;
  'pid-file'?: string;
  'console-socket'?: string;
  'no-pivot': boolean;
  'no-new-keyring': boolean;
  'preserve-fds': string;
}

/** Flags shared by create and run. */
export function createFlags<T>(y: Argv<T>) {
  return y
    .positional('id', { type: 'string', describe: 'container id' })
    .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'path to the bundle directory' })
    .option('pid-file', { type: 'string', describe: 'write the init process id to this file' })
    .option('console-socket', { type: 'string', describe: 'unix socket that receives the pty master' })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot instead of pivot_root' })
    .option('no-new-keyring', { type: 'boolean', default: false, describe: 'keep the caller\'s session keyring (default: a new one, _ses.ID)' })
    .option('preserve-fds', { type: 'string', default: '0', describe: 'pass fds 3..3+N-1 to the container' });
}

export function createOptions(argv: CreateArgs) {
  const { rootless } = resolveGlobals(argv);
  const preserveFds = preserveFdsOption(argv['preserve-fds']);
  return {
    root: argv.root,
    id: containerId(argv),
    bundle: argv.bundle,
    pidFile: argv['pid-file'],
    consoleSocket: argv['console-socket'],
    noPivot: argv['no-pivot'],
    noNewKeyring: argv['no-new-keyring'],
    preserveFds,
    rootless,
  };
}

export const createCommand: CommandModule<GlobalOptions, CreateArgs> = {
  command: 'create <id>',
  describe: 'create a container (the process waits for `start`)',
  builder: (y) => createFlags(y) as unknown as Argv<CreateArgs>,
  handler: async (argv) => {
    await createContainer(createOptions(argv));
  },
};
