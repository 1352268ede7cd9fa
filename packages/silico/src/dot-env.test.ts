import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { parseDotEnv } from "./dot-env.js";

describe("parseDotEnv", () => {
  it("reads NAME=value lines, export, quotes (also over several lines) and comments", () => {
    const text = [
      "\uFEFF# a comment",
      "",
      "A=plain value # a comment",
      "export B = 'single # kept'",
      'C="double" # a comment',
      'PEM="-----BEGIN KEY-----',
      "abc",
      '-----END KEY-----"',
      "D=",
      "E=x=y",
    ].join("\r\n");
    expect(Object.fromEntries(parseDotEnv(text, ".env"))).toEqual({
      A: "plain value",
      B: "single # kept",
      C: "double",
      PEM: "-----BEGIN KEY-----\nabc\n-----END KEY-----",
      D: "",
      E: "x=y",
    });
  });

  it("refuses every line it cannot read, by number, without values", () => {
    let thrown: unknown;
    try {
      parseDotEnv("KEY: sk-value-1\nKEY sk-value-2\n9KEY=sk-value-3\nsk-value-4\nX=1\nX=2\n", "/p/.env");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const e = thrown as ConfigError;
    expect(e.code).toBe("env_invalid");
    expect(e.message).toBe(
      [
        "5 lines of /p/.env cannot be read:",
        '  /p/.env:1: write KEY=value, not "KEY: value"',
        '  /p/.env:2: write KEY=value (the "=" is missing)',
        '  /p/.env:3: "9KEY" is not a variable name (letters, digits and _, not starting with a digit)',
        "  /p/.env:4: not a NAME=value line (a comment starts with #)",
        "  /p/.env:6: X is set again (first on line 5); keep one",
      ].join("\n"),
    );
    expect(e.message).not.toContain("sk-value");
  });

  it("a quote never closed is located at the line that opens it", () => {
    expect(() => parseDotEnv("A=1\nB='open\nno close\n", ".env")).toThrow(
      ".env:2: the value of B opens a quote (') that is never closed",
    );
  });
});
