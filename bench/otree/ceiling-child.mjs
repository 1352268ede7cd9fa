#!/usr/bin/env node
/**
 * One ceiling run of `npm run bench:otree` in its own process (ceiling.mjs): prints one JSON line.
 *
 *   node --experimental-websocket bench/otree/ceiling-child.mjs '{"baseUrl": "http://127.0.0.1:N", "config": "bench_pairs", "participants": 100}'
 */
import { runCeiling } from "./ceiling.mjs";
import { countRequests } from "./request-counter.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
// Counted the same way as the bots' requests, sockets included (the client's own count has none).
const requests = countRequests(config.baseUrl);
let line;
const cpu0 = process.cpuUsage();
try {
  line = await runCeiling(config);
  line.requests = requests();
  const cpu = process.cpuUsage(cpu0);
  // The scripted clients' own CPU: they share the machine's cores with oTree as the bots do.
  line.cpu_ms = (cpu.user + cpu.system) / 1000;
  if (line.completed !== line.participants) line.error = line.errors[0] ?? "not every participant finished";
} catch (err) {
  line = { error: String(err?.message ?? err) };
}
process.stdout.write(`${JSON.stringify(line)}\n`);
