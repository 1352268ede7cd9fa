import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { splitPrompt, toPromptContent } from "./prompt-parts.js";
import { cellValue } from "./stimulus-rows.js";
import { readStimulusTable, TableError } from "./stimulus-table.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "silico-table-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
}

describe("readStimulusTable", () => {
  it("reads a semicolon CSV with BOM, skipping blank rows and keeping record lines", () => {
    const t = readStimulusTable(
      write("s.csv", "\uFEFFRun;Item;Prompt\r\n\r\n1;1;a, b\r\n;;\r\n1;2;c\r\n"),
      "s.csv",
    );
    expect(t.delimiter).toBe(";");
    expect(t.header).toEqual(["Run", "Item", "Prompt"]);
    expect(t.rows.map((r) => [r.where, ...r.cells])).toEqual([
      ["s.csv:3", "1", "1", "a, b"],
      ["s.csv:5", "1", "2", "c"],
    ]);
  });

  it("reads .tsv files with tabs, and honours an explicit delimiter", () => {
    expect(readStimulusTable(write("s.tsv", "Run\tPrompt\n1\tx;y,z\n"), "s.tsv").rows[0]?.cells).toEqual([
      "1",
      "x;y,z",
    ]);
    expect(
      readStimulusTable(write("s.csv", "Run,Prompt;x\n1,a;b\n"), "s.csv", { delimiter: ";" }).header,
    ).toEqual(["Run,Prompt", "x"]);
  });

  it("locates encoding and quoting errors, and refuses unknown file types and sheet: for CSV", () => {
    const where = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (e instanceof TableError) return `${e.where}: ${e.message}`;
        throw e;
      }
      return "no error";
    };
    expect(
      where(() => readStimulusTable(write("a.csv", Buffer.from("Prompt\nok\ncaf\xe9\n", "latin1")), "a.csv")),
    ).toBe(
      "a.csv:3: not UTF-8: byte 0xE9 at line 3, column 4 (the file looks like Latin-1 or Windows-1252); save it as CSV UTF-8",
    );
    expect(where(() => readStimulusTable(write("b.csv", 'Prompt\n"open\n'), "b.csv"))).toBe(
      'b.csv:2: a quoted field is never closed (missing ")',
    );
    expect(where(() => readStimulusTable(write("c.json", "{}"), "c.json"))).toBe(
      "c.json: a stimulus file must be .csv, .tsv or .xlsx",
    );
    expect(where(() => readStimulusTable(write("d.csv", "Prompt\nx\n"), "d.csv", { sheet: "S" }))).toBe(
      "d.csv: sheet: only applies to .xlsx files",
    );
    expect(where(() => readStimulusTable(write("e.csv", "\n\n"), "e.csv"))).toMatch(
      /^e\.csv: the stimulus file is empty/,
    );
  });
});

describe("cellValue", () => {
  it("turns only canonical number spellings from CSV into numbers", () => {
    expect([cellValue("12", true), cellValue("0.5", true), cellValue("-3", true)]).toEqual([12, 0.5, -3]);
    expect([
      cellValue("007", true),
      cellValue("1e3", true),
      cellValue("1.50", true),
      cellValue("12", false),
    ]).toEqual(["007", "1e3", "1.50", "12"]);
    expect([cellValue("  ", true), cellValue(null, false), cellValue(true, false)]).toEqual([
      null,
      null,
      true,
    ]);
  });
});

describe("splitPrompt", () => {
  it("splits text and images, drops <text> wrappers, and merges neighbouring text", () => {
    write("a.jpg", "x");
    expect(splitPrompt("<text>Look: </text><IMG> a.jpg </IMG><text>now</text>!", dir)).toEqual([
      { type: "text", text: "Look: " },
      { type: "image", source: "a.jpg", path: join(dir, "a.jpg"), mediaType: "image/jpeg" },
      { type: "text", text: "now!" },
    ]);
    expect(splitPrompt("plain <b>text</b>", dir)).toEqual([{ type: "text", text: "plain <b>text</b>" }]);
    expect(splitPrompt("<img>data:image/png;base64,AAAA</img>", dir)).toEqual([
      { type: "image", source: "data:image/png;base64,AAAA", url: "data:image/png;base64,AAAA" },
    ]);
  });

  it("rejects empty, unclosed and non-http(s) image sources", () => {
    expect(() => splitPrompt("<img></img>", dir)).toThrow(/empty/);
    expect(() => splitPrompt("x <img>a.png", dir)).toThrow(/not closed/);
    expect(() => splitPrompt("<img>ftp://h/a.png</img>", dir)).toThrow(/only http\(s\) URLs or local files/);
  });

  it("sends text-only prompts as plain strings and reads local images when sending", () => {
    expect(toPromptContent(splitPrompt("<text>hi</text>", dir))).toBe("hi");
    write("p.gif", Buffer.from([1, 2, 3]));
    expect(toPromptContent(splitPrompt("<img>p.gif</img>", dir))).toEqual([
      { type: "image", data: "AQID", mediaType: "image/gif" },
    ]);
  });
});
