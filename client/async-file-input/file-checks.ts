import { acceptEntryProblem, extensionOf, matchesAccept } from "../../shared/accept.js";
import { filenameProblem } from "../../shared/filename.js";
import { strings } from "./strings.js";

/** Why a file was refused before any request was made. */
export type RefusalCode = "empty_file" | "file_too_large" | "type_not_allowed" | "invalid_filename" | "folder" | "too_many_files";

export interface Refusal {
  code: RefusalCode;
  message: string;
  file?: File;
}

export interface FileRules {
  /** Parsed `accept`; empty allows everything. */
  accept: readonly string[];
  /** Bytes; 0 means no limit in the browser (the server still has one). */
  maxSize: number;
}

/** The `accept` attribute as a list, keeping only entries the server would understand too. */
export function parseAccept(accept: string): string[] {
  return accept
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "" && acceptEntryProblem(entry) === null);
}

/** The same checks the server makes when it issues an upload URL, so people learn at once. */
export function checkFile(file: File, rules: FileRules): Refusal | null {
  const refuse = (code: RefusalCode, message: string): Refusal => ({ code, message, file });
  if (filenameProblem(file.name)) return refuse("invalid_filename", strings.badName(file.name));
  if (file.size === 0) return refuse("empty_file", strings.emptyFile(file.name));
  if (rules.maxSize > 0 && file.size > rules.maxSize) return refuse("file_too_large", strings.tooLarge(file.name, rules.maxSize));
  if (!matchesAccept(rules.accept, { mime: file.type || "application/octet-stream", extension: extensionOf(file.name) })) {
    return refuse("type_not_allowed", strings.wrongType(file.name, rules.accept));
  }
  return null;
}

export interface SelectionRules extends FileRules {
  multiple: boolean;
  maxFiles: number;
  /** How many more files the field can take now. */
  room: number;
}

/**
 * Splits a selection (chosen, dropped or pasted) into files to upload and refusals, in the order a
 * person reads them: folders, then each refused file, then what did not fit.
 */
export function sortSelection(files: File[], folders: string[], rules: SelectionRules): { accepted: File[]; refusals: Refusal[] } {
  if (!rules.multiple && files.length + folders.length > 1) {
    return { accepted: [], refusals: [{ code: "too_many_files", message: strings.onlyOneFile }] };
  }
  const refusals: Refusal[] = folders.map((name) => ({ code: "folder", message: strings.folder(name) }));
  const accepted: File[] = [];
  for (const file of files) {
    const refusal = checkFile(file, rules);
    if (refusal) refusals.push(refusal);
    else accepted.push(file);
  }
  if (accepted.length > rules.room) {
    refusals.push({ code: "too_many_files", message: strings.tooManyFiles(rules.maxFiles, accepted.length - rules.room) });
  }
  return { accepted: accepted.slice(0, rules.room), refusals };
}

/**
 * Files and folders of a drop. Folders must be recognised while the event is being dispatched (the
 * entries are gone afterwards); a browser without `webkitGetAsEntry` gives only files.
 */
export function filesOfDrop(transfer: DataTransfer | null): { files: File[]; folders: string[] } {
  const files: File[] = [];
  const folders: string[] = [];
  if (!transfer) return { files, folders };
  const items = transfer.items ? [...transfer.items].filter((item) => item.kind === "file") : [];
  if (items.length === 0) return { files: [...transfer.files], folders };
  for (const item of items) {
    const entry = item.webkitGetAsEntry?.();
    const file = item.getAsFile();
    if (entry?.isDirectory) folders.push(entry.name);
    else if (file) files.push(file);
  }
  return { files, folders };
}
