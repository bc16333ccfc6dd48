/**
 * Listening and closing, the same for both API simulators' servers (HTTP for GitHub, HTTPS for Kubernetes).
 */
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';

/** Resolves with the port bound (the one the OS chose when `port` is 0); rejects when the bind fails. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Resolves once the server has stopped; open connections (keep-alive, upgraded ones) are cut, not awaited. */
export async function closeServer(
  server: Pick<HttpServer, 'close' | 'closeAllConnections'>,
  sockets: Iterable<Duplex>,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  for (const s of sockets) s.destroy();
  await closed;
}
