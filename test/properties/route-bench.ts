import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { count, ne } from "drizzle-orm";
import { expect } from "vitest";
import type { AsyncUploads, AsyncUploadsOptions } from "../../server/create-async-uploads";
import { asyncTempFile } from "../../server/db/schema";
import { MiB } from "../../server/registry";
import { startBackend, type BackendName, type TestBackend } from "../helpers/backends";
import { createTestUploads, type TestUploads } from "../helpers/uploads";
import { PARSER_REFUSED, type Framing, type HostChoice, type OriginChoice } from "./arbitraries";
import { listen, RawConnection, rawRequest, type Listening, type RawAnswer } from "./http";

/**
 * The bench of the route properties: the library's routes on a real backend and PostgreSQL, served by
 * @hono/node-server on a free port. `exchange` sends one generated request on a new connection and
 * checks what every request must get: an answer that is never a 5xx, a 4xx as `{error: {code,
 * message}}` with a readable message, a connection that is still usable (a valid request on it
 * succeeds) or that the answer said it would close, and no row or stored object left by a refusal.
 */

/** The origin the app allows besides its own. */
export const ALLOWED_ORIGIN = "https://app.example";
/** The field every property uses: anything up to 1 MiB, chunked from 512 KiB. */
export const FIELD = "docs.file";
/** The principal of the probes (valid requests sent after each generated one); its rows are not counted. */
const PROBE = "probe";

export interface GeneratedRequest {
  method: string;
  path: string;
  body: Uint8Array;
  framing: Framing;
  host: HostChoice;
  origin: OriginChoice;
  contentType?: string;
  secFetchSite?: string;
  principal?: string;
  /** Further headers, sent after the others as given (Accept, Range, Last-Event-ID…). */
  headers?: ReadonlyArray<readonly [string, string]>;
}

/** What a file needs of the bench beyond the routes of uploads (processing, exports, live events). */
export interface BenchOptions {
  /** Options of `createAsyncUploads`, over the bench's own (a `log` here replaces the silent one). */
  uploads?: Partial<AsyncUploadsOptions>;
  /** Registers more fields or export types, after the bench's field. */
  register?: (uploads: AsyncUploads) => void;
  /** Calls `uploads.start()` (pg-boss) before serving, and `uploads.close()` at close. */
  start?: boolean;
  /** More of the state a refusal must leave as it was (export rows, jobs…), compared as JSON. */
  state?: (t: TestUploads) => Promise<unknown>;
}

/** How `exchange` reads the answer. */
export interface ExchangeOptions {
  /**
   * The route may answer with a stream that does not end (Server-Sent Events): a 200
   * `text/event-stream` is read up to its first event, handed to `success`, and the client then
   * closes the connection (there is no next request on it to check).
   */
  stream?: boolean;
}

export interface Exchange {
  answer: RawAnswer | null;
  /** The error body of a 4xx. */
  error?: { code: string; message: string };
}

export interface Bench {
  backend: TestBackend;
  uploads: AsyncUploads;
  t: TestUploads;
  port: number;
  /** The download records: instance id → stored keys (`resolveKey`); alice may download them. */
  records: Map<string, string[]>;
  /** How many exchanges were checked (the generated inputs actually sent). */
  readonly sent: number;
  /** How many answers of each status the generated inputs got ("none": the connection closed first). */
  readonly statuses: Map<string, number>;
  /**
   * Sends `request`, checks the promises above, and returns the answer. `success` checks a 2xx or
   * 3xx answer against the route's documentation (a refusal has nothing left to check).
   */
  exchange(request: GeneratedRequest, success: (answer: RawAnswer) => void, options?: ExchangeOptions): Promise<Exchange>;
  close(): Promise<void>;
}

