// A program, run on the lab's client host: `node unix-forwarder.js SOCKET HOST PORT` accepts
// connections on a unix socket and joins each to a new TCP connection to HOST:PORT. The socket is a
// file, which our namespace sees; the TCP connection leaves from the client host over the lab's
// switch. So the test talks to the lab's gateway as any client would, with no route into the lab.
import { rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

const [socketPath, host, port] = process.argv.slice(2);
if (!socketPath || !host || !port) {
  console.error('usage: unix-forwarder SOCKET HOST PORT');
  process.exit(2);
}

const server = createServer((inbound: Socket) => {
  const outbound = connect({ host, port: Number(port) });
  // Either side ending or failing ends both: the client sees what a direct connection would.
  const end = (): void => {
    inbound.destroy();
    outbound.destroy();
  };
  inbound.on('error', end).on('close', end);
  outbound.on('error', end).on('close', end);
  inbound.pipe(outbound);
  outbound.pipe(inbound);
});
server.listen(socketPath, () => console.log(`forwarding ${socketPath} to ${host}:${port}`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    rmSync(socketPath, { force: true });
    process.exit(0);
  });
}
