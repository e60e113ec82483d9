import { eq } from "drizzle-orm";
import { PROCESSING_EVENT, VERIFY_STEP, uploadTopic, type ProcessingState, type ProcessingStateName } from "../../shared/processing.js";
import type { Database } from "../db/types.js";
import { asyncTempFile, type AsyncTempFile } from "../db/schema.js";
import type { Field } from "../registry.js";
import type { Publish } from "./types.js";

/** The processing columns of a row, as read under its lock. */
export type ProcessingRow = Pick<
  AsyncTempFile,
  "id" | "fieldId" | "principal" | "status" | "processingState" | "processingStep" | "processingReason" | "processingVersion"
>;

/** A change of one file's processing state. */
export interface StateChange {
  state: ProcessingStateName;
  step: string | null;
  reason: string | null;
}

/** The label of a step of `field` (`verify` is built in). */
export function labelOf(field: Field | undefined, step: string | null): string | null {
  if (step === null) return null;
  if (step === VERIFY_STEP.name) return VERIFY_STEP.label;
  return field?.processing.find((candidate) => candidate.name === step)?.label ?? step;
}

/** The wire form of a row's processing state; null when processing never started for it. */
export function processingStateOf(row: ProcessingRow, field: Field | undefined): ProcessingState | null {
  if (row.processingState === null) return null;
  return {
    fileId: row.id,
    state: row.processingState,
    step: row.processingStep,
    label: labelOf(field, row.processingStep),
    reason: row.processingReason,
    version: row.processingVersion,
  };
}

/**
 * Writes a state change on the locked row `row` inside `tx` (version + 1) and publishes it on
 * `upload:<fileId>` with the same `tx`, so the event leaves only if the change committed.
 */
export async function changeState(tx: Database, publish: Publish, field: Field | undefined, row: ProcessingRow, change: StateChange): Promise<ProcessingState> {
  const version = row.processingVersion + 1;
  await tx
    .update(asyncTempFile)
    .set({ processingState: change.state, processingStep: change.step, processingReason: change.reason, processingVersion: version })
    .where(eq(asyncTempFile.id, row.id));
  const state: ProcessingState = { fileId: row.id, ...change, label: labelOf(field, change.step), version };
  await publish(uploadTopic(row.id), PROCESSING_EVENT, state, { tx, version });
  return state;
}

/** Locks and reads one row's processing columns. */
export async function lockProcessingRow(tx: Database, where: { id: string } | { key: string }): Promise<ProcessingRow | undefined> {
  const [row] = await tx
    .select({
      id: asyncTempFile.id,
      fieldId: asyncTempFile.fieldId,
      principal: asyncTempFile.principal,
      status: asyncTempFile.status,
      processingState: asyncTempFile.processingState,
      processingStep: asyncTempFile.processingStep,
      processingReason: asyncTempFile.processingReason,
      processingVersion: asyncTempFile.processingVersion,
    })
    .from(asyncTempFile)
    .where("id" in where ? eq(asyncTempFile.id, where.id) : eq(asyncTempFile.key, where.key))
    .for("update");
  return row;
}
