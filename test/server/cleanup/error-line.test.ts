import { describe, expect, it } from "vitest";
import { errorLine } from "../../../server/cleanup/error-line";

describe("errorLine", () => {
  it("joins an error's message with its causes' where they add something, on one line", () => {
    const cause = new Error("connect ECONNREFUSED\n127.0.0.1:5432");
    expect(errorLine(new Error("Failed query: select 1", { cause }))).toBe("Failed query: select 1: connect ECONNREFUSED 127.0.0.1:5432");
    expect(errorLine(new Error("storage down: timeout", { cause: new Error("timeout") }))).toBe("storage down: timeout");
    expect(errorLine("plain text")).toBe("plain text");
  });

  it("names an error without a message by its inner errors, its code or its name", () => {
    expect(errorLine(new AggregateError([new Error("a"), new Error("b")], ""))).toBe("a; b");
    expect(errorLine(Object.assign(new Error(""), { code: "ECONNRESET" }))).toBe("ECONNRESET");
    expect(errorLine(new TypeError(""))).toBe("TypeError");
  });

  it("says what to do about the Node.js errors the command meets", () => {
    const unknownOption = Object.assign(new TypeError("Unknown option '--bogus'. To specify a positional argument starting with a '-', …"), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
    expect(errorLine(unknownOption)).toBe("unknown option --bogus");
    const typescript = Object.assign(new TypeError('Unknown file extension ".ts" for /app/cleanup.config.ts'), { code: "ERR_UNKNOWN_FILE_EXTENSION" });
    expect(errorLine(typescript)).toMatch(/cannot import TypeScript: use Node\.js 22\.18 or newer/);
    const syntax = new SyntaxError("Unexpected token '}'");
    syntax.stack = "/app/cleanup.config.js:3\n}\n^\n\nSyntaxError: Unexpected token '}'";
    expect(errorLine(syntax)).toBe("Unexpected token '}' (line 3)");
  });
});
