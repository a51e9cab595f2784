import { parseDuration, statsEvent, streamEvents } from '../../container/cgroup-ops';
import { containerId, Invocation, stringFlag } from '../context';

/** events [--stats] [--interval D] ID: JSON lines, as runc. */
export async function eventsCommand(inv: Invocation): Promise<void> {
  const id = containerId(inv);
  if (inv.flags.stats === true) {
    process.stdout.write(`${JSON.stringify(statsEvent(inv.root, id))}\n`);
    return;
  }
  await streamEvents(inv.root, id, parseDuration(stringFlag(inv, 'interval') ?? '5s'), (line) => process.stdout.write(`${line}\n`));
}
