import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

/** One table of a section, already formatted. */
export interface Table {
  caption?: string;
  headers: string[];
  rows: string[][];
}

/** What one bench script reports: the question it answers, how, and the figures. */
export interface Section {
  /** Order in RESULTS.md (the numbering). */
  order: number;
  title: string;
  /** How it was measured: processes, load, repeats. One bullet per line. */
  method: string[];
  tables: Table[];
  /** Ratios and observations worth a sentence (where we are behind, and why). */
  notes: string[];
  /** Rows for the summary at the top of RESULTS.md: [question, ours, peer, ours vs peer]. */
  headline: string[][];
  /** Seconds the script took. */
  seconds?: number;
}

export interface BenchArgs {
  /** A short smoke run: fewer repeats, shorter loads, smaller files. */
  quick: boolean;
  /** Where to write the section as JSON (used by run-all); printed as Markdown when absent. */
  json?: string;
}

export function benchArgs(): BenchArgs {
  const { values } = parseArgs({
    options: { quick: { type: "boolean", default: false }, json: { type: "string" } },
    allowPositionals: false,
    strict: true,
  });
  return { quick: values.quick ?? false, ...(values.json ? { json: values.json } : {}) };
}

/** Renders a table as GitHub Markdown. */
export function markdownTable(table: Table): string {
  const escape = (cell: string) => cell.replace(/\|/g, "\\|");
  const lines = [
    `| ${table.headers.map(escape).join(" | ")} |`,
    `|${table.headers.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...table.rows.map((row) => `| ${row.map(escape).join(" | ")} |`),
  ];
  return (table.caption ? `${table.caption}\n\n` : "") + lines.join("\n");
}

export function markdownSection(section: Section): string {
  const parts = [`## ${section.order}. ${section.title}`];
  if (section.method.length > 0) parts.push(section.method.map((line) => `- ${line}`).join("\n"));
  for (const table of section.tables) parts.push(markdownTable(table));
  if (section.notes.length > 0) parts.push(section.notes.map((line) => `> ${line}`).join("\n>\n"));
  if (section.seconds !== undefined) parts.push(`<sub>This section took ${Math.round(section.seconds)} s.</sub>`);
  return parts.join("\n\n");
}

/**
 * Runs a bench script's main function with its arguments, and hands its section to run-all (as JSON)
 * or prints it. Exits non-zero on failure so that `npm run bench` stops loudly.
 */
export async function runBench(main: (args: BenchArgs) => Promise<Section>): Promise<void> {
  const args = benchArgs();
  const started = performance.now();
  try {
    const section = await main(args);
    section.seconds = (performance.now() - started) / 1000;
    if (args.json) await writeFile(args.json, JSON.stringify(section, null, 2));
    else console.log(`\n${markdownSection(section)}\n`);
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}

/** A progress line on stderr, so a long run shows what it is doing. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
