import type { Argv, CommandModule } from 'yargs';
import { constants } from 'node:os';
import { createContainer } from '../../container/create';
import { deleteContainer, startContainer } from '../../container/lifecycle';
import { signalInit } from '../../container/signal';
import { GlobalOptions } from '../context';
import { createFlags, CreateArgs, createOptions } from './create';

type RunArgs = CreateArgs & { detach: boolean; keep: boolean };

/** Signals a foreground `run` passes on to the container, as runc does. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

export const runCommand: CommandModule<GlobalOptions, RunArgs> = {
  command: 'run <id>',
  describe: 'create and start a container; in the foreground, exit with its status',
  builder: (y) =>
    (createFlags(y) as unknown as Argv<RunArgs>)
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the container runs' })
      .option('keep', { type: 'boolean', default: false, describe: 'do not delete the container when it exits' }),
  handler: async (argv) => {
    const opts = createOptions(argv);
    const created = await createContainer(opts);
    const { child, record } = created;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    try {
      startContainer(opts.root, opts.id);
    } catch (err) {
      deleteContainer(opts.root, opts.id, true);
      throw err;
    }
    if (argv.detach) return;
    child.ref();
    for (const sig of FORWARDED) process.on(sig, () => signalInit(record, constants.signals[sig]));
    const { code, signal } = await exited;
    if (!argv.keep) deleteContainer(opts.root, opts.id, true);
    process.exitCode = signal ? 128 + constants.signals[signal] : (code ?? 0);
  },
};
