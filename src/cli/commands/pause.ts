import { pauseContainer } from '../../container/cgroup-ops';
import { containerId, Invocation } from '../context';

export function pauseCommand(inv: Invocation): void {
  pauseContainer(inv.root, containerId(inv));
}
