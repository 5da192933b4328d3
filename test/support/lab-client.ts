// The test's way to the lab's gateway: a client host runs unix-forwarder.js (a child process: a
// Node process cannot enter another network namespace itself — setns(2) wants a single thread),
// and requests go to its unix socket with node:http. Each request has a connection of its own, as
// separate callers would.
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostProcess } from './host-process.js';
import type { LabHost } from './lab-host.js';

const FORWARDER = fileURLToPath(new URL('./unix-forwarder.js', import.meta.url));

export interface LabResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LabClient {
  readonly process: HostProcess;
  /** One HTTP request to the gateway, through the client host. */
  request(path: string, options?: RequestOptions): Promise<LabResponse>;
}

/** Starts the forwarder on `host`, to `target` (address:port), with its socket in `dir`. */
export async function startLabClient(host: LabHost, dir: string, target: { address: string; port: number }, env: Record<string, string>): Promise<LabClient> {
  const socketPath = join(dir, 'gateway.sock');
  const forwarder = host.spawn(process.execPath, [FORWARDER, socketPath, target.address, String(target.port)], { env });
  await forwarder.waitForOutput(/^forwarding /m);
  return {
    process: forwarder,
    request: (path, options = {}) =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ socketPath, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers[name] = value;
            resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
          });
        });
        req.on('error', reject);
        req.end(options.body ?? '');
      }),
  };
}
