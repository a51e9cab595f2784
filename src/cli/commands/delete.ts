import { deleteContainer } from '../../container/lifecycle';
import { containerId, Invocation } from '../context';

export function deleteCommand(inv: Invocation): void {
  deleteContainer(inv.root, containerId(inv), inv.flags.force === true);
}
