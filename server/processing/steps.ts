import { PROCESSING_STEP_NAME, VERIFY_STEP } from "../../shared/processing.js";
import type { ProcessingStep, ResolvedStep } from "./types.js";

/** Defaults of a step's limits (the contract's). */
export const DEFAULT_STEP_TIMEOUT_SECONDS = 60;
export const DEFAULT_STEP_RETRY_LIMIT = 2;
/** Bounds that keep a typo from parking a job for days. */
const MAX_STEP_TIMEOUT_SECONDS = 3600;
const MAX_STEP_RETRY_LIMIT = 20;

/**
 * Checks a field's `processing` option at `register` time and fills in the defaults. Returns the
 * problem as a sentence (for the registry's error naming the field), or the resolved steps.
 */
export function resolveProcessingSteps(steps: unknown): { problem: string } | { steps: ResolvedStep[] } {
  if (steps === undefined) return { steps: [] };
  if (!Array.isArray(steps)) return { problem: "processing must be an array of steps ({ name, run })" };
  const resolved: ResolvedStep[] = [];
  for (const [index, step] of (steps as unknown[]).entries()) {
    const where = `processing[${index}]`;
    if (typeof step !== "object" || step === null) return { problem: `${where} must be an object with a name and a run function` };
    const { name, label, run, timeoutSeconds, retryLimit } = step as Partial<ProcessingStep>;
    if (typeof name !== "string" || !PROCESSING_STEP_NAME.test(name)) {
      return { problem: `${where}.name must be 1–41 lowercase letters, digits or -, starting with a letter (got ${JSON.stringify(name)})` };
    }
    if (name === VERIFY_STEP.name) return { problem: `${where}: "verify" is the built-in first step; give your step another name` };
    if (resolved.some((other) => other.name === name)) return { problem: `${where}: the step name "${name}" is used twice` };
    if (typeof run !== "function") return { problem: `${where} ("${name}"): run must be a function` };
    if (label !== undefined && (typeof label !== "string" || label.trim() === "" || label.length > 100)) {
      return { problem: `${where} ("${name}"): label must be a non-empty string of at most 100 characters` };
    }
    const timeout = timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
    if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_STEP_TIMEOUT_SECONDS) {
      return { problem: `${where} ("${name}"): timeoutSeconds must be a number of seconds above 0 and at most ${MAX_STEP_TIMEOUT_SECONDS}` };
    }
    const retries = retryLimit ?? DEFAULT_STEP_RETRY_LIMIT;
    if (!Number.isSafeInteger(retries) || retries < 0 || retries > MAX_STEP_RETRY_LIMIT) {
      return { problem: `${where} ("${name}"): retryLimit must be a whole number from 0 to ${MAX_STEP_RETRY_LIMIT}` };
    }
    resolved.push({ name, label: label ?? defaultLabel(name), run, timeoutSeconds: timeout, retryLimit: retries });
  }
  return { steps: resolved };
}

/** "virus-scan" → "Virus scan". */
function defaultLabel(name: string): string {
  const words = name.replace(/-+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The steps an upload of a field with `steps` goes through, the built-in `verify` first; none without app steps. */
export function plannedSteps(steps: readonly ResolvedStep[]): { name: string; label: string }[] {
  if (steps.length === 0) return [];
  return [{ name: VERIFY_STEP.name, label: VERIFY_STEP.label }, ...steps.map(({ name, label }) => ({ name, label }))];
}
