import { features } from '../../container/features';
import { writeFd } from '../../logging';

export function featuresCommand(): void {
  writeFd(1, `${JSON.stringify(features(), null, 2)}\n`);
}
