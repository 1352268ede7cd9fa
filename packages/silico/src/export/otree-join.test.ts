import { describe, expect, it } from "vitest";
import { joinOnParticipantCode, parseWideExport } from "./otree-join.js";

const WIDE = [
  "participant.id_in_session,participant.code,ultimatum.1.player.offer",
  "1,aaaa1111,40",
  '2,bbbb2222,"50"',
  "",
].join("\n");

describe("joining silico's columns onto oTree's wide export", () => {
  it("matches rows on participant.code and leaves humans' silico columns empty", () => {
    const table = parseWideExport(WIDE);
    const joined = joinOnParticipantCode(
      table,
      new Map([["bbbb2222", { "silico.seat": "bot", "silico.model": "mock:x", "silico.calls": 3 }]]),
    );
    expect(joined.columns).toEqual([
      "participant.id_in_session",
      "participant.code",
      "ultimatum.1.player.offer",
      "silico.seat",
      "silico.model",
      "silico.calls",
    ]);
    expect(joined.rows).toEqual([
      ["1", "aaaa1111", "40", null, null, null],
      ["2", "bbbb2222", "50", "bot", "mock:x", 3],
    ]);
  });

  it("keeps a bot that oTree's export lacks as a row of its own", () => {
    const joined = joinOnParticipantCode(
      parseWideExport(WIDE),
      new Map([["cccc3333", { "silico.calls": 1 }]]),
    );
    expect(joined.rows).toHaveLength(3);
    expect(joined.rows[2]).toEqual([null, "cccc3333", null, 1]);
  });

  it("refuses a CSV that is not oTree's wide export", () => {
    expect(() => parseWideExport("a,b\n1,2\n")).toThrow(/participant\.code/);
  });
});
