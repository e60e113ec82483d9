import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP pass-through on 127.0.0.1 in front of a service that other test files share (the run's RGW),
 * so that one file can take "the service" down for real — every connection cut, new ones refused — and
 * bring it back on the same port, without touching the service itself. Bytes pass unchanged, so the Host
 * a client signs (this proxy's address) is the Host the service checks.
 */
export interface OutageProxy {
  /** `127.0.0.1:{port}` of the proxy, fixed for its lifetime. */
  port: number;
  readonly up: boolean;
  /** Closes the listener and destroys every open connection. */
  takeDown(): Promise<void>;
  /** Listens again on the same port. */
  bringBack(): Promise<void>;
  close(): Promise<void>;
}

export async function startOutageProxy(target: { host: string; port: number }): Promise<OutageProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = async () => {
    const next = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        // A reset on one side ends the other: what a client sees of an outage.
        socket.on("error", () => (socket === client ? upstream : client).destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      next.once("error", reject);
      next.listen(port, "127.0.0.1", () => resolve());
    });
    port = (next.address() as { port: number }).port;
    server = next;
  };
  const takeDown = async () => {
    const current = server;
    server = null;
    if (!current) return;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();
  return {
    port,
    get up() {
      return server !== null;
    },
    takeDown,
    bringBack: async () => {
      if (!server) await listen();
    },
    close: takeDown,
  };
}
