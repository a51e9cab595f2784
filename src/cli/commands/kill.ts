import { killContainer } from '../../container/lifecycle';
import { parseSignal } from '../../container/signal';
import { containerId, Invocation } from '../context';

/** kill ID [SIGNAL]: SIGTERM by default. */
export function killCommand(inv: Invocation): void {
  killContainer(inv.root, containerId(inv), parseSignal(inv.positionals[1] ?? 'SIGTERM'), inv.flags.all === true);
}
