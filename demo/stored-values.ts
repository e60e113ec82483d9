import type { CommittedFile } from "async-uploads/server";
import { TITLE_MAX_LENGTH } from "./pages/document-form";

/**
 * The checks on every value the demo writes to its `documents` row, whether it came from the form (the
 * title) or from an uploaded file (its name, size, type and image dimensions, as `commit` read them).
 * A value that a column cannot hold is a form error on its field, never a database error and a 500.
 */

/**
 * The largest side a cover may have. JPEG and GIF cannot state more than 65 535 pixels, WebP 16 383;
 * a PNG header may claim up to 2^32 − 1 in a few bytes, which is no cover anyone can look at, and
 * beyond the `integer` columns that keep the dimensions.
 */
export const COVER_MAX_SIDE = 65_535;

/** Stored text is bounded so a file name can never make a row (or a page) huge. */
const STORED_TEXT_MAX_LENGTH = 1_000;

/** Control characters (PostgreSQL refuses NUL outright) and lone surrogates, which no keyboard types. */
const UNSTORABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|\p{Cs}/u;

/** Why the title cannot be saved, or undefined when it can. */
export function titleProblem(title: string): string | undefined {
  if (title === "") return "Enter a title.";
  if (title.length > TITLE_MAX_LENGTH) return `The title must be at most ${TITLE_MAX_LENGTH} characters.`;
  if (UNSTORABLE.test(title)) return "The title contains characters that cannot be stored.";
  return undefined;
}

/**
 * Why the facts of a newly committed file cannot be stored with the document, or undefined when they
 * can. The library already bounds these (sanitised names, `maxSize`, sniffed types); the demo checks
 * them again against its own columns because it is the demo that chose those columns. Dimensions are
 * checked only where they are kept (the cover): an attachment may be any image at all.
 */
export function committedFileProblem(file: CommittedFile, { keepsDimensions }: { keepsDimensions: boolean }): string | undefined {
  if (!storableText(file.filename) || !storableText(file.contentType)) return "The file's name cannot be stored. Please rename the file and choose it again.";
  if (!Number.isSafeInteger(file.size) || file.size < 0) return "The file's size cannot be stored.";
  for (const side of keepsDimensions ? [file.width, file.height] : []) {
    if (side === undefined) continue;
    if (!Number.isInteger(side) || side < 1 || side > COVER_MAX_SIDE) {
      return `The image is ${file.width}×${file.height} pixels; a cover may be at most ${COVER_MAX_SIDE} pixels wide and high.`;
    }
  }
  return undefined;
}

function storableText(value: string): boolean {
  return value.length <= STORED_TEXT_MAX_LENGTH && !UNSTORABLE.test(value);
}
