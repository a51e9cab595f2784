import type { CommandModule } from 'yargs';
import { deleteContainer } from '../../container/lifecycle';
import { containerId, GlobalOptions } from '../context';

type DeleteArgs = GlobalOptions & { id: string; force: boolean };

export const deleteCommand: CommandModule<GlobalOptions, DeleteArgs> = {
  command: 'delete <id>',
  describe: 'delete a container and everything it held',
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill the container first if it runs' }),
  handler: (argv) => {
    deleteContainer(argv.root, containerId(argv), argv.force);
  },
};
