import { EXPORT_ID_PATTERN } from "../../shared/exports.js";
import { CONTENT_TYPE } from "../../shared/schemas.js";
import type { StorageDriver } from "../storage/types.js";
import type { ExportDefinition, ResolvedExport } from "./types.js";

/** The export types an app registered at start-up, by id. */
export class ExportRegistry {
  readonly #exports = new Map<string, ResolvedExport>();
  readonly #defaultStorage: StorageDriver;

  constructor(defaultStorage: StorageDriver) {
    this.#defaultStorage = defaultStorage;
  }

  /** Registers export type `id`; throws at start-up for a definition that could never work. */
  register<C>(id: string, definition: ExportDefinition<C>): void {
    const fail = (why: string): never => {
      throw new Error(`[async-uploads] export "${id}": ${why}`);
    };
    if (typeof id !== "string" || !EXPORT_ID_PATTERN.test(id)) fail("the id must be 1–100 letters, digits or . _ - (starting with a letter or digit)");
    if (this.#exports.has(id)) fail("is already registered");
    for (const name of ["criteria", "filename", "write"] as const) {
      if (typeof definition[name] !== "function") fail(`${name} must be a function`);
    }
    if (typeof definition.contentType !== "string" || !CONTENT_TYPE.test(definition.contentType)) fail("contentType must be a media type such as text/csv");
    const positive = (value: number | undefined, fallback: number, name: string, whole: boolean) => {
      const result = value ?? fallback;
      if (!Number.isFinite(result) || result < (name === "retryLimit" ? 0 : 1) || (whole && !Number.isSafeInteger(result))) {
        fail(`${name} must be a ${whole ? "whole " : ""}number${name === "retryLimit" ? " ≥ 0" : " ≥ 1"}`);
      }
      return result;
    };
    this.#exports.set(id, {
      id,
      canRequest: definition.canRequest ?? (() => true),
      criteria: definition.criteria,
      filename: definition.filename as (criteria: unknown) => string,
      contentType: definition.contentType,
      delay: (definition.delay as ResolvedExport["delay"] | undefined) ?? (() => true),
      write: definition.write as ResolvedExport["write"],
      storage: definition.storage ?? this.#defaultStorage,
      lifetimeSeconds: positive(definition.lifetimeSeconds, 86_400, "lifetimeSeconds", false),
      maxConcurrentPerPrincipal: positive(definition.maxConcurrentPerPrincipal, 3, "maxConcurrentPerPrincipal", true),
      retryLimit: positive(definition.retryLimit, 2, "retryLimit", true),
      timeoutSeconds: positive(definition.timeoutSeconds, 3600, "timeoutSeconds", false),
      generalLink: definition.generalLink ?? false,
      onReady: definition.onReady,
    });
  }

  get(id: string): ResolvedExport | undefined {
    return this.#exports.get(id);
  }

  all(): ResolvedExport[] {
    return [...this.#exports.values()];
  }

  /** Whether any export type is registered (an app without exports needs no export worker). */
  isEmpty(): boolean {
    return this.#exports.size === 0;
  }
}
