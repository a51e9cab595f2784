import type { CommandModule } from 'yargs';
import { killContainer } from '../../container/lifecycle';
import { parseSignal } from '../../container/signal';
import { containerId, GlobalOptions } from '../context';

type KillArgs = GlobalOptions & { id: string; signal: string; all: boolean };

export const killCommand: CommandModule<GlobalOptions, KillArgs> = {
  command: 'kill <id> [signal]',
  describe: 'send a signal (default SIGTERM) to the container init',
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true })
      .positional('signal', { type: 'string', default: 'SIGTERM' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'signal every process of the container' }),
  handler: (argv) => {
    const sig = parseSignal(String(argv.signal));
    killContainer(argv.root, containerId(argv), sig, argv.all);
  },
};
