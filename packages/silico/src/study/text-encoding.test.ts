import { describe, expect, it } from "vitest";
import { decodeUtf8Text, firstInvalidUtf8, TextEncodingError } from "./text-encoding.js";

function refusal(bytes: Uint8Array): TextEncodingError {
  try {
    decodeUtf8Text(bytes);
  } catch (e) {
    if (e instanceof TextEncodingError) return e;
    throw e;
  }
  throw new Error("accepted");
}

describe("decodeUtf8Text", () => {
  it("decodes UTF-8, dropping a byte-order mark", () => {
    expect(decodeUtf8Text(Buffer.from("kind: x\nprompt: Café ’ 😀\n"))).toBe("kind: x\nprompt: Café ’ 😀\n");
    expect(decodeUtf8Text(Buffer.from("\uFEFFa: 1\n"))).toBe("a: 1\n");
    expect(decodeUtf8Text(new Uint8Array())).toBe("");
  });

  it("names the first bad byte with its line and column in characters", () => {
    const e = refusal(Buffer.concat([Buffer.from("a: 1\nb: ’é "), Buffer.from([0xe9]), Buffer.from("t\n")]));
    expect(e.message).toBe(
      "not UTF-8: byte 0xE9 at line 2, column 7 (the file looks like Latin-1 or Windows-1252); save it as UTF-8",
    );
    expect([e.line, e.column]).toEqual([2, 7]);
  });

  it("does not call a broken multi-byte sequence Latin-1", () => {
    const e = refusal(Buffer.from([0x61, 0xe2, 0x82, 0xe2, 0x82, 0xac]));
    expect(e.message).toBe("not UTF-8: byte 0xE2 at line 1, column 2; save it as UTF-8");
  });

  it("tells UTF-16 and UTF-32 by byte-order mark, and UTF-16 without one by its NUL bytes", () => {
    expect(refusal(Buffer.from("\uFEFFkind: x\n", "utf16le")).message).toContain(
      "UTF-16 LE (byte-order mark FF FE)",
    );
    expect(refusal(Buffer.from("\uFEFFkind: x\n", "utf16le").swap16()).message).toContain(
      "UTF-16 BE (byte-order mark FE FF)",
    );
    expect(refusal(Buffer.from("kind: factorial\n", "utf16le")).message).toContain(
      "UTF-16 LE (no byte-order mark",
    );
    expect(refusal(Buffer.from("kind: factorial\n", "utf16le").swap16()).message).toContain(
      "UTF-16 BE (no byte-order mark",
    );
    expect(refusal(Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0])).message).toContain("UTF-32 LE");
    expect(refusal(Buffer.from("kind: x\n", "utf16le")).line).toBeUndefined();
  });

  it("refuses a stray NUL byte in otherwise valid text", () => {
    expect(refusal(Buffer.from("a: 1\nb: x\u0000y\n")).message).toBe(
      "not a text file: NUL byte at line 2, column 5",
    );
  });
});

describe("firstInvalidUtf8", () => {
  it("agrees with a fatal TextDecoder on edge cases", () => {
    const cases: number[][] = [
      [0xc0, 0x80], // overlong
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf0, 0x9f, 0x98], // truncated
      [0xf0, 0x9f, 0x98, 0x80], // 😀
      [0xef, 0xbf, 0xbf],
      [0x80],
    ];
    for (const c of cases) {
      let valid = true;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(c));
      } catch {
        valid = false;
      }
      expect(firstInvalidUtf8(new Uint8Array(c)) === undefined, JSON.stringify(c)).toBe(valid);
    }
  });
});
