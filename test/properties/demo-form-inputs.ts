import fc from "fast-check";

/**
 * Generated requests for the demo's form routes. Values that only exist once the demo runs are
 * placeholders, filled in per request by `resolve` in the test: `__SELF__` (the demo's host:port),
 * `__OWN__` / `__OTHER__` (a document of this session / of another one), `__PENDING__` (a pending
 * upload of this session, so that some generated forms are saves that should work) and `__COVER__` (a
 * PNG cover uploaded for this request, of `coverDimensions`, up to what a PNG header can claim).
 */
export interface GeneratedRequest {
  method: string;
  /** Request target: path and query. */
  target: string;
  host: string | null;
  origin: string | null;
  secFetchSite: string | null;
  cookie: "session" | "other-session" | "forged" | "none";
  contentType: string | null;
  body: Uint8Array;
  /** Width and height that the `__COVER__` PNG's header states. */
  coverDimensions: [number, number];
  /** `length`: an exact Content-Length; `chunked`; or a Content-Length header that no parser can read. */
  framing: "length" | "chunked" | { unreadableLength: string };
}

/** Printable ASCII and a little Latin-1 (obs-text): anything a header value may carry on the wire. */
const headerText = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((code) => String.fromCharCode(code)), maxLength: 40 }).map((value) => value.trim());

/** A value a person or a tool might put in a field: text, keys, nothing, too much, odd code points. */
const fieldValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.constantFrom("__PENDING__", "", "async-temp/2024/01/01/00000000-0000-0000-0000-000000000000/a.pdf", "documents/x/attachment/y/a.pdf") },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 190, max: 400 }).map((length) => "t".repeat(length)) },
);
const fieldName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("title", "attachment", "cover") },
  { weight: 1, arbitrary: fc.constantFrom("title[]", "__proto__", "constructor", "", "cover.x") },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const fields = fc.oneof(
  { weight: 1, arbitrary: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 6 }) },
  // The form as our page fills it in, with any title: the saves that should work (or fail on the title).
  {
    weight: 2,
    arbitrary: fc
      .record({ title: fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }), attachment: fc.constantFrom("", "__PENDING__"), cover: fc.constantFrom("", "__PENDING__", "__COVER__", "__COVER__") })
      .map(({ title, attachment, cover }): Array<[string, string]> => [["title", title], ["attachment", attachment], ["cover", cover]]),
  },
);

const encoder = new TextEncoder();

/** A body and the Content-Type that would describe it. */
interface Body {
  bytes: Uint8Array;
  ownType: string | null;
}

