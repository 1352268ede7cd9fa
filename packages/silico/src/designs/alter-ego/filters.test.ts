import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PyDict, PyFloat } from "@silico/jinja";
import { applyFilter, type FilterOutcome, filterParser } from "./filters.js";
import { pythonJsonDumps } from "./python-json.js";
import { FIXTURES } from "./test-helpers.js";

/** alter_ego 1.6.0's own extract_number / exclusive_response on these inputs: value, none (returned None) or raise. */
const oracle = JSON.parse(readFileSync(join(FIXTURES, "filters-expected.json"), "utf8")) as {
  extract_number: [string, "value" | "none" | "raise", string][];
  exclusive_response: [string, string, "value" | "none" | "raise", string][];
};

const kind = (o: FilterOutcome) => (o.ok ? "value" : o.none ? "none" : "raise");
const num = (text: string) => applyFilter({ name: "extract_number" }, text);
const excl = (text: string, tokens: string) =>
  applyFilter({ name: "exclusive_response", tokens: tokens.split(";") }, text);

/** Inputs where silico deliberately differs from alter_ego 1.6 (see the reference, §8.1 and §8.2). */
const NUMBER_DIFFERENCES: Record<string, string> = {
  "My answer is 17.": "17",
  "3.5": "3.5",
  "5.0": "5.0",
  "answer is 2.": "2",
  ".5": "0.5",
  "1,000": "1000",
  "1,234.5": "1234.5",
  "3e8": "300000000.0",
};
const CHOICE_DIFFERENCES: Record<string, ["value" | "none" | "raise", string]> = {
  "I UNACCEPTABLE": ["none", "null"], // substring match in alter_ego → ACCEPT
  "Token 10": ["none", "null"], // alter_ego: "Token 1" is a substring of "Token 10"
};

describe("extract_number", () => {
  it.each(oracle.extract_number)("%j (alter_ego: %s %s)", (text, egoKind, egoValue) => {
    const out = num(text);
    const differs = NUMBER_DIFFERENCES[text];
    if (differs !== undefined) {
      expect(kind(out)).toBe("value");
      expect(pythonJsonDumps((out as { value: unknown }).value)).toBe(differs);
    } else {
      expect(kind(out)).toBe(egoKind);
      if (out.ok) expect(pythonJsonDumps(out.value)).toBe(egoValue);
    }
  });

  it("parses the decimals alter_ego crashes on, keeping int versus float as Python would", () => {
    expect(num("3.5")).toEqual({ ok: true, value: 3.5 });
    expect((num("5.0") as { value: unknown }).value).toBeInstanceOf(PyFloat);
    expect(num("I give 7")).toEqual({ ok: true, value: 7 });
    expect(num("-12 dollars")).toEqual({ ok: true, value: -12 });
    expect(num("99999999999999999999")).toEqual({ ok: true, value: 99999999999999999999n });
  });

  it("needs exactly one number: none or two are invalid and record a null choice (alter_ego returns None)", () => {
    expect(num("OPTION 1 or OPTION 2")).toMatchObject({ ok: false, none: true });
    expect(num("OPTION 1, OPTION 1")).toMatchObject({ ok: false, none: true });
    expect(num("no number")).toMatchObject({ ok: false, none: true, reason: "no number found" });
  });
});

describe("exclusive_response", () => {
  it.each(oracle.exclusive_response)("%j with %s (alter_ego: %s %s)", (text, tokens, egoKind, egoValue) => {
    const out = excl(text, tokens);
    const differs = CHOICE_DIFFERENCES[text];
    const [k, v] = differs ?? [egoKind, egoValue];
    expect(kind(out)).toBe(k);
    if (out.ok) expect(pythonJsonDumps(out.value)).toBe(v);
  });

  it("matches whole words, case-insensitively, and returns the token as listed", () => {
    expect(excl("I UNACCEPTABLE", "ACCEPT;REJECT")).toMatchObject({ ok: false, none: true });
    expect(excl("unacceptable, so: reject", "ACCEPT;REJECT")).toEqual({ ok: true, value: "REJECT" });
    expect(excl("accept", "ACCEPT;REJECT")).toEqual({ ok: true, value: "ACCEPT" });
    expect(excl("Token  2 it is", "Token 1;Token 2")).toEqual({ ok: true, value: "Token 2" });
  });

  it("two different tokens are invalid without a recorded choice (alter_ego raises)", () => {
    expect(excl("ACCEPT, not REJECT", "ACCEPT;REJECT")).toMatchObject({ ok: false, none: false });
  });
});

describe("JSON and As is", () => {
  it("JSON is json.loads on the whole text; null returns None; prose raises", () => {
    const j = (t: string) => applyFilter({ name: "JSON" }, t);
    const keep = j('{"keep": 4.2}');
    expect(keep.ok && keep.value instanceof PyDict && keep.value.get("keep")).toBe(4.2);
    expect(j("null")).toMatchObject({ ok: false, none: true });
    expect(j('Sure! {"keep": 4}')).toMatchObject({ ok: false, none: false });
    expect(j('```json\n{"keep": 4}\n```')).toMatchObject({ ok: false, none: false });
    expect(j("[1, 2]")).toEqual({ ok: true, value: [1, 2] });
  });

  it("As is never fails, not even on an empty answer", () => {
    expect(applyFilter({ name: "As is" }, "")).toEqual({ ok: true, value: "" });
    expect(applyFilter({ name: "As is" }, " anything\n")).toEqual({ ok: true, value: " anything\n" });
  });

  it("as a parser, values are plain JSON for the store and nothing is constrained", () => {
    const p = filterParser({ name: "JSON" });
    expect(p.parse('{"keep": 5.0, "b": {"c": 1}}')).toEqual({ valid: true, value: { keep: 5, b: { c: 1 } } });
    expect(p.constraint).toBeUndefined();
    expect(filterParser({ name: "extract_number" }).parse("I keep 3.5")).toEqual({ valid: true, value: 3.5 });
    expect(filterParser({ name: "exclusive_response", tokens: ["A", "B"] }).parse("C")).toMatchObject({
      valid: false,
    });
    expect(filterParser({ name: "exclusive_response", tokens: ["A", "B"] }).describe()).toMatch(/A, B/);
  });
});
