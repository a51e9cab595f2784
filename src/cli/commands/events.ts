import type { CommandModule } from 'yargs';
import { parseDuration, statsEvent, streamEvents } from '../../container/cgroup-ops';
import { containerId, GlobalOptions } from '../context';

type EventsArgs = GlobalOptions & { id: string; stats: boolean; interval: string };

export const eventsCommand: CommandModule<GlobalOptions, EventsArgs> = {
  command: 'events <id>',
  describe: 'print container events as JSON lines: stats every --interval, and oom',
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true })
      .option('stats', { type: 'boolean', default: false, describe: 'print the stats once and exit' })
      .option('interval', { type: 'string', default: '5s', describe: 'time between stats events (Go duration: 5s, 500ms)' }),
  handler: async (argv) => {
    const id = containerId(argv);
    if (argv.stats) {
      process.stdout.write(`${JSON.stringify(statsEvent(argv.root, id))}\n`);
      return;
    }
    await streamEvents(argv.root, id, parseDuration(argv.interval), (line) => process.stdout.write(`${line}\n`));
  },
};
