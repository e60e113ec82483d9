import { subscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";

/**
 * Counts the bytes this process exchanges over its client sockets with given TCP ports (a storage
 * service) — the AWS and Azure SDKs and fetch included — through Node's `net.client.socket`
 * diagnostics channel. Used to show that a commit moves no file bytes through the app.
 *
 * Start it before anything connects: SDKs keep sockets alive and reuse them, so a socket opened
 * before watching (say, while creating the container) would carry later requests uncounted.
 */
export function watchSocketBytes(): { total(ports: readonly number[]): number } {
  const sockets: Array<{ socket: Socket; port?: number }> = [];
  subscribe("net.client.socket", (message) => {
    const entry: { socket: Socket; port?: number } = { socket: (message as { socket: Socket }).socket };
    sockets.push(entry);
    // The remote port is known once connected and forgotten once closed: note it on connect.
    entry.socket.once("connect", () => (entry.port = entry.socket.remotePort));
  });
  return {
    total: (ports) =>
      sockets.reduce((sum, { socket, port }) => (port !== undefined && ports.includes(port) ? sum + socket.bytesRead + socket.bytesWritten : sum), 0),
  };
}
