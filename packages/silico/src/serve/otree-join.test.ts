import { describe, expect, it } from "vitest";
import type { AgentTurnRecord } from "../store/run-store.js";
import { joinOtreeAppExport } from "./otree-join.js";

// The header of a real oTree 6.0.15 per-app export (agent_pd of the example project).
const HEADER =
  "participant.id_in_session,participant.code,participant.label,participant._is_bot,player.id_in_group,player.payoff,player.choice,player.agent_choice,group.id_in_subsession,subsession.round_number,session.code";

const turn = (participant: string, round: number, extra: Partial<AgentTurnRecord> = {}): AgentTurnRecord => ({
  memoryKey: `s1/participant:${participant}/partner`,
  turnKey: `r${round}`,
  seq: round,
  sessionKey: `s1/participant:${participant}/partner/r${round}`,
  agent: "partner",
  otreeSession: "s1",
  participant,
  owner: `participant:${participant}`,
  app: "agent_pd",
  round,
  page: "Decide",
  memory: true,
  vars: {},
  prompt: `Round ${round}.`,
  reply: "DEFECT",
  value: "DEFECT",
  valid: true,
  reason: null,
  callId: round,
  createdAt: "",
  ...extra,
});

describe("joining agent turns with an oTree export", () => {
  const csv = [
    HEADER,
    "1,aaa,,0,1,0,COOPERATE,DEFECT,1,1,s1",
    "1,aaa,,0,1,8,DEFECT,DEFECT,1,2,s1",
    '2,bbb,"a, label",0,1,28,DEFECT,COOPERATE,2,1,s1',
    "",
  ].join("\n");

  it("gives each turn its participant's row of that round, on code, round and session", () => {
    const joined = joinOtreeAppExport([turn("aaa", 1), turn("aaa", 2), turn("bbb", 1)], csv, "agent_pd");
    expect(joined.unmatched).toBe(0);
    expect(
      joined.rows.map((r) => [r.participant, r.round, r.value, r["player.choice"], r["player.payoff"]]),
    ).toEqual([
      ["aaa", 1, "DEFECT", "COOPERATE", "0"],
      ["aaa", 2, "DEFECT", "DEFECT", "8"],
      ["bbb", 1, "DEFECT", "DEFECT", "28"],
    ]);
    expect(joined.rows[2]?.["participant.label"]).toBe("a, label");
    expect(joined.columns.slice(0, 5)).toEqual(["otree_session", "participant", "app", "round", "turn"]);
  });

  it("keeps turns the export lacks (left join) and counts them; other apps' turns are left out", () => {
    const joined = joinOtreeAppExport(
      [turn("aaa", 3), turn("aaa", 1, { otreeSession: "other" }), turn("aaa", 1, { app: "agent_chat" })],
      csv,
      "agent_pd",
    );
    expect(joined.rows).toHaveLength(2);
    expect(joined.unmatched).toBe(2);
    expect(joined.rows.every((r) => r["player.choice"] === null)).toBe(true);
  });

  it("refuses a file that is not a per-app export", () => {
    expect(() => joinOtreeAppExport([], "a,b\n1,2\n", "agent_pd")).toThrow(
      /participant\.code and subsession\.round_number/,
    );
  });
});
