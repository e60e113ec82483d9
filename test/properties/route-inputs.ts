import fc from "fast-check";
import { expect } from "vitest";
import { anyNumber, anyText, contentType, framing, host, method, origin, principal, secFetchSite, type Framing, type HostChoice, type OriginChoice } from "./arbitraries";
import type { Bench, Exchange, GeneratedRequest } from "./route-bench";
import { ALLOWED_ORIGIN } from "./route-bench";

/** What every generated request has besides its method, path and body. */
export type Envelope = Omit<GeneratedRequest, "method" | "path" | "body">;

/** Headers and framing of a request to a route that wants `wantedType` as its Content-Type. */
export function envelope(wantedType: string | undefined): fc.Arbitrary<Envelope> {
  // Half of them as the app's own page sends them, so that what lies past the guards is reached too.
  const asThePage = fc.record({ origin: fc.constantFrom<OriginChoice>({ kind: "own" }, { kind: "absent" }), framing: fc.constantFrom<Framing>("exact", "chunked") }).map(
    ({ origin: sent, framing: framed }): Envelope => ({ framing: framed, host: { kind: "own" }, origin: sent, principal: "alice", ...(wantedType ? { contentType: wantedType } : {}) }),
  );
  const generated = fc.record({ framing, host, origin, secFetchSite, contentType: contentType(wantedType), principal }, { requiredKeys: ["framing", "host", "origin"] });
  return fc.oneof(asThePage, generated);
}

/** The part numbers a request may name: real ones, out of range, or not numbers at all. */
export const partNumbers: fc.Arbitrary<unknown> = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
  fc.array(fc.oneof(anyNumber, fc.integer({ min: 9_999, max: 10_001 })), { maxLength: 5 }),
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 4 }),
  fc.constant(Array.from({ length: 101 }, (_, i) => i + 1)),
  anyText(),
);

/** A part list for `complete`: numbers and ETags, right, wrong, or malformed. */
export const partList: fc.Arbitrary<unknown> = fc.oneof(
  fc.array(fc.record({ partNumber: fc.oneof(fc.integer({ min: 1, max: 4 }), anyNumber), etag: fc.option(anyText(30), { nil: undefined }) }, { requiredKeys: ["partNumber"] }), { maxLength: 5 }),
  fc.constant([{ partNumber: 1 }, { partNumber: 2 }, { partNumber: 3 }]),
  fc.array(anyText(), { maxLength: 3 }),
  anyNumber,
);

/**
 * The refusal the JSON routes' guards must give before anything else, when they decide: a body that
 * is not JSON (400), a foreign origin or a cross-site fetch (403). Null when the guards let it through.
 */
export function guardRefusal(env: Envelope, ownHost: string): number | null {
  if (env.host.kind === "invalid" || env.framing === "malformed") return null;
  const essence = env.contentType?.split(";")[0]?.trim().toLowerCase();
  if (essence !== "application/json") return 400;
  const hostValue = env.host.kind === "own" ? ownHost : (env.host as Extract<HostChoice, { host: string }>).host;
  const sent = originHeader(env.origin, hostValue);
  if (sent !== undefined && sent !== `http://${hostValue}` && sent !== ALLOWED_ORIGIN) return 403;
  if (sent === undefined && env.secFetchSite === "cross-site") return 403;
  return null;
}

function originHeader(choice: OriginChoice, hostValue: string): string | undefined {
  if (choice.kind === "own") return `http://${hostValue}`;
  if (choice.kind === "allowed") return ALLOWED_ORIGIN;
  if (choice.kind === "foreign") return choice.origin;
  return undefined;
}

/** Sends a request to a JSON route and checks the guards' refusal where they must give one. */
export async function exchangeJson(bench: Bench, routeMethod: string, request: GeneratedRequest, success: Parameters<Bench["exchange"]>[1]): Promise<Exchange> {
  const result = await bench.exchange(request, success);
  const expected = request.method === routeMethod ? guardRefusal(request, `127.0.0.1:${bench.port}`) : null;
  // Only the routes' own answers: Node's bare 400 to a cut or garbled request comes before any guard.
  if (expected !== null && result.error) expect(result.answer?.status, `${request.path}: guard refusal`).toBe(expected);
  return result;
}

export { method };

/** Counts the generated inputs of each route, for the report at the end of a file. */
export class RunCounter {
  readonly counts = new Map<string, number>();
  count(route: string): void {
    this.counts.set(route, (this.counts.get(route) ?? 0) + 1);
  }
  report(title: string, statuses?: ReadonlyMap<string, number>): void {
    const answers = statuses ? `; answers ${[...statuses].sort().map(([status, n]) => `${status}×${n}`).join(" ")}` : "";
    console.log(`[properties] ${title}: ${[...this.counts].map(([route, n]) => `${route} ${n}`).join(", ")}${answers}`);
  }
}
