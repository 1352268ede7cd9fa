/** Test helpers: a raw HTTP client (to send any Host header) and a two-player game on the test server. */
import { request } from "node:http";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as received (binary downloads). */
  bytes: Buffer;
}

export function http(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: opts.method ?? "GET",
        headers: {
          host: `127.0.0.1:${port}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
            bytes: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A two-player coordination game: two treatments, two rounds, one choice stage. */
export function gameStudy(baseUrl: string, opts: { groups?: number; typo?: boolean } = {}): string {
  return `kind: game
name: coordination
seed: 5
groups: ${opts.groups ?? 4}
rounds: 2
model: ts:test-model
params: { max_tokens: 5 }
system: You are player {{ role }} in a coordination game.
roles:
  left: { count: 1 }
  right: { count: 1 }
treatments:
  low: { bonus: 1 }
  high: { bonus: 5 }
stages:
  - name: pick
    prompt: "Round {{ round }}. You earn {{ ${opts.typo ? "bonsu" : "bonus"} }} if you both pick the same. Pick A or B."
    parse: { type: choice, options: [A, B] }
payoffs:
  left: "bonus if me.pick == other.pick else 0"
  right: "bonus if me.pick == other.pick else 0"
providers:
  ts: { type: openai-compatible, base_url: "${baseUrl}", key_env: TESTSERVER_KEY }
`;
}
