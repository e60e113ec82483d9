import { deflateSync } from "node:zlib";

/** Small real files for the type checks that sniff bytes, and a PNG encoder for the ones a test needs. */

/** A tiny valid PNG (1×1). */
export const PNG_1x1 = Uint8Array.from(
  Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64"),
);

/** A minimal PDF header and body, enough for sniffing. */
export const PDF_BYTES = new TextEncoder().encode("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");

/** PNG colour types this encoder writes, at 8 bits a sample. */
export const GREYSCALE = 0;
export const RGB = 2;

/**
 * A PNG of `width` × `height` whose image data is `scanlines` (each row a filter byte, then its
 * samples), deflated here. The header states the size whatever the data holds, so a test can also
 * build a file with absurd dimensions and almost no pixels.
 */
export function encodePng(width: number, height: number, colourType: typeof GREYSCALE | typeof RGB, scanlines: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, colourType, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks = [chunk("IHDR", header), chunk("IDAT", deflateSync(scanlines)), chunk("IEND", Buffer.alloc(0))];
  return Buffer.concat([signature, ...chunks]);
}

/** A small real PNG with a colour gradient (for thumbnails that look like something in screenshots). */
export function gradientPng(width: number, height: number): Buffer {
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < width; x++) rows.push(40 + Math.round((180 * x) / width), 90 + Math.round((120 * y) / height), 200);
  }
  return encodePng(width, height, RGB, Uint8Array.from(rows));
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
