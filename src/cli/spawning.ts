// Commands that start processes (create, run, exec) live in a bundle of their own
// (dist/spawning.js), loaded by the fast path only for them: state, start, kill and delete
// never parse this code. The bundle has its own copy of the logging module, configured here.
export { createContainer, setCreateDebug } from '../container/create';
export { runContainer } from '../container/run';
export { execInContainer } from '../container/exec';
export { configureLog } from '../logging';
