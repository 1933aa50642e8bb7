// A TCP proxy in front of an RPC server that counts the bytes each way, so
// that the benchmark can say how many bytes a decode step sends over the
// network. It forwards bytes as they are; it knows nothing of the protocol.
import net from 'node:net';

/**
 * Listens on 127.0.0.1 (an ephemeral port) and forwards every connection to
 * `target` ("host:port"). Returns the proxy's endpoint, its running byte
 * counts (`sent`: client to server, `received`: server to client) and close().
 */
export async function countingProxy(target) {
  const [host, port] = target.split(':');
  const counts = { sent: 0, received: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => sockets.delete(socket));
      // A closed side ends the other: the client then sees what a lost server looks like.
      socket.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.on('data', (data) => { counts.sent += data.length; });
    upstream.on('data', (data) => { counts.received += data.length; });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `127.0.0.1:${server.address().port}`,
    counts,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
