import { verifyStoredObject } from "../commit/verify-object.js";
import type { Field } from "../registry.js";
import type { ProcessingContext, ProcessingStepResult, ResolvedStep } from "./types.js";

/** Longest rejection reason kept: it is shown in the form and travels in a NOTIFY payload. */
const MAX_REASON_LENGTH = 500;

/** Thrown when a step ran past its `timeoutSeconds`; counts as a failed attempt (retried, then `failed`). */
export class StepTimeoutError extends Error {
  override name = "StepTimeoutError";
}

/**
 * Runs one attempt of a step. Its signal aborts when the timeout is up or the worker stops, and the
 * attempt then ends at once even if `run` ignores the signal, so a hung step holds its worker slot
 * no longer than its timeout. Resolves with the rejection reason (or null when the file passed);
 * throws when the step threw, timed out or answered something that is neither.
 */
export async function runStepAttempt(
  step: ResolvedStep,
  context: Omit<ProcessingContext, "signal">,
  stop: AbortSignal,
): Promise<{ reject: string | null }> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new StepTimeoutError(`step "${step.name}" took longer than ${step.timeoutSeconds} s`)),
    step.timeoutSeconds * 1000,
  );
  const onStop = () => controller.abort(stop.reason ?? new Error("the worker stopped"));
  if (stop.aborted) onStop();
  else stop.addEventListener("abort", onStop, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(controller.signal.reason);
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener("abort", fail, { once: true });
  });
  try {
    const result = await Promise.race([Promise.resolve().then(() => step.run({ ...context, signal: controller.signal })), aborted]);
    return { reject: rejectionOf(step, result) };
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
  }
}

function rejectionOf(step: ResolvedStep, result: ProcessingStepResult | unknown): string | null {
  if (result === undefined || result === null) return null;
  const reject = (result as { reject?: unknown }).reject;
  if (typeof result === "object" && typeof reject === "string" && reject.trim() !== "") {
    return reject.trim().slice(0, MAX_REASON_LENGTH);
  }
  throw new TypeError(`step "${step.name}" resolved with ${JSON.stringify(result)}; expected nothing, or { reject: "a reason to show" }`);
}

/** The built-in first step: what commit checks (the object exists, its size is the declared one, its bytes fit `accept`). */
export function verifyStep(field: Field): ResolvedStep["run"] {
  return async (context) => {
    const verified = await verifyStoredObject(field, {
      key: context.key,
      declaredSize: context.size,
      contentType: context.contentType,
      originalFilename: context.filename,
    });
    return verified.ok ? undefined : { reject: verified.message };
  };
}
