import { containerPids, psTable } from '../../container/cgroup-ops';
import { containerId, Invocation } from '../context';

/** ps [--format json] ID [PS-ARGS...]: json is the host pids; the table is ps(1)'s. */
export function psCommand(inv: Invocation): void {
  const pids = containerPids(inv.root, containerId(inv));
  if (inv.flags.format === 'json') process.stdout.write(`${JSON.stringify(pids)}\n`);
  else process.stdout.write(psTable(pids, inv.rest));
}