export async function startBench(name: BackendName, options: BenchOptions = {}): Promise<Bench> {
  const backend = await startBackend(name, { bucket: `properties-${name}` });
  const records = new Map<string, string[]>();
  const t = await createTestUploads({
    storage: backend.storage,
    allowedOrigins: [ALLOWED_ORIGIN],
    // The probes and the fixtures issue many uploads; the bounds have tests of their own.
    maxPendingUploadsPerPrincipal: 1_000_000,
    log: () => {},
    ...options.uploads,
    register: (uploads) => {
      uploads.registry.register(FIELD, {
        maxSize: MiB,
        multipartThreshold: 512 * 1024,
        partSize: 256 * 1024,
        canDownload: ({ principal }) => principal === "alice",
        resolveKey: async ({ instanceId }) => records.get(instanceId) ?? null,
      });
      options.register?.(uploads);
    },
  });
  if (options.start) await t.uploads.start();
  const server: Listening = await listen(t.uploads.routes.fetch);
  // A 500 nobody received (the client had gone) is still a server error: renderError logs each one.
  const serverErrors: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    if (String(args[0]).includes("unexpected error")) serverErrors.push(args.map(String).join(" ").slice(0, 300));
    consoleError(...args);
  };
  const ownHost = `127.0.0.1:${server.port}`;
  let sent = 0;
  const statuses = new Map<string, number>();

  const rows = async () => Number((await t.db.select({ n: count() }).from(asyncTempFile).where(ne(asyncTempFile.principal, PROBE)))[0]?.n);
  const stored = async () => {
    const objects = await backend.list();
    if (backend.s3 && backend.s3Client) {
      const open = await backend.s3Client.send(new ListMultipartUploadsCommand({ Bucket: backend.s3.bucket }));
      objects.push(...(open.Uploads ?? []).map((upload) => `unfinished upload ${upload.Key}`));
    }
    if (backend.container) {
      for await (const blob of backend.container.listBlobsFlat({ includeUncommitedBlobs: true })) objects.push(`blob ${blob.name}`);
    }
    return objects.sort();
  };
  const snapshot = async () => ({ rows: await rows(), stored: await stored(), ...(options.state ? { state: await options.state(t) } : {}) });

  const probeBody = new TextEncoder().encode(JSON.stringify({ fieldId: FIELD, filename: "probe.pdf", contentType: "application/pdf", size: 10 }));
  const probe = rawRequest("POST", "/upload-url", [
    ["Host", ownHost],
    ["Content-Type", "application/json"],
    ["x-principal", PROBE],
    ["Content-Length", String(probeBody.length)],
  ], probeBody);

  function wire(request: GeneratedRequest): { bytes: Buffer; extraBytes: boolean } {
    const hostValue = request.host.kind === "own" ? ownHost : request.host.host;
    const headers: Array<[string, string]> = [];
    if (!(request.host.kind === "invalid" && request.host.host === "")) headers.push(["Host", hostValue]);
    const { origin } = request;
    if (origin.kind === "own") headers.push(["Origin", `http://${hostValue}`]);
    if (origin.kind === "allowed") headers.push(["Origin", ALLOWED_ORIGIN]);
    if (origin.kind === "foreign") headers.push(["Origin", origin.origin]);
    if (request.contentType !== undefined) headers.push(["Content-Type", request.contentType]);
    if (request.secFetchSite !== undefined) headers.push(["Sec-Fetch-Site", request.secFetchSite]);
    if (request.principal !== undefined) headers.push(["x-principal", request.principal]);
    for (const [name, value] of request.headers ?? []) headers.push([name, value]);
    const body = Buffer.from(request.body);
    switch (request.framing) {
      case "exact":
        return { bytes: rawRequest(request.method, request.path, [...headers, ["Content-Length", String(body.length)]], body), extraBytes: false };
      case "chunked": {
        const half = Math.floor(body.length / 2);
        const chunks = [body.subarray(0, half), body.subarray(half)].filter((chunk) => chunk.length > 0);
        const encoded = Buffer.concat([...chunks.flatMap((chunk) => [Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]), Buffer.from("0\r\n\r\n")]);
        return { bytes: rawRequest(request.method, request.path, [...headers, ["Transfer-Encoding", "chunked"]], encoded), extraBytes: false };
      }
      case "short":
        return { bytes: rawRequest(request.method, request.path, [...headers, ["Content-Length", String(body.length + 1 + (body.length % 7))]], body), extraBytes: false };
      case "long": {
        const extra = Buffer.from("NOT A REQUEST\r\n");
        return { bytes: rawRequest(request.method, request.path, [...headers, ["Content-Length", String(body.length)]], Buffer.concat([body, extra])), extraBytes: true };
      }
      case "huge":
        return { bytes: rawRequest(request.method, request.path, [...headers, ["Content-Length", "1000000000000"]], body), extraBytes: false };
      case "malformed": {
        const value = ["abc", "-1", "1e3", "12 34", "0x10"][body.length % 5]!;
        return { bytes: rawRequest(request.method, request.path, [...headers, ["Content-Length", value]], body), extraBytes: false };
      }
      case "missing":
        return { bytes: rawRequest(request.method, request.path, headers, body), extraBytes: body.length > 0 };
    }
  }

  /** The client stops sending before the body it declared is complete. */
  const cutShort = (request: GeneratedRequest) => request.framing === "short";

  /** Refused below the routes: by Node's HTTP parser, or by the server adapter (no URL can be made of the Host or path). */
  const refusedBelowRoutes = (request: GeneratedRequest) =>
    PARSER_REFUSED.has(request.framing) || request.host.kind === "invalid" || /\\/.test(request.path.split("?")[0]!);

  async function exchange(request: GeneratedRequest, success: (answer: RawAnswer) => void, how: ExchangeOptions = {}): Promise<Exchange> {
    sent++;
    const before = await snapshot();
    const { bytes, extraBytes } = wire(request);
    const connection = await RawConnection.open(server.port);
    try {
      connection.write(bytes);
      // A body shorter than declared: the client gives up sending; the server must not wait for ever.
      if (request.framing === "short") setTimeout(() => connection.endWrites(), 30);
      if (how.stream && request.method !== "HEAD") {
        // A stream up to the end of its first event (a blank line); any other answer is read whole below.
        const isStream = (headers: Record<string, string>) => headers["content-type"]?.startsWith("text/event-stream") === true;
        const start = await connection.peek(8000, (body, headers) => !isStream(headers) || /\n\n/.test(body));
        if (start?.status === 200 && isStream(start.headers)) {
          statuses.set("200 stream", (statuses.get("200 stream") ?? 0) + 1);
          success(start);
          expect(serverErrors.splice(0), `${request.method} ${request.path}: errors the server logged`).toEqual([]);
          return { answer: start };
        }
      }
      const answer = await connection.read(8000, request.method === "HEAD");
      const status = String(answer?.status ?? "none");
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const label = `${request.method} ${request.path} (${request.framing}) → ${answer ? `${answer.status} ${answer.body.slice(0, 200)}` : "no answer"}`;
      const result: Exchange = { answer };

      if (refusedBelowRoutes(request)) {
        // Not the routes' to answer: Node or the adapter says 400, as plain as it likes.
        expect(answer?.status, label).toBe(400);
      } else if (extraBytes && (answer === null || isBare400(answer))) {
        // Garbage after the body: Node's parser may refuse it (a bare 400, closing) before the route answered.
        expect([answer?.status, answer?.headers.connection], label).toEqual([400, "close"]);
      } else if (answer === null || (cutShort(request) && isBare400(answer))) {
        // A client that stopped sending mid-body: no answer, or Node's own 400 as it closes the connection.
        expect(cutShort(request), label).toBe(true);
        if (answer) expect([answer.status, answer.headers.connection], label).toEqual([400, "close"]);
        expect(await connection.waitClosed(), label).toBe(true);
      } else {
        expect(answer.status, label).toBeLessThan(500);
        if (answer.status >= 400 && request.method === "HEAD") {
          expect(answer.headers["content-type"], label).toMatch(/^application\/json/);
        } else if (answer.status >= 400) {
          result.error = readableError(answer, label);
        } else {
          success(answer);
        }
      }

      // The connection: closed as announced, or still good for the next request. Not for what the
      // adapter refused itself: @hono/node-server answers it without reading the declared body.
      if (answer && !connection.closed && !(refusedBelowRoutes(request) && request.framing !== "exact")) {
        if (answer.headers.connection?.toLowerCase() === "close") {
          expect(await connection.waitClosed(), `${label}: said close, stayed open`).toBe(true);
        } else if (!["short", "malformed"].includes(request.framing)) {
          connection.write(probe);
          const next = await connection.read(8000);
          if (extraBytes) {
            // The garbage after the body is the next "request": Node refuses it and closes, saying so.
            expect(next === null || (next.status === 400 && next.headers.connection === "close"), `${label}: garbage then ${next?.status}`).toBe(true);
          } else {
            expect(next?.status, `${label}: the next request on the same connection`).toBe(201);
          }
        }
      }

      // A refusal leaves nothing behind (a cut body's partial file is removed a moment later). Not
      // checked when Node's 400 answered the garbage after a whole request, which the route then served.
      const answeredGarbage = extraBytes && answer !== null && isBare400(answer);
      if ((!answer || answer.status >= 400) && !answeredGarbage) {
        let after = await snapshot();
        for (let i = 0; i < 20 && JSON.stringify(after) !== JSON.stringify(before); i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          after = await snapshot();
        }
        expect(after, `${label}: left something behind`).toEqual(before);
      }
      expect(serverErrors.splice(0), `${label}: errors the server logged`).toEqual([]);
      return result;
    } finally {
      connection.destroy();
    }
  }

  return {
    backend,
    uploads: t.uploads,
    t,
    port: server.port,
    records,
    get sent() {
      return sent;
    },
    statuses,
    exchange,
    async close() {
      console.error = consoleError;
      await server.close();
      if (options.start) await t.uploads.close();
      await t.close();
      await backend.close();
    },
  };
}

/** Node's own answer to a request it could not parse or that was cut: a 400 without a body type. */
const isBare400 = (answer: RawAnswer) => answer.status === 400 && answer.headers["content-type"] === undefined;

/** The error body of a 4xx: a code and a message a person can read. */
export function readableError(answer: RawAnswer, label = ""): { code: string; message: string } {
  expect(answer.headers["content-type"], label).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
  const { code, message } = body.error ?? {};
  expect(typeof code === "string" && /^[a-z][a-z_]+$/.test(code), `${label}: code ${String(code)}`).toBe(true);
  expect(typeof message === "string", label).toBe(true);
  const text = message as string;
  expect(text.trim().length, `${label}: empty message`).toBeGreaterThan(3);
  expect(text.length, label).toBeLessThan(600);
  // Not a stack trace, an object dump or control characters.
  expect(text, label).not.toMatch(/\n\s+at |\[object |[\0-\x08\x0b-\x1f]/);
  return { code: code as string, message: text };
}
