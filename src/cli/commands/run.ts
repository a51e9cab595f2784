import type { Argv, CommandModule } from 'yargs';
import { runContainer } from '../../container/run';
import { GlobalOptions } from '../context';
import { createFlags, CreateArgs, createOptions } from './create';

type RunArgs = CreateArgs & { detach: boolean; keep: boolean };

export const runCommand: CommandModule<GlobalOptions, RunArgs> = {
  command: 'run <id>',
  describe: 'create and start a container; in the foreground, exit with its status',
  builder: (y) =>
    (createFlags(y) as unknown as Argv<RunArgs>)
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the container runs' })
      .option('keep', { type: 'boolean', default: false, describe: 'do not delete the container when it exits' }),
  handler: async (argv) => {
    await runContainer(createOptions(argv), { detach: argv.detach, keep: argv.keep });
  },
};
