import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, SilicoError, StudyError, TemplateError } from "../errors.js";
import { reportError } from "./report-error.js";

let written: string;
beforeEach(() => {
  written = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    written += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.SILICO_DEBUG;
});

const STACK_FRAME = /^\s+at /m;

describe("reportError", () => {
  it("bad input is exit 2, with the message alone", () => {
    expect(reportError(new StudyError([{ where: "s.yaml:3", message: "bad" }]))).toBe(2);
    expect(reportError(new ConfigError("bad_flag", "--limit must be a whole number"))).toBe(2);
    expect(reportError(new SilicoError("run_missing", 'no run "x"'))).toBe(2);
    expect(written).toBe(
      '1 problem in the study:\n  s.yaml:3: bad\n--limit must be a whole number\nerror: no run "x"\n',
    );
  });

  it("a template error that reaches the command is bad input too: located, exit 2", () => {
    expect(reportError(new TemplateError("s.yaml: prompt (line 4)", "No filter named 'nosuch'."))).toBe(2);
    expect(written).toBe("1 problem in the study:\n  s.yaml: prompt (line 4): No filter named 'nosuch'.\n");
  });

  it("a fault is exit 1, and no error prints a stack trace", () => {
    expect(reportError(new SilicoError("store_corrupt", "the store is damaged"))).toBe(1);
    expect(reportError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(1);
    const sqlite = Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
    expect(reportError(sqlite, { db: "runs.db" })).toBe(1);
    expect(reportError(new RangeError("Maximum call stack size exceeded"))).toBe(1);
    expect(reportError("a thrown string")).toBe(1);
    expect(written).not.toMatch(STACK_FRAME);
    expect(written).toContain("error: the store is damaged\n");
    expect(written).toContain("error: Cannot read properties of undefined (reading 'x')\n");
    expect(written).toContain("SILICO_DEBUG=1");
    expect(written).toContain("error: the store runs.db failed: disk I/O error (SQLITE_IOERR)\n");
    expect(written).toContain("error: the input is nested too deeply to process");
    expect(written).toContain("error: a thrown string\n");
  });

  it("SILICO_DEBUG=1 adds the stack trace", () => {
    process.env.SILICO_DEBUG = "1";
    expect(reportError(new TypeError("boom"))).toBe(1);
    expect(written).toMatch(/^error: boom\nTypeError: boom\n\s+at /);
  });

  it("keeps API keys out of what it prints, stack traces included", () => {
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = "sk-test-abcdefghijklmnop";
    process.env.SILICO_DEBUG = "1";
    try {
      reportError(new Error("request failed with key sk-test-abcdefghijklmnop"));
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
    expect(written).toContain("error: request failed with key ***");
    expect(written).not.toContain("sk-test-abcdefghijklmnop");
  });
});
