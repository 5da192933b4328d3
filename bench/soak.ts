// npm run bench:soak [-- --count N] — bench/soak-run.ts at full size: 10 000 async invocations
// (half `echo`, exec; half `hello`, node) through a `pidbox gateway` and two `pidbox worker`
// processes, one worker SIGKILLed and redis-server restarted along the way; prints one table.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { formatSoak, runSoak } from './soak-run.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    'in-flight': { type: 'string', default: '32' },
  },
});
const count = Number(values.count);
const inFlight = Number(values['in-flight']);
if (!Number.isSafeInteger(count) || count < 10) throw new Error(`--count must be a whole number of at least 10, got "${values.count}"`);
if (!Number.isSafeInteger(inFlight) || inFlight < 1) throw new Error(`--in-flight must be a whole number of at least 1, got "${values['in-flight']}"`);

const started = new Date();
const result = await runSoak({ count, inFlight, log: (line) => console.log(`  ${((Date.now() - started.getTime()) / 1000).toFixed(1).padStart(6)} s  ${line}`) });
console.log('');
console.log(`node ${process.version}, ${availableParallelism()} cores; ${result.count} async invocations (half echo, exec; half hello, node), `
  + `${result.inFlight} unfinished at most; 2 workers × ${result.workerConcurrency} at once; one worker SIGKILLed at 30 %, redis-server restarted at 60 %`);
console.log('');
console.log('| what | figure |');
console.log('| --- | --- |');
console.log(formatSoak(result));
if (result.lost > 0 || result.unbounded.length > 0 || result.workerExits.length > 0 || result.leftovers.length > 0) process.exitCode = 1;
