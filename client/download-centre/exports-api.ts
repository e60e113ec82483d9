import type { ExportListResponse, ExportQueuedResponse, ExportSummary } from "../../shared/exports.js";

/** A refused or failed request: the server's code and message when it sent `{error:{code,message}}`. */
export class ExportRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "ExportRequestError";
  }
}

/** The routes' URL of `path` under `endpoint` (`/async-uploads` + `/exports/…`). */
export function exportsUrl(endpoint: string, path = ""): string {
  return `${endpoint.replace(/\/+$/, "")}/exports${path}`;
}

/** `GET {base}/exports/{id}/file`: the download link of a succeeded export. */
export function fileUrl(endpoint: string, id: string): string {
  return exportsUrl(endpoint, `/${encodeURIComponent(id)}/file`);
}

/** Sends a request to the export routes; throws `ExportRequestError` for a network failure or a non-2xx answer. */
export async function send(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...init, headers: { Accept: "application/json", ...init.headers } });
  } catch {
    throw new ExportRequestError("network_error", "", null);
  }
  if (response.ok) return response;
  const body = (await response.json().catch(() => null)) as { error?: { code?: unknown; message?: unknown } } | null;
  const code = typeof body?.error?.code === "string" ? body.error.code : "server_error";
  const message = typeof body?.error?.message === "string" ? body.error.message : "";
  throw new ExportRequestError(code, message, response.status);
}

async function json<T>(response: Response, check: (body: unknown) => body is T): Promise<T> {
  const body: unknown = await response.json().catch(() => undefined);
  if (!check(body)) throw new ExportRequestError("bad_response", "The server sent an answer this page does not understand.", response.status);
  return body;
}

/** True for a value shaped like an `ExportSummary` (what the rows read). */
export function isSummary(value: unknown): value is ExportSummary {
  const item = value as Partial<ExportSummary> | null;
  return (
    typeof item === "object" &&
    item !== null &&
    typeof item.id === "string" &&
    typeof item.filename === "string" &&
    typeof item.status === "string" &&
    typeof item.version === "number"
  );
}

const isList = (body: unknown): body is ExportListResponse =>
  Array.isArray((body as ExportListResponse | null)?.exports) && (body as ExportListResponse).exports.every(isSummary);
const isQueued = (body: unknown): body is ExportQueuedResponse =>
  isSummary((body as ExportQueuedResponse | null)?.export) && typeof (body as ExportQueuedResponse).topicToken === "string";

/** `GET {base}/exports`: the person's exports, newest first. */
export async function listExports(endpoint: string): Promise<ExportSummary[]> {
  return (await json(await send(exportsUrl(endpoint)), isList)).exports;
}

/** `POST {base}/exports/{id}/cancel` or `/retry`: the updated export and a token to follow it. */
export async function exportAction(endpoint: string, id: string, action: "cancel" | "retry"): Promise<ExportQueuedResponse> {
  return json(await send(exportsUrl(endpoint, `/${encodeURIComponent(id)}/${action}`), { method: "POST" }), isQueued);
}

/** `DELETE {base}/exports/{id}`. */
export async function clearExport(endpoint: string, id: string): Promise<void> {
  await send(exportsUrl(endpoint, `/${encodeURIComponent(id)}`), { method: "DELETE" });
}

/** `POST {base}/exports`: 202 `{ queued }`, or 200 `{ file }` (the bytes now, with the name the server gave). */
export async function requestExport(
  endpoint: string,
  exportId: string,
  criteria: unknown,
): Promise<{ queued: ExportQueuedResponse } | { file: Blob; filename: string }> {
  const response = await send(exportsUrl(endpoint), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ exportId, criteria }),
  });
  if (response.status === 202) return { queued: await json(response, isQueued) };
  const file = await response.blob().catch(() => {
    throw new ExportRequestError("network_error", "", null);
  });
  return { file, filename: filenameOf(response.headers.get("Content-Disposition")) ?? `${exportId}` };
}

/** The file name of a `Content-Disposition` header (`filename*=UTF-8''…` first, then `filename="…"`). */
export function filenameOf(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1]);
    } catch {
      // a damaged encoding: fall back to the plain name
    }
  }
  const plain = /filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;]+)/i.exec(header);
  const name = plain?.[1] ?? plain?.[2];
  return name ? name.replace(/\\(.)/g, "$1").trim() : null;
}
