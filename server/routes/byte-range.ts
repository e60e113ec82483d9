/** What a download answers to a request's `Range` (RFC 9110 §14), for a file of a known size. */
export type RangeAnswer =
  /** 200 with the whole file: no Range, one that is not `bytes=` or not well formed (ignored, as RFC 9110 §14.2 says), several ranges, or an If-Range that does not match. */
  | { kind: "whole" }
  /** 206 with bytes `start`…`end` (inclusive). */
  | { kind: "partial"; start: number; end: number }
  /** 416 with `Content-Range: bytes *\/size`: a well-formed single range that no byte of the file satisfies. */
  | { kind: "unsatisfiable" };

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * Reads a `Range` header against a file of `size` bytes. One range only: `a-b`, `a-` or `-n`. A
 * multi-range request (`bytes=0-1,5-6`) is answered with the whole file (200), which RFC 9110 allows
 * (a server may ignore Range); multipart/byteranges is not worth its cost for downloads that resume
 * from one offset. Digits only, so no sign, exponent or fraction is read as a number; a number too big
 * for a double is simply past the end.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: "whole" };
  const match = SINGLE_RANGE.exec(header);
  if (!match) return { kind: "whole" };
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return { kind: "whole" };
  if (first === "") {
    // `-n`: the last n bytes; `-0` (or an empty file) has none.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "") {
    // `a-b` with b < a is not well formed: ignored (§14.1.1), so the whole file.
    if (BigInt(last) < BigInt(first)) return { kind: "whole" };
  }
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: "partial", start, end };
}

/**
 * Whether a request's `If-Range` lets its Range apply (RFC 9110 §13.1.5): absent, or equal to the
 * file's strong ETag, or to its Last-Modified date exactly. Anything else (a weak tag, another tag, a
 * date that differs) means the file changed since the client's first part: it gets the whole file.
 */
export function ifRangeMatches(header: string | undefined, validators: { etag: string; lastModified: string }): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"')) return value === validators.etag;
  if (value.startsWith("W/")) return false;
  return value === validators.lastModified;
}
