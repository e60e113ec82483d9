import { spawn } from "node:child_process";
import { killAndWait } from "./kill-and-wait";

/**
 * A TCP pass-through on 127.0.0.1 in front of a service that other test files share (the run's RGW),
 * so that one file can take "the service" down for real — every connection cut, new ones refused — and
 * bring it back on the same port, without touching the service itself. Bytes pass unchanged, so the Host
 * a client signs (this proxy's address) is the Host the service checks. It runs in a child process of
 * its own, so that the bytes it relays are not counted in the test process's memory (tests measure it)
 * and use the other core; it exits when the test process goes.
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

// CommonJS for `node -e`; argv: target host, target port. Answers each command with the same word.
const PROXY = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
const sockets = new Set();
let server = null;
let listenPort = 0;
function listen(done) {
  const next = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // A reset on one side ends the other: what a client sees of an outage.
      socket.on("error", () => (socket === client ? upstream : client).destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  next.once("error", (error) => process.send({ error: String(error) }));
  next.listen(listenPort, "127.0.0.1", () => {
    listenPort = next.address().port;
    server = next;
    done();
  });
}
process.on("message", (command) => {
  if (command === "down") {
    const current = server;
    server = null;
    if (!current) return process.send("down");
    current.close(() => process.send("down"));
    for (const socket of sockets) socket.destroy();
  } else if (command === "up") {
    if (server) return process.send("up");
    listen(() => process.send("up"));
  }
});
process.on("disconnect", () => process.exit(0));
listen(() => process.send({ port: listenPort }));
`;

export async function startOutageProxy(target: { host: string; port: number }): Promise<OutageProxy> {
  const child = spawn(process.execPath, ["-e", PROXY, target.host, String(target.port)], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      const onExit = () => reject(new Error(`the outage proxy exited (${child.exitCode ?? child.signalCode})`));
      child.once("exit", onExit);
      child.once("message", (message: unknown) => {
        child.off("exit", onExit);
        if (typeof message === "object" && message !== null && "error" in message) reject(new Error(`outage proxy: ${String(message.error)}`));
        else resolve(message);
      });
    });
  let started: unknown;
  try {
    started = await next();
  } catch (error) {
    await killAndWait(child, 0);
    throw error;
  }
  const port = (started as { port: number }).port;
  let up = true;
  // One command at a time: each answer is read in order.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (word: "up" | "down") => {
    const done = queue.then(async () => {
      const answer = next();
      child.send(word);
      await answer;
      up = word === "up";
    });
    queue = done.catch(() => {});
    return done;
  };
  return {
    port,
    get up() {
      return up;
    },
    takeDown: () => command("down"),
    bringBack: () => command("up"),
    close: async () => {
      up = false;
      await killAndWait(child, 0);
    },
  };
}
