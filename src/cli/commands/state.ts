import type { CommandModule } from 'yargs';
import { loadContainer, ociState } from '../../container/state';
import { containerId, GlobalOptions } from '../context';

export const stateCommand: CommandModule<GlobalOptions, GlobalOptions & { id: string }> = {
  command: 'state <id>',
  describe: 'print the state of a container as JSON',
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }),
  handler: (argv) => {
    const state = ociState(loadContainer(argv.root, containerId(argv)));
    process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  },
};
