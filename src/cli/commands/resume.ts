import { resumeContainer } from '../../container/cgroup-ops';
import { containerId, Invocation } from '../context';

export function resumeCommand(inv: Invocation): void {
  resumeContainer(inv.root, containerId(inv));
}
