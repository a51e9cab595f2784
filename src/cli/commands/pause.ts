import type { CommandModule } from 'yargs';
import { pauseContainer } from '../../container/cgroup-ops';
import { containerId, GlobalOptions } from '../context';

export const pauseCommand: CommandModule<GlobalOptions, GlobalOptions & { id: string }> = {
  command: 'pause <id>',
  describe: 'freeze every process of the container (cgroup freezer)',
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }),
  handler: (argv) => {
    pauseContainer(argv.root, containerId(argv));
  },
};
