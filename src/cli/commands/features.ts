import type { CommandModule } from 'yargs';
import { features } from '../../container/features';
import { GlobalOptions } from '../context';

export const featuresCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'features',
  describe: 'print what this runtime implements, as JSON',
  handler: () => {
    process.stdout.write(`${JSON.stringify(features(), null, 2)}\n`);
  },
};
