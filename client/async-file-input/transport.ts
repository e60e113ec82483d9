import type {
  CompleteMultipartResponse,
  ListPartsResponse,
  MultipartUploadUrlResponse,
  PartTarget,
  SignPartsResponse,
} from "../../shared/multipart.js";
import type { CompleteMultipartRequest, MultipartKeyRequest, SignPartsRequest } from "../../shared/multipart-schemas.js";
import type { ProcessingState, ProcessRequest } from "../../shared/processing.js";
import {
  isCompleteMultipartResponse,
  isErrorBody,
  isProcessingState,
  isListPartsResponse,
  isMultipartUploadUrlResponse,
  isSignPartsResponse,
  isUploadUrlBatchResponse,
  isUploadUrlResponse,
} from "../../shared/response-guards.js";
import type { UploadTarget, UploadUrlRequest, UploadUrlResponse } from "../../shared/schemas.js";
import { UploadFailure } from "./upload-failure.js";

/**
 * Every request an upload makes, to our routes and to storage; replaceable so that the engine and the
 * chunked upload are tested without a browser (test/client). Each method rejects with an
 * `UploadFailure` (`aborted` when `signal` aborts), and resolves only with a body of the expected
 * shape (`shared/response-guards.ts`), else `bad_response`.
 */
export interface Transport {
  /** `POST {endpoint}/upload-url`: a target, or for a large file a chunked upload's plan (`multipart-upload.ts`). */
  requestTarget(endpoint: string, request: UploadUrlRequest, signal: AbortSignal): Promise<UploadUrlResponse | MultipartUploadUrlResponse>;
  /**
   * `POST {endpoint}/upload-url` with `{files}`: every file's answer in one request, in order, or a
   * rejection for the whole batch. Optional: without it, each file asks on its own.
   */
  requestTargets?(endpoint: string, requests: UploadUrlRequest[], signal: AbortSignal): Promise<Array<UploadUrlResponse | MultipartUploadUrlResponse>>;
  /** Sends the bytes exactly as `target` says; reports progress. */
  send(target: UploadTarget, file: Blob, contentType: string, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<void>;
  /** `POST {endpoint}/multipart/sign-parts`. */
  signParts(endpoint: string, request: SignPartsRequest, signal: AbortSignal): Promise<SignPartsResponse>;
  /** `POST {endpoint}/multipart/list-parts`. */
  listParts(endpoint: string, request: MultipartKeyRequest, signal: AbortSignal): Promise<ListPartsResponse>;
  /** `POST {endpoint}/multipart/complete`. */
  completeMultipart(endpoint: string, request: CompleteMultipartRequest, signal: AbortSignal): Promise<CompleteMultipartResponse>;
  /** `POST {endpoint}/multipart/abort`, sent so that it outlives the page (keepalive) and with no signal. */
  abortMultipart(endpoint: string, request: MultipartKeyRequest): Promise<void>;
  /** PUTs one part's bytes; resolves with the ETag storage answered (S3, when CORS exposes it), or null. */
  sendPart(target: PartTarget, part: Blob, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<string | null>;
}

/** The request of upload processing (issue 14), apart from `Transport` so that upload fakes need not answer it. */
export interface ProcessingTransport {
  /** `POST {endpoint}/process`: starts (or, after `failed`, restarts) the checks of an uploaded file; resolves with its state. */
  startProcessing(endpoint: string, request: ProcessRequest, signal: AbortSignal): Promise<ProcessingState>;
}

const aborted = () => new UploadFailure({ code: "aborted" });

// Headers a page may not set (the browser refuses them with a console error); storage signs some of
// them (Content-Length), and the browser sends those itself.
const FORBIDDEN_HEADER =
  /^(accept-charset|accept-encoding|access-control-request-.*|connection|content-length|cookie2?|date|dnt|expect|host|keep-alive|origin|referer|te|trailer|transfer-encoding|upgrade|via|proxy-.*|sec-.*)$/i;

/**
 * POSTs JSON to one of our routes and resolves with the body when it passes `isAnswer`; an error
 * status rejects with the server's code (`server_error` without our error body), and 502–504 are
 * transient (a gateway briefly without a backend).
 */
async function postJson<T>(
  endpoint: string,
  path: string,
  request: unknown,
  isAnswer: (body: unknown) => body is T,
  signal?: AbortSignal,
  init: RequestInit = {},
): Promise<T> {
  let status: number;
  let text: string;
  try {
    const response = await fetch(`${endpoint.replace(/\/+$/, "")}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(request),
      signal,
      ...init,
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    if (signal?.aborted) throw aborted();
    throw new UploadFailure({ code: "network_error", transient: true, cause });
  }
  const body = parseJson(text);
  if (status < 200 || status > 299) {
    const transient = status >= 502 && status <= 504;
    if (isErrorBody(body)) throw new UploadFailure({ code: body.error.code, status, serverMessage: body.error.message, transient });
    throw new UploadFailure({ code: "server_error", status, transient });
  }
  if (!isAnswer(body)) throw new UploadFailure({ code: "bad_response", status });
  return body;
}

/** A success status with no body to check (`multipart/abort` answers 204). */
const anyBody = (_body: unknown): _body is unknown => true;

/**
 * Sends `body` to storage by XMLHttpRequest (fetch reports no upload progress) and resolves with the
 * finished request on a 2xx; otherwise rejects with `storage_rejected` (transient for 5xx, 408, 429),
 * `network_error` or `aborted`.
 */
function sendToStorage(
  method: string,
  url: string,
  headers: Array<[string, string]>,
  body: Blob | FormData,
  signal: AbortSignal,
  onProgress: (loaded: number) => void,
): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(aborted());
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    const settle = (error?: UploadFailure) => {
      signal.removeEventListener("abort", abort);
      if (error) reject(error);
      else resolve(xhr);
    };
    xhr.open(method, url);
    for (const [name, value] of headers) if (!FORBIDDEN_HEADER.test(name)) xhr.setRequestHeader(name, value);
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

async function send(target: UploadTarget, file: Blob, contentType: string, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<void> {
  let body: Blob | FormData = file;
  let headers = Object.entries(target.headers ?? {});
  if (target.method === "POST") {
    // Multipart: the policy fields first, the file last (S3 ignores fields after `file`).
    body = new FormData();
    for (const [name, value] of Object.entries(target.fields ?? {})) body.append(name, value);
    body.append("file", file);
    // A POST's Content-Type carries the multipart boundary, which only the browser knows.
    headers = headers.filter(([name]) => name.toLowerCase() !== "content-type");
  } else if (!headers.some(([name]) => name.toLowerCase() === "content-type")) {
    headers.push(["Content-Type", contentType]);
  }
  await sendToStorage(target.method, target.url, headers, body, signal, onProgress);
}

async function sendPart(target: PartTarget, part: Blob, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<string | null> {
  const xhr = await sendToStorage(target.method, target.url, Object.entries(target.headers), part, signal, onProgress);
  // Read from the exposed headers: `getResponseHeader` logs an error for one CORS does not expose.
  return /^etag:\s*(.+?)\s*$/im.exec(xhr.getAllResponseHeaders())?.[1] ?? null;
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

const isUploadUrlAnswer = (body: unknown): body is UploadUrlResponse | MultipartUploadUrlResponse =>
  isUploadUrlResponse(body) || isMultipartUploadUrlResponse(body);

/** The browser's own `fetch` and `XMLHttpRequest`. */
export const browserTransport: Transport & ProcessingTransport = {
  requestTarget: (endpoint, request, signal) => postJson(endpoint, "/upload-url", request, isUploadUrlAnswer, signal),
  requestTargets: async (endpoint, requests, signal) => {
    const { uploads } = await postJson(endpoint, "/upload-url", { files: requests }, isUploadUrlBatchResponse, signal);
    if (uploads.length !== requests.length) throw new UploadFailure({ code: "bad_response" });
    return uploads;
  },
  send,
  signParts: (endpoint, request, signal) => postJson(endpoint, "/multipart/sign-parts", request, isSignPartsResponse, signal),
  listParts: (endpoint, request, signal) => postJson(endpoint, "/multipart/list-parts", request, isListPartsResponse, signal),
  completeMultipart: (endpoint, request, signal) => postJson(endpoint, "/multipart/complete", request, isCompleteMultipartResponse, signal),
  abortMultipart: async (endpoint, request) => {
    await postJson(endpoint, "/multipart/abort", request, anyBody, undefined, { keepalive: true });
  },
  sendPart,
  startProcessing: (endpoint, request, signal) => postJson(endpoint, "/process", request, isProcessingState, signal),
};
