import { loadContainer, ociState } from '../../container/state';
import { writeFd } from '../../logging';
import { containerId, Invocation } from '../context';

/** state ID: the OCI state as JSON. */
export function stateCommand(inv: Invocation): void {
  writeFd(1, `${JSON.stringify(ociState(loadContainer(inv.root, containerId(inv))), null, 2)}\n`);
}
