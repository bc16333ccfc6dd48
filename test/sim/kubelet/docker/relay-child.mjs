/**
 * Runs inside a pod's network namespace (started by relay.ts through `nsenter --net=...`): connects where the
 * parent asks, as a process of the pod would, and hands the connected socket back over the IPC channel, so the
 * parent's bytes then go to the kernel directly. Plain JavaScript: it runs under node without a loader.
 */
import net from 'node:net';

process.on('message', (msg) => {
  const { id, host, port } = msg;
  const sock = net.connect({ host, port });
  // Not a byte read here: whatever this process read would be lost with its copy of the socket.
  sock.pause();
  sock.once('connect', () => {
    // The handle goes to the parent; ours is closed once it is sent (keepOpen defaults to false).
    process.send({ id }, sock);
  });
  sock.once('error', (err) => {
    process.send({ id, error: { code: err.code, message: err.message } });
  });
});
// The parent is gone (or stopped us): nothing is left to relay for.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
