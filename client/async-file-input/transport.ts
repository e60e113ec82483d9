import type { MultipartUploadUrlResponse } from "../../shared/multipart.js";
import type { UploadTarget, UploadUrlRequest, UploadUrlResponse } from "../../shared/schemas.js";
import { isErrorBody, isMultipartUploadUrlResponse, isUploadUrlResponse } from "../../shared/response-guards.js";
import { UploadFailure } from "./upload-failure.js";

/** The two network steps of an upload; replaceable so the engine can be tested without a browser. */
export interface Transport {
  /** `POST {endpoint}/upload-url`; resolves to the server's 201 body or rejects with an `UploadFailure`. */
  /** A large file may get a chunked upload's plan instead of a target (`multipart-upload.ts`). */
  requestTarget(endpoint: string, request: UploadUrlRequest, signal: AbortSignal): Promise<UploadUrlResponse | MultipartUploadUrlResponse>;
  /** Sends the bytes exactly as `target` says; reports progress; rejects with an `UploadFailure`. */
  send(
    target: UploadTarget,
    file: Blob,
    contentType: string,
    signal: AbortSignal,
    onProgress: (loaded: number) => void,
  ): Promise<void>;
}

const aborted = () => new UploadFailure({ code: "aborted" });

// Headers a page may not set (the browser refuses them with a console error); storage signs some of
// them (Content-Length), and the browser sends those itself.
const FORBIDDEN_HEADER =
  /^(accept-charset|accept-encoding|access-control-request-.*|connection|content-length|cookie2?|date|dnt|expect|host|keep-alive|origin|referer|te|trailer|transfer-encoding|upgrade|via|proxy-.*|sec-.*)$/i;

async function requestTarget(
  endpoint: string,
  request: UploadUrlRequest,
  signal: AbortSignal,
): Promise<UploadUrlResponse | MultipartUploadUrlResponse> {
  let status = 0;
  let text: string;
  try {
    const response = await fetch(`${endpoint.replace(/\/+$/, "")}/upload-url`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(request),
      signal,
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    if (signal.aborted) throw aborted();
    throw new UploadFailure({ code: "network_error", transient: true, cause });
  }
  const body = parseJson(text);
  if (status < 200 || status > 299) {
    const transient = status >= 502 && status <= 504;
    if (isErrorBody(body)) throw new UploadFailure({ code: body.error.code, status, serverMessage: body.error.message, transient });
    throw new UploadFailure({ code: "server_error", status, transient });
  }
  if (!isUploadUrlResponse(body) && !isMultipartUploadUrlResponse(body)) throw new UploadFailure({ code: "bad_response", status });
  return body;
}

function send(
  target: UploadTarget,
  file: Blob,
  contentType: string,
  signal: AbortSignal,
  onProgress: (loaded: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(aborted());
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    const settle = (error?: UploadFailure) => {
      signal.removeEventListener("abort", abort);
      if (error) reject(error);
      else resolve();
    };
    xhr.open(target.method, target.url);
    let body: Blob | FormData = file;
    const headers = Object.entries(target.headers ?? {}).filter(([name]) => !FORBIDDEN_HEADER.test(name));
    if (target.method === "POST") {
      // Multipart: the policy fields first, the file last (S3 ignores fields after `file`).
      body = new FormData();
      for (const [name, value] of Object.entries(target.fields ?? {})) body.append(name, value);
      body.append("file", file);
    } else if (!headers.some(([name]) => name.toLowerCase() === "content-type")) {
      headers.push(["Content-Type", contentType]);
    }
    for (const [name, value] of headers) {
      // A POST's Content-Type carries the multipart boundary, which only the browser knows.
      if (target.method === "POST" && name.toLowerCase() === "content-type") continue;
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status <= 299) return settle();
      const transient = xhr.status >= 500 || xhr.status === 408 || xhr.status === 429;
      settle(new UploadFailure({ code: "storage_rejected", status: xhr.status, serverMessage: storageMessage(xhr), transient }));
    };
    xhr.onerror = xhr.ontimeout = () => settle(new UploadFailure({ code: "network_error", transient: true }));
    xhr.onabort = () => settle(aborted());
    signal.addEventListener("abort", abort, { once: true });
    xhr.send(body);
  });
}

/** The storage's own reason: our JSON error (filesystem), or S3's and Azure's XML `<Message>`. */
function storageMessage(xhr: XMLHttpRequest): string | undefined {
  const text = typeof xhr.responseText === "string" ? xhr.responseText : "";
  const body = parseJson(text);
  if (isErrorBody(body) && body.error.message !== undefined) return body.error.message.slice(0, 300);
  const xml = /<Message>([^<]{1,300})/.exec(text)?.[1]?.trim();
  return xml || undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The browser's own `fetch` and `XMLHttpRequest`. */
export const browserTransport: Transport = { requestTarget, send };
