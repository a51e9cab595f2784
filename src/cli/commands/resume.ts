import type { CommandModule } from 'yargs';
import { resumeContainer } from '../../container/cgroup-ops';
import { containerId, GlobalOptions } from '../context';

export const resumeCommand: CommandModule<GlobalOptions, GlobalOptions & { id: string }> = {
  command: 'resume <id>',
  describe: 'thaw a paused container',
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }),
  handler: (argv) => {
    resumeContainer(argv.root, containerId(argv));
  },
};
