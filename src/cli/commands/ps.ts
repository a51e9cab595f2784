import type { CommandModule } from 'yargs';
import { containerPids, psTable } from '../../container/cgroup-ops';
import { containerId, GlobalOptions } from '../context';

type PsArgs = GlobalOptions & { id: string; format: 'table' | 'json'; psArgs?: string[] };

export const psCommand: CommandModule<GlobalOptions, PsArgs> = {
  command: 'ps <id> [psArgs..]',
  describe: 'list the processes of a container (json: their host pids)',
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true })
      .positional('psArgs', { type: 'string', array: true, describe: 'arguments for ps(1), default -ef' })
      .option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const })
      .parserConfiguration({ 'unknown-options-as-args': true }),
  handler: (argv) => {
    const pids = containerPids(argv.root, containerId(argv));
    if (argv.format === 'json') process.stdout.write(`${JSON.stringify(pids)}\n`);
    else process.stdout.write(psTable(pids, (argv.psArgs ?? []).map(String)));
  },
};
