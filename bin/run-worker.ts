// `pidbox worker`: runs invocations from the queue, each in a fresh sandbox. As many as you like,
// on as many hosts; each needs root (or CAP_SYS_ADMIN) for the namespaces.
import { redact } from '../queue/queue-config.js';
import { loadWorkerConfig } from '../worker/queue/worker-config.js';
import { startWorker } from '../worker/queue/start-worker.js';
import { untilSignal } from './until-signal.js';

export async function runWorker(env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadWorkerConfig(env);
  warnWithoutRoot('pidbox worker');
  const worker = await startWorker(config);
  console.log(`pidbox worker: ${worker.name} runs up to ${config.concurrency} invocations at once (redis ${redact(config.queue.redisUrl)}, functions ${config.functionsDir})`);
  await untilSignal('pidbox worker');
  await worker.close();
  return 0;
}

export function warnWithoutRoot(name: string): void {
  if (process.getuid?.() !== 0) {
    console.error(`${name}: not running as root: sandboxes need CAP_SYS_ADMIN for their namespaces, so invocations will fail (SANDBOX_SPAWN_FAILED)`);
  }
}
