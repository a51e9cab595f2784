import type { CommandModule } from 'yargs';
import { startContainer } from '../../container/lifecycle';
import { containerId, GlobalOptions } from '../context';

export const startCommand: CommandModule<GlobalOptions, GlobalOptions & { id: string }> = {
  command: 'start <id>',
  describe: 'run the user process of a created container',
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }),
  handler: (argv) => {
    startContainer(argv.root, containerId(argv));
  },
};
