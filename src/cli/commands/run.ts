import { runContainer } from '../../container/run';
import { Invocation } from '../context';
import { createOptions } from './create';

/** run [-d] [--keep] ID: create and start; in the foreground, exit with the container's status. */
export async function runCommand(inv: Invocation): Promise<void> {
  await runContainer(createOptions(inv), { detach: inv.flags.detach === true, keep: inv.flags.keep === true });
}