const BOUNDARY = "----generated";
function multipart(pairs: Array<[string, string]>, asFiles: boolean[]): string {
  const parts = pairs.map(([name, value], index) => {
    const file = asFiles[index] ? `; filename="${value.slice(0, 8).replace(/["\r\n]/g, "")}.pdf"\r\nContent-Type: application/pdf` : "";
    return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name.replace(/["\r\n]/g, "")}"${file}\r\n\r\n${value}\r\n`;
  });
  return `${parts.join("")}--${BOUNDARY}--\r\n`;
}

const bodies: fc.Arbitrary<Body> = fc.oneof(
  { weight: 4, arbitrary: fields.map((pairs) => ({ bytes: encoder.encode(new URLSearchParams(pairs).toString()), ownType: "application/x-www-form-urlencoded" })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fields, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.option(fc.nat(), { nil: undefined }))
      .map(([pairs, asFiles, cut]) => {
        const bytes = encoder.encode(multipart(pairs, asFiles));
        // A multipart body cut short somewhere, when `cut` is set.
        return { bytes: cut === undefined ? bytes : bytes.subarray(0, cut % Math.max(1, bytes.byteLength)), ownType: `multipart/form-data; boundary=${BOUNDARY}` };
      }),
  },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom("%", "&", "=", "+", "a", "é", "2", "F", "\u0000", "\ud800"), maxLength: 40 }).map((text) => ({ bytes: encoder.encode(text), ownType: "application/x-www-form-urlencoded" })) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }).map((json) => ({ bytes: encoder.encode(json), ownType: "application/json" })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ bytes, ownType: null })) },
  { weight: 1, arbitrary: fc.integer({ min: 60 * 1024, max: 300 * 1024 }).map((size) => ({ bytes: encoder.encode(`title=${"x".repeat(size)}`), ownType: "application/x-www-form-urlencoded" })) },
  { weight: 1, arbitrary: fc.constant({ bytes: new Uint8Array(), ownType: null }) },
);

const contentType = (own: string | null) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(own) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        null,
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "multipart/form-data",
        "multipart/form-data; boundary=other",
        `MULTIPART/FORM-DATA; BOUNDARY=${BOUNDARY}; charset=latin1`,
        "application/json",
        "text/plain",
        "application/octet-stream",
      ),
    },
    { weight: 1, arbitrary: headerText },
  );

const imageSide = fc.oneof(
  fc.integer({ min: 1, max: 5000 }),
  fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  fc.constantFrom(0, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
);

/** Document ids as a path segment: ours, another session's, unknown, and what no id looks like. */
const idSegment = fc.oneof(
  { weight: 4, arbitrary: fc.constant("__OWN__") },
  { weight: 2, arbitrary: fc.constant("__OTHER__") },
  { weight: 2, arbitrary: fc.uuid() },
  { weight: 2, arbitrary: fc.webSegment() },
  { weight: 1, arbitrary: fc.constantFrom("..", "%2e%2e", "%00", "%", "%zz", "%E9", "x".repeat(300), "1'--", "__OWN__%20", "__OWN__.json") },
);

const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  { weight: 2, arbitrary: fc.webQueryParameters().map((parameters) => `?${parameters}`) },
  { weight: 1, arbitrary: fc.constantFrom("?", "?%", "?title=x&title=y", "?__proto__[x]=1", `?${"q".repeat(4000)}`) },
);

/** Headers and framing as our own form page sends them: half the requests, so that many reach the form's own checks. */
const ownPageEnvelope = fc.constant({
  host: "__SELF__",
  origin: "http://__SELF__",
  secFetchSite: null,
  cookie: "session",
  framing: "length",
} as const);

/** Headers and framing from anywhere. */
const anyEnvelope = fc.record({
  host: fc.oneof(
    { weight: 8, arbitrary: fc.constant("__SELF__") },
    { weight: 1, arbitrary: fc.constantFrom(null, "evil.example", "127.0.0.1", "localhost:1", "[::1]:80", "a b", "", "__SELF__:99") },
    { weight: 1, arbitrary: headerText },
  ),
  origin: fc.oneof(
    { weight: 6, arbitrary: fc.constant("http://__SELF__") },
    { weight: 2, arbitrary: fc.constantFrom(null, "null", "https://evil.example", "https://__SELF__", "http://__SELF__/", "HTTP://__SELF__") },
    { weight: 1, arbitrary: headerText },
  ),
  secFetchSite: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.constantFrom("same-origin", "same-site", "cross-site", "none") },
    { weight: 1, arbitrary: headerText },
  ),
  cookie: fc.constantFrom("session", "session", "session", "other-session", "forged", "none"),
  framing: fc.oneof(
    { weight: 8, arbitrary: fc.constant("length" as const) },
    { weight: 2, arbitrary: fc.constant("chunked" as const) },
    { weight: 1, arbitrary: fc.constantFrom("abc", "-1", "1, 2", "0x10", "1e3").map((unreadableLength) => ({ unreadableLength })) },
  ),
});
const envelope = fc.oneof(ownPageEnvelope, anyEnvelope);

/** A request to one of the demo's pages or form routes (`/documents/{id}/delete`…): `{id}` becomes a generated id. */
export function formRouteRequest(route: string, methods: readonly string[]): fc.Arbitrary<GeneratedRequest> {
  return fc
    .record({ method: fc.constantFrom(...methods), id: idSegment, query, envelope, body: bodies, coverDimensions: fc.tuple(imageSide, imageSide) })
    .chain(({ method, id, query: search, envelope: headers, body, coverDimensions }) =>
      contentType(body.ownType).map((type) => ({
        method,
        coverDimensions,
        target: `${route.replace("{id}", id)}${search}`,
        ...headers,
        contentType: type,
        body: body.bytes,
      })),
    );
}
