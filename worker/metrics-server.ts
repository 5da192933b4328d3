// `pidbox worker`'s own small HTTP server for Prometheus: GET /metrics and GET /healthz. (Under
// `pidbox dev` the gateway serves the same registry on its /metrics.)
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP_STATUS_OF, errorBody } from '../contracts/http-status.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json' };

export async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: Error) => res.writeHead(HTTP_STATUS_OF.INTERNAL, JSON_TYPE).end(errorBody('INTERNAL', error.message)),
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, JSON_TYPE).end('{"status":"ok"}');
      return;
    }
    res.writeHead(HTTP_STATUS_OF.NOT_FOUND, JSON_TYPE).end(errorBody('NOT_FOUND', 'GET /metrics or /healthz'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? `${host}:${port} is in use (another worker on this host?): give each its own port, or 0 for any free one` : error.message;
      reject(new PidboxError('INVALID_CONFIG', `PIDBOX_METRICS_PORT: cannot serve /metrics: ${why}`, error));
    });
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${bound}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
