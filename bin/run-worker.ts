// `pidbox worker`: runs invocations from the queue, each in a fresh sandbox. As many as you like,
// on as many hosts; each needs root to mount its sandboxes' folders and create their cgroups (it
// stops at start, saying why, when it cannot).
import { startTelemetry } from '../telemetry/telemetry.js';
import { describeRedis } from '../redis/redis-client.js';
import { startMetricsServer } from '../worker/metrics-server.js';
import { loadWorkerConfig } from '../worker/jobs/worker-config.js';
import { startWorker } from '../worker/jobs/start-worker.js';
import { warnAboutFunctionsDir } from './functions-dir.js';
import { untilShutdown } from './shutdown-signals.js';

export async function runWorker(env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadWorkerConfig(env);
  const telemetry = await startTelemetry(env, 'worker');
  warnAboutFunctionsDir(config.functionsDir, telemetry.log);
  // Before the worker, so a port in use stops it before it takes any job.
  const metrics = await startMetricsServer(telemetry.metrics, config.metricsHost, config.metricsPort);
  const worker = await startWorker(config, telemetry);
  // Signals are listened for before the line that says it is ready.
  const shutdown = untilShutdown('pidbox worker', { waitsFor: `running invocations get up to ${config.shutdownGraceMs} ms to finish` });
  console.log(`pidbox worker: ${worker.name} runs up to ${config.concurrency} invocations at once (redis ${describeRedis(config.queue)}, functions ${config.functionsDir}, metrics ${metrics.url}/metrics${telemetry.tracing.enabled ? ', tracing on' : ''})`);
  await shutdown;
  await worker.close();
  await metrics.close();
  await telemetry.tracing.shutdown();
  return 0;
}
