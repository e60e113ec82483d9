/**
 * `Content-Disposition: attachment` for a file name, as RFC 6266 recommends: an ASCII `filename="…"`
 * fallback for old clients, then `filename*=UTF-8''…` (RFC 8187) with the exact name, which every
 * current browser prefers. Used for the filesystem download route and as the `response-content-disposition`
 * / `rscd` override of S3 and Azure download URLs, so a name can never break out of the header.
 *
 * @example contentDisposition("résumé 2024.pdf")
 * // attachment; filename="resume 2024.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf
 */
export function contentDisposition(filename: string): string {
  // Controls (CR and LF above all) never belong in a header, not even percent-encoded.
  const name = filename.normalize("NFC").replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
  return `attachment; filename="${asciiFallback(name)}"; filename*=UTF-8''${encodeRfc8187(name)}`;
}

/** Accents dropped (`é` → `e`), anything else outside printable ASCII, `"` and `\` replaced by `_`. */
function asciiFallback(name: string): string {
  const ascii = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return ascii.trim() === "" ? "download" : ascii;
}

/** Percent-encodes everything but RFC 8187 `attr-char`s; `encodeURIComponent` leaves `'()*` alone. */
function encodeRfc8187(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
