// Messages between a worker and the node host of one of its sandboxes (worker/runtimes/node-host.ts),
// on the host's descriptor 3: a socket pair whose other end the worker holds. One JSON object a line,
// except the result, whose header line says how many bytes of body follow it. The host can be
// started before its function is known (a pre-started sandbox): it says `ready` once Request and
// Response are loaded, is told what to `load`, says `loaded`, and is told to `invoke` once.

/** What the worker sends a host. */
export type WorkerToHost =
  | {
      type: 'load';
      /** The bundle, inside the sandbox (/var/bundle/index.mjs). */
      bundle: string;
      /** The function's own environment (function.json's env, PIDBOX_FUNCTION, …): set before its module loads. */
      env: Record<string, string>;
      /** Record the function's spans (it imports @opentelemetry/api and the invocation is traced). */
      tracing: boolean;
    }
  | {
      type: 'invoke';
      request: { method: string; path: string; headers: Record<string, string> };
      context: InvocationContext;
      /** W3C trace context the function's spans are children of. */
      traceparent?: string;
      tracestate?: string;
    };

/** What a handler gets as its second argument: the facts of this call. */
export interface InvocationContext {
  invocationId: string;
  functionName: string;
  /** Which run of the invocation this is, from 1: retries and runs after a lost worker count up. */
  attempt: number;
  /** When the call's timeout ends it, epoch milliseconds. */
  deadline: number;
}

/** What a host says before its result. */
export type HostToWorker =
  | { type: 'ready' }
  | { type: 'loaded' }
  | { type: 'load-failed'; error: { name: string; message: string } };
