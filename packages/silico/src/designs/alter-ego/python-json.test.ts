import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PyDict, PyFloat } from "@silico/jinja";
import { pyJsonLoads, pythonJsonDumps, toPlain } from "./python-json.js";
import { FIXTURES } from "./test-helpers.js";

/** [text, json.loads succeeded, json.dumps(json.loads(text)) or the exception name], made by CPython 3.11. */
const oracle = JSON.parse(readFileSync(join(FIXTURES, "json-expected.json"), "utf8")) as [
  string,
  boolean,
  string,
][];

describe("Python json.loads / json.dumps", () => {
  it.each(oracle)("%j: loads and dumps like CPython", (text, ok, dumped) => {
    const r = pyJsonLoads(text);
    expect(r.ok).toBe(ok);
    if (r.ok) expect(pythonJsonDumps(r.value)).toBe(dumped);
  });

  it("keeps Python's types: floats stay floats, big ints stay exact, dict order is kept", () => {
    const r = pyJsonLoads('{"2": 5.0, "1": 123456789012345678901234567890, "x": 0.5}');
    expect(r.ok).toBe(true);
    const d = (r as { value: PyDict }).value;
    expect(d).toBeInstanceOf(PyDict);
    expect(d.keys()).toEqual(["2", "1", "x"]);
    expect(d.get("2")).toBeInstanceOf(PyFloat);
    expect(d.get("1")).toBe(123456789012345678901234567890n);
    expect(toPlain(d)).toEqual({ 1: 1.2345678901234568e29, 2: 5, x: 0.5 });
  });

  it("encodes choices like alter_ego's export", () => {
    expect(pythonJsonDumps("ACCEPT")).toBe('"ACCEPT"');
    expect(pythonJsonDumps(PyDict.of([["keep", 4.2]]))).toBe('{"keep": 4.2}');
    expect(pythonJsonDumps(PyDict.of([["keep", new PyFloat(5)]]))).toBe('{"keep": 5.0}');
    expect(pythonJsonDumps(7)).toBe("7");
    expect(pythonJsonDumps(new PyFloat(5))).toBe("5.0");
    expect(pythonJsonDumps(null)).toBe("null");
    expect(pythonJsonDumps([1, "é", true])).toBe('[1, "\\u00e9", true]');
    expect(pythonJsonDumps("😀")).toBe('"\\ud83d\\ude00"');
    expect(pythonJsonDumps({ a: { b: [] } })).toBe('{"a": {"b": []}}');
    expect(pythonJsonDumps(1e22)).toBe("10000000000000000000000");
    expect(pythonJsonDumps(new PyFloat(1e22))).toBe("1e+22");
  });

  it("reports where the text stops being JSON", () => {
    const r = pyJsonLoads('{"keep": 4');
    expect(r.ok).toBe(false);
    expect((r as { error: string }).error).toMatch(/Expecting ',' delimiter: line 1 column 11/);
    expect((pyJsonLoads("The answer is 4") as { error: string }).error).toMatch(
      /^Expecting value: line 1 column 1/,
    );
  });
});
