import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import http from "node:http";
const url = process.argv[2]; const mode = process.argv[3]; const N = 5000; const C = 32;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function httpFetch(input, init = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(typeof input === "string" ? input : input.url ?? String(input));
    const headers = { ...(init.headers ?? {}) };
    const body = init.body;
    const r = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: init.method ?? "GET", agent, headers }, (resp) => {
      const chunks = []; resp.on("data", (d) => chunks.push(d)); resp.on("end", () => {
        const h = new Headers(); for (const [k, v] of Object.entries(resp.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : String(v));
        resolve(new Response(Buffer.concat(chunks), { status: resp.statusCode, statusText: resp.statusMessage, headers: h }));
      }); resp.on("error", reject);
    });
    r.on("error", reject); r.end(body);
  });
}
const p = createOpenAI({ apiKey: "x", baseURL: url, fetch: httpFetch }); const model = p.chat("silico-test");
async function one(i) {
  if (mode === "sdk") return generateText({ model, maxRetries: 0, temperature: 0.7, maxOutputTokens: 16, messages: [{ role: "user", content: `Item ${i}: how much would you pay for it, from 0 to 100? Answer with a number.` }] });
  if (mode === "sdkdo") return model.doGenerate({ prompt: [{ role: "user", content: [{ type: "text", text: `Item ${i}: how much would you pay for it, from 0 to 100? Answer with a number.` }] }], temperature: 0.7, maxOutputTokens: 16 });
}
let next = 0; const c0 = process.cpuUsage(); const t0 = performance.now();
await Promise.all(Array.from({ length: C }, async () => { while (next < N) await one(next++); }));
const c = process.cpuUsage(c0);
console.log(mode, "httpfetch cpu ms/call", ((c.user + c.system) / 1000 / N).toFixed(3), "calls/s", (N / ((performance.now() - t0) / 1000)).toFixed(0));
agent.destroy();
