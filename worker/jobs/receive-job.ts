// Every job a worker takes, from either queue, comes through this one switch.
import { UnrecoverableError, type Job } from 'bullmq';
import { parseJobData, type JobData } from '../../contracts/job.js';
import { deliverCallback, type CallbackDeps } from './deliver-callback.js';
import { processInvocation, type InvocationDeps } from './process-invocation.js';

export type WorkerDeps = InvocationDeps & CallbackDeps;

export async function receiveJob(job: Job, token: string | undefined, deps: WorkerDeps): Promise<void> {
  let data: JobData;
  try {
    data = parseJobData(job.data);
  } catch (error) {
    // Data this version cannot read will not become readable: fail the job without retries.
    throw new UnrecoverableError((error as Error).message);
  }
  switch (data.type) {
    case 'invocation':
      return processInvocation(job, token, data, deps);
    case 'callback':
      return deliverCallback(job, data, deps);
  }
}
