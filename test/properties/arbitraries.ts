import fc from "fast-check";

/**
 * fast-check arbitraries for the route properties: bodies near the valid ones and far from them,
 * and the headers that decide how a request is framed and who sent it (Host, Origin, Content-Type,
 * Content-Length, Sec-Fetch-Site). Each request is sent over a real connection (see http.ts).
 */

/** How the body is framed on the wire. */
export type Framing =
  /** Content-Length equals the body. */
  | "exact"
  /** Transfer-Encoding: chunked. */
  | "chunked"
  /** Content-Length larger than the body; the client then stops sending (half-close). */
  | "short"
  /** Content-Length smaller than the body: the rest is garbage before the next request. */
  | "long"
  /** Content-Length far larger than any limit (the body is small). */
  | "huge"
  /** A Content-Length no HTTP parser accepts: letters, negative, two different values. */
  | "malformed"
  /** No Content-Length and no Transfer-Encoding: the server reads no body; what was sent is garbage. */
  | "missing";

/** Framings after which Node's HTTP parser, not the routes, answers (a bare 400 that closes the connection). */
export const PARSER_REFUSED: ReadonlySet<Framing> = new Set(["malformed"]);

export const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Framing>("exact") },
  { weight: 2, arbitrary: fc.constant<Framing>("chunked") },
  { weight: 1, arbitrary: fc.constantFrom<Framing>("short", "long", "huge", "malformed", "missing") },
);

/** Text of every kind: ASCII, any Unicode (lone surrogates included), and the characters that break naive code. */
export const anyText = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: fc.constantFrom("/", "\\", ".", "%", "\0", "\u202e", "\ufeff", "\u061c", "?", "#", "..", "%00", "%2e%2e%2f", "\n"), maxLength: 8 }),
  );

/** Numbers a JSON field may hold, sensible or not. */
export const anyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -10, max: 2_000_000 }),
  fc.constantFrom(0, -1, 1.5, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MIN_VALUE, -0),
  fc.double(),
);

/** Any JSON value (as a value, to be stringified). */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

/**
 * A value for one member of an object that has `valid` as its good value: the value itself most of
 * the time, otherwise absent, of another type, or odd text.
 */
export function member<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: anyText() },
    { weight: 1, arbitrary: anyNumber },
  );
}

/** An object made of `shape`'s members (each possibly spoilt), sometimes with an extra member. */
export function nearObject(shape: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const members = Object.fromEntries(Object.entries(shape).map(([name, valid]) => [name, member(valid)]));
  // Half of them entirely valid, so that the checks past validation run too.
  return fc.oneof(fc.record(shape) as fc.Arbitrary<Record<string, unknown>>, spoiledObject(members));
}

function spoiledObject(members: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(fc.record(members), fc.option(fc.tuple(fc.constantFrom("__proto__", "constructor", "extra", "size "), anyJson), { freq: 5 })).map(([object, extra]) => {
    const result: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(object)) if (value !== undefined) result[name] = value;
    if (extra) Object.defineProperty(result, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
    return result;
  });
}

/** Body bytes: the near-valid JSON object mostly, any JSON, broken JSON, or raw bytes. */
export function jsonBody(near: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Uint8Array> {
  const encode = (text: string) => new TextEncoder().encode(text);
  return fc.oneof(
    { weight: 6, arbitrary: near.map((value) => encode(JSON.stringify(value))) },
    { weight: 1, arbitrary: anyJson.map((value) => encode(JSON.stringify(value))) },
    { weight: 1, arbitrary: near.map((value) => encode(JSON.stringify(value).slice(0, -1))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(encode(""), encode(`{"key":"${"k".repeat(20_000)}"}`), encode(`${"[".repeat(5000)}${"]".repeat(5000)}`)) },
  );
}

/** Who sends it: the header our test apps read the principal from. */
export const principal: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant("alice") },
  { weight: 1, arbitrary: fc.constantFrom(undefined, "", "mallory", "bob") },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).filter((name) => name.trim() === name && !/[\0-\x1f\x7f]/.test(name) && name !== "probe") },
);

export type HostChoice = { kind: "own" } | { kind: "other"; host: string } | { kind: "invalid"; host: string };

/** The Host header: ours, another well-formed one, or one no URL can be made of (the server adapter's 400). */
export const host: fc.Arbitrary<HostChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<HostChoice>({ kind: "own" }) },
  { weight: 2, arbitrary: fc.tuple(fc.domain(), fc.option(fc.integer({ min: 1000, max: 65535 }))).map(([name, port]): HostChoice => ({ kind: "other", host: port ? `${name}:${port}` : name })) },
  { weight: 1, arbitrary: fc.constantFrom<HostChoice>({ kind: "invalid", host: "" }, { kind: "invalid", host: "a b" }, { kind: "invalid", host: "x:99999" }, { kind: "invalid", host: "[::1" }, { kind: "invalid", host: "ex%41mple" }) },
);

export type OriginChoice = { kind: "own" } | { kind: "absent" } | { kind: "allowed" } | { kind: "foreign"; origin: string };

/** The Origin header: the page's own, absent, the one the app allows, or anything else. */
export const origin: fc.Arbitrary<OriginChoice> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<OriginChoice>({ kind: "own" }) },
  { weight: 3, arbitrary: fc.constant<OriginChoice>({ kind: "absent" }) },
  { weight: 1, arbitrary: fc.constant<OriginChoice>({ kind: "allowed" }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.webUrl().map((url) => new URL(url).origin), fc.constantFrom("null", "https://app.example.evil", "HTTPS://APP.EXAMPLE", "http://127.0.0.1"), anyText(20).filter((text) => !/[\0-\x1f\x7f-\x9f]/.test(text) && /^[\x20-\x7e]*$/.test(text)))
      .map((value): OriginChoice => ({ kind: "foreign", origin: value })),
  },
);

/** Sec-Fetch-Site as browsers send it, or not at all, or nonsense. */
export const secFetchSite: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom("same-origin", "same-site", "cross-site", "none", "CROSS-SITE", "cross-site, same-origin") },
);

/** Content-Type: the one the route wants mostly, otherwise another. */
export function contentType(wanted: string | undefined): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(wanted) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        undefined,
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "application/json, text/plain",
        "application/octet-stream",
        "application/pdf",
        "",
        "image/png; x=\"",
      ),
    },
  );
}

/** A path segment as a browser or an attacker would write it: percent-encoded text or raw oddities. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: anyText(30).map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "x"))) },
  { weight: 1, arbitrary: fc.constantFrom("..", ".", "%2e%2e", "%", "%zz", "%00", "a%2Fb", "", "x".repeat(3000), "%E0%A4%A", ";", "@", "~") },
);

/** A method for a route that wants `wanted`: that one mostly, otherwise any other. */
export function method(wanted: string): fc.Arbitrary<string> {
  return fc.oneof({ weight: 20, arbitrary: fc.constant(wanted) }, { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND") });
}
