import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createHumanModel } from "./human-model.js";
import { type Message, ProviderError } from "./types.js";

function streams() {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = "";
  output.on("data", (d) => {
    printed += String(d);
  });
  return { input, output, printed: () => printed };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe("a human participant at the terminal", () => {
  it("prints the system prompt once per conversation, every prompt, and reads one line per answer", async () => {
    const io = streams();
    const human = createHumanModel("human", io);
    io.input.write("ACCEPT\nREJECT\n");
    const conv: Message[] = [
      { role: "system", content: "You are the responder." },
      { role: "user", content: "Round 1: the proposer keeps 6. ACCEPT or REJECT?" },
    ];
    const participant = { session: "g-1", id: "responder", role: "responder" };
    const a = await human.generate({ messages: conv, params: {}, participant });
    expect(a.choices).toEqual([{ text: "ACCEPT", finishReason: "stop" }]);
    conv.push(
      { role: "assistant", content: "ACCEPT" },
      { role: "user", content: "Round 2: the proposer keeps 9. ACCEPT or REJECT?" },
    );
    const b = await human.generate({ messages: conv, params: {}, participant });
    expect(b.choices[0]?.text).toBe("REJECT");
    const out = io.printed();
    expect(out.match(/You are the responder\./g)).toHaveLength(1);
    expect(out).toContain("Round 1: the proposer keeps 6.");
    expect(out).toContain("Round 2: the proposer keeps 9.");
    expect(out).toContain("you are responder · session g-1");
    // The person's own answers are not echoed back.
    expect(out).not.toContain("ACCEPT\n\nRound 2");
    expect(out.indexOf("Round 1")).toBeLessThan(out.indexOf("Round 2"));
    await human.close?.();
  });

  it("names the participant and role when one person plays several", async () => {
    const io = streams();
    const human = createHumanModel("human:lab", io);
    io.input.write("5\nACCEPT\n");
    await human.generate({
      messages: [{ role: "user", content: "How much do you keep?" }],
      params: {},
      participant: { session: "s1", id: "proposer1", role: "proposer" },
    });
    await human.generate({
      messages: [{ role: "user", content: "Accept?" }],
      params: {},
      participant: { session: "s1", id: "responder1", role: "responder" },
    });
    expect(io.printed()).toMatch(/human:lab — you are proposer1 \(proposer\)[^\n]*new conversation/);
    expect(io.printed()).toMatch(/human:lab — you are responder1 \(responder\)/);
    await human.close?.();
  });

  it("asks one question at a time when several wait", async () => {
    const io = streams();
    const human = createHumanModel("human", io);
    const first = human.generate({ messages: [{ role: "user", content: "Question A" }], params: {} });
    const second = human.generate({ messages: [{ role: "user", content: "Question B" }], params: {} });
    await tick();
    expect(io.printed()).toContain("Question A");
    expect(io.printed()).not.toContain("Question B");
    io.input.write("a\n");
    expect((await first).choices[0]?.text).toBe("a");
    await tick();
    expect(io.printed()).toContain("Question B");
    io.input.write("b\n");
    expect((await second).choices[0]?.text).toBe("b");
    await human.close?.();
  });

  it("tells conversations apart by their history when the caller does not say who is asked", async () => {
    const io = streams();
    const human = createHumanModel("human", io);
    io.input.write("1\n2\n3\n");
    const sysA: Message = { role: "system", content: "You are A." };
    const sysB: Message = { role: "system", content: "You are B." };
    await human.generate({ messages: [sysA, { role: "user", content: "qA1" }], params: {} });
    await human.generate({ messages: [sysB, { role: "user", content: "qB1" }], params: {} });
    await human.generate({
      messages: [
        sysA,
        { role: "user", content: "qA1" },
        { role: "assistant", content: "1" },
        { role: "user", content: "qA2" },
      ],
      params: {},
    });
    const out = io.printed();
    expect(out.match(/You are A\./g)).toHaveLength(1);
    expect(out).toMatch(/conversation 1[^\n]*━━\n\n\[instructions\]\nYou are A\./);
    expect(out).toMatch(/conversation 2/);
    expect(out).toMatch(/conversation 1 ━━\n\nqA2/);
    await human.close?.();
  });

  it("stops the run with a clear error when the input ends", async () => {
    const io = streams();
    const human = createHumanModel("human", io);
    io.input.end("only one\n");
    await human.generate({ messages: [{ role: "user", content: "q1" }], params: {} });
    const err = await human
      .generate({ messages: [{ role: "user", content: "q2" }], params: {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).fatal).toBe(true);
    expect((err as ProviderError).isRetryable).toBe(false);
    expect((err as Error).message).toMatch(/input ended \(EOF on standard input\).*1 answer was read/);
    await human.close?.();
  });

  it("shares one reader between models on the same input and lets go of it when all are closed", async () => {
    const io = streams();
    const a = createHumanModel("human:a", io);
    const b = createHumanModel("human:b", io);
    io.input.write("x\ny\n");
    expect(
      (await a.generate({ messages: [{ role: "user", content: "to a" }], params: {} })).choices[0]?.text,
    ).toBe("x");
    expect(
      (await b.generate({ messages: [{ role: "user", content: "to b" }], params: {} })).choices[0]?.text,
    ).toBe("y");
    expect(io.input.listenerCount("data")).toBeGreaterThan(0);
    await a.close?.();
    expect(io.input.listenerCount("data")).toBeGreaterThan(0);
    await b.close?.();
    expect(io.input.listenerCount("data")).toBe(0);
  });
});
