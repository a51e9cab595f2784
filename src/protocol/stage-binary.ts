// tsrun-stage (bindings/process-stage.c, built by npm run build): next to the bundles in
// dist/. The init and exec-init exec it in place; create runs it to mount a joined pid
// namespace's proc (joined-pid-ns.ts).
import * as path from 'node:path';

export const STAGE = path.join(__dirname, 'tsrun-stage');
