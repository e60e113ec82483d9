import { MIMEType } from "node:util";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";

/** A posted form: one entry per name, an array when the name came more than once. */
export type FormBody = Record<string, string | File | (string | File)[]>;

const URLENCODED = "application/x-www-form-urlencoded";
const MULTIPART = "multipart/form-data";

/**
 * Reads the body of a form post, or refuses it with a 400 that says why: a body that is not a form
 * (JSON, text, bytes, no Content-Type), a form in another charset than UTF-8 (its text would be
 * misread, not refused), a multipart body without its boundary or cut short, and percent-escapes that
 * are not UTF-8. Hono's `parseBody` alone answers `{}` to the first kind and throws a TypeError (a 500)
 * on the multipart ones. The size was bounded before, by `bodyLimit`.
 */
export async function readFormBody(c: Context): Promise<FormBody> {
  const type = formType(c.req.header("content-type"));
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (type === URLENCODED) return parseUrlencoded(bytes);
  try {
    // parseBody reads the body that arrayBuffer() cached above.
    return await c.req.parseBody({ all: true });
  } catch {
    throw unreadable("the multipart/form-data body does not match its boundary, or was cut short.");
  }
}

function unreadable(reason: string): HTTPException {
  return new HTTPException(400, { message: `The form could not be read: ${reason}` });
}

/** The form media type of a Content-Type header, or a 400 for anything else. */
function formType(header: string | undefined): typeof URLENCODED | typeof MULTIPART {
  if (header === undefined) throw unreadable(`the request has no Content-Type; a form is sent as ${URLENCODED} or ${MULTIPART}.`);
  let type: MIMEType;
  try {
    type = new MIMEType(header);
  } catch {
    throw unreadable("its Content-Type is not a media type.");
  }
  if (type.essence !== URLENCODED && type.essence !== MULTIPART) {
    throw unreadable(`${type.essence} is not a form; a form is sent as ${URLENCODED} or ${MULTIPART}.`);
  }
  const charset = type.params.get("charset");
  if (charset !== null && !/^utf-?8$/i.test(charset)) throw unreadable(`the charset ${charset} is not supported; send the form in UTF-8.`);
  if (type.essence === MULTIPART && !type.params.get("boundary")) throw unreadable(`${MULTIPART} needs a boundary parameter.`);
  return type.essence;
}

/**
 * `application/x-www-form-urlencoded` as the URL standard writes it, strictly: where URLSearchParams
 * turns bytes that are not UTF-8 into U+FFFD and keeps a stray `%` as it is, this refuses both, since
 * no browser sends them.
 */
function parseUrlencoded(bytes: Uint8Array): FormBody {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw unreadable("the body is not UTF-8.");
  }
  const body: FormBody = Object.create(null) as FormBody;
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const [name, value] = equals === -1 ? [pair, ""] : [pair.slice(0, equals), pair.slice(equals + 1)];
    const decode = (part: string) => {
      try {
        return decodeURIComponent(part.replaceAll("+", " "));
      } catch {
        throw unreadable("a percent-escape in the body is malformed or not UTF-8.");
      }
    };
    const [key, entry] = [decode(name), decode(value)];
    const previous = body[key];
    if (Array.isArray(previous)) previous.push(entry);
    else body[key] = previous === undefined ? entry : [previous, entry];
  }
  return body;
}
