import { describe, expect, it } from "vitest";
import { CsvSyntaxError, decodeCsvBytes, detectDelimiter, parseCsv } from "./csv-reader.js";

const fields = (text: string, d?: "," | ";" | "\t") => parseCsv(text, d).records.map((r) => r.fields);
const lines = (text: string) => parseCsv(text).records.map((r) => r.line);

describe("parseCsv", () => {
  it("reads plain records with and without a final newline", () => {
    expect(fields("a,b\n1,2\n")).toEqual([
      ["a", "b"],
      ["1", "2"],
    ]);
    expect(fields("a,b\n1,2")).toEqual([
      ["a", "b"],
      ["1", "2"],
    ]);
    expect(fields("a,b\n1,\n")).toEqual([
      ["a", "b"],
      ["1", ""],
    ]);
  });

  it("handles quotes, doubled quotes, embedded delimiters and newlines, and reports where records start", () => {
    const text = 'Run,Prompt\n1,"He said ""hi"", then left"\n2,"line one\nline two\r\nline three"\n3,last\n';
    expect(fields(text)).toEqual([
      ["Run", "Prompt"],
      ["1", 'He said "hi", then left'],
      ["2", "line one\nline two\r\nline three"],
      ["3", "last"],
    ]);
    expect(lines(text)).toEqual([1, 2, 3, 6]);
  });

  it("strips a BOM and accepts CRLF and lone CR line ends", () => {
    expect(fields("\uFEFFRun,Item\r\n1,2\r\n")).toEqual([
      ["Run", "Item"],
      ["1", "2"],
    ]);
    expect(fields("a,b\r1,2\r")).toEqual([
      ["a", "b"],
      ["1", "2"],
    ]);
    expect(lines("a\r\n\r\nb\r\n")).toEqual([1, 2, 3]);
  });

  it("keeps a quote inside an unquoted field as text", () => {
    expect(fields('a,b\n1,say "x" now\n')[1]).toEqual(["1", 'say "x" now']);
  });

  it("rejects an unclosed quote at the line where it opens, and text after a closing quote", () => {
    const e1 = (() => {
      try {
        parseCsv('a,b\n1,2\n3,"never closed\nmore\n');
      } catch (e) {
        return e;
      }
    })() as CsvSyntaxError;
    expect(e1).toBeInstanceOf(CsvSyntaxError);
    expect(e1.line).toBe(3);
    expect(() => parseCsv('a,b\n1,"x"y\n')).toThrow(/after a closing quote/);
  });

  it("detects ; and tab delimiters from the header line, ignoring quoted ones", () => {
    expect(detectDelimiter("Run;Item;Prompt\n1;2;a, b, c")).toBe(";");
    expect(detectDelimiter("Run\tItem\tPrompt\n")).toBe("\t");
    expect(detectDelimiter('"a;b;c",d\n')).toBe(",");
    expect(detectDelimiter("single\n")).toBe(",");
    expect(fields("Run;Prompt\n1;a, b\n")).toEqual([
      ["Run", "Prompt"],
      ["1", "a, b"],
    ]);
  });
});

describe("decodeCsvBytes", () => {
  it("decodes UTF-8 and refuses UTF-16 and other encodings with the offending line", () => {
    expect(decodeCsvBytes(Buffer.from("Prompt\nCafé\n", "utf8"))).toBe("Prompt\nCafé\n");
    expect(() => decodeCsvBytes(Buffer.from("\uFEFFa", "utf16le"))).toThrow(/UTF-16/);
    const latin1 = Buffer.from("Prompt\nok\nCaf\xe9\n", "latin1");
    try {
      decodeCsvBytes(latin1);
      expect.unreachable();
    } catch (e) {
      expect((e as CsvSyntaxError).line).toBe(3);
      expect((e as Error).message).toBe(
        "not UTF-8: byte 0xE9 at line 3, column 4 (the file looks like Latin-1 or Windows-1252); save it as CSV UTF-8",
      );
    }
  });
});
