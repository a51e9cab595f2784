import { startContainer } from '../../container/lifecycle';
import { containerId, Invocation } from '../context';

export function startCommand(inv: Invocation): void {
  startContainer(inv.root, containerId(inv));
}
