import { setTimeout as delay } from "node:timers/promises";
import type { FieldOptions } from "async-uploads/server";

type ProcessingStep = NonNullable<FieldOptions["processing"]>[number];

/**
 * The EICAR anti-virus test string (https://www.eicar.org/download-anti-malware-testfile/): harmless
 * bytes every scanner reports as a virus, so a demo can show a refusal without real malware.
 */
export const EICAR_TEST_STRING = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/** How much of a file the stand-in scan reads: the EICAR string must be at the start of a test file. */
const SCANNED_BYTES = 64 * 1024;

/**
 * The demo's stand-in for a virus scan, run on every attachment after it arrives (a real app would call
 * ClamAV or a scanning service here). It takes `seconds` so that the form visibly shows "Scanning for
 * viruses…" before "Ready", and refuses a file whose name contains "virus" or whose first bytes contain
 * the EICAR test string.
 */
export function demoScanStep(seconds: number): ProcessingStep {
  return {
    name: "scan",
    label: "Scanning for viruses",
    timeoutSeconds: Math.max(10, seconds * 4),
    async run({ filename, key, storage, signal }) {
      await delay(seconds * 1000, undefined, { signal });
      if (/virus/i.test(filename)) return { reject: `The name “${filename}” looks like a virus to this demo's scanner.` };
      const bytes = await storage.readFirstBytes(key, SCANNED_BYTES);
      if (bytes && Buffer.from(bytes).includes(EICAR_TEST_STRING)) return { reject: "The file contains the EICAR anti-virus test signature." };
      return undefined;
    },
  };
}
