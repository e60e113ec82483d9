import type { Plugin } from "esbuild";
import { readFile } from "node:fs/promises";

/**
 * esbuild leaves the insides of template literals alone, so Lit's `css` and `html` templates keep
 * their indentation. This plugin collapses that whitespace (and CSS comments) in `css`, `html` and
 * `svg` tagged templates of our own sources; expressions (`${…}`) are kept as written, nested
 * templates are minified too. About a quarter of the component's own bytes.
 */
export function minifyTemplates(filter: RegExp): Plugin {
  return {
    name: "minify-lit-templates",
    setup(build) {
      build.onLoad({ filter }, async (args) => ({ contents: minifySource(await readFile(args.path, "utf8")), loader: "ts" }));
    },
  };
}

const TAG = /\b(css|html|svg)`/g;

/** Rewrites every tagged template in `source`. */
export function minifySource(source: string): string {
  let output = "";
  let copied = 0;
  TAG.lastIndex = 0;
  for (let match = TAG.exec(source); match; match = TAG.exec(source)) {
    const start = match.index + match[0].length;
    const end = templateEnd(source, start);
    output += source.slice(copied, start) + minifyTemplate(source.slice(start, end), match[1] === "css");
    copied = end;
    TAG.lastIndex = end;
  }
  return output + source.slice(copied);
}

/** Minifies the static parts of one template body (between the backticks). */
function minifyTemplate(body: string, isCss: boolean): string {
  let output = "";
  let index = 0;
  let text = "";
  while (index < body.length) {
    const char = body[index]!;
    if (char === "\\") {
      text += body.slice(index, index + 2);
      index += 2;
    } else if (char === "$" && body[index + 1] === "{") {
      const end = expressionEnd(body, index + 2);
      output += (isCss ? minifyCss(text) : minifyHtml(text)) + "${" + minifySource(body.slice(index + 2, end)) + "}";
      text = "";
      index = end + 1;
    } else {
      text += char;
      index++;
    }
  }
  return output + (isCss ? minifyCss(text) : minifyHtml(text));
}

function minifyCss(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\s+/g, " ")
    .replace(/\s*([{};,>])\s*/g, "$1")
    .replace(/:\s+/g, ":")
    .replace(/;}/g, "}")
    .replace(/([\s:(,])0\.(\d)/g, "$1.$2")
    .trim();
}

function minifyHtml(text: string): string {
  // Only whitespace that spans lines is formatting; spaces within a line may be meaningful.
  return text.replace(/>\s*\n\s*</g, "><").replace(/\s*\n\s*/g, " ");
}

/** Index of the closing backtick of a template whose body starts at `index`. */
function templateEnd(source: string, index: number): number {
  while (index < source.length) {
    const char = source[index];
    if (char === "\\") index += 2;
    else if (char === "`") return index;
    else if (char === "$" && source[index + 1] === "{") index = expressionEnd(source, index + 2) + 1;
    else index++;
  }
  throw new Error("minify-templates: unterminated template literal");
}

/** Index of the `}` that closes an expression starting at `index`, skipping strings and templates. */
function expressionEnd(source: string, index: number): number {
  let depth = 0;
  while (index < source.length) {
    const char = source[index]!;
    if (char === "{") depth++;
    else if (char === "}") {
      if (depth === 0) return index;
      depth--;
    } else if (char === '"' || char === "'") {
      index++;
      while (index < source.length && source[index] !== char) index += source[index] === "\\" ? 2 : 1;
    } else if (char === "`") {
      index = templateEnd(source, index + 1);
    }
    index++;
  }
  throw new Error("minify-templates: unterminated expression");
}
