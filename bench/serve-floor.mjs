#!/usr/bin/env node
/**
 * The floor of `npm run bench:serve -- --floor`: a bare node:http relay doing only the two HTTP
 * hops of a turn (the app's request in, one chat completion out to the model and back, the reply
 * out), with no store, executor or AI SDK. What it costs in CPU and latency on a machine is what
 * any Node service answering turns over HTTP costs there; silico serve's numbers are read
 * against it. argv[2]: the model server's base URL. Prints its own URL on the first line.
 */
import http from "node:http";

const base = process.argv[2]?.replace(/\/?$/, "/");
if (!base) {
  process.stderr.write("usage: serve-floor.mjs MODEL_BASE_URL\n");
  process.exit(2);
}
const target = new URL("chat/completions", base);
const agent = new http.Agent({ keepAlive: true });

function readAll(stream, done) {
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
}

const server = http.createServer((req, res) => {
  readAll(req, (text) => {
    const turn = JSON.parse(text);
    const body = JSON.stringify({
      model: "silico-test",
      messages: [
        { role: "system", content: "You chat with a participant of a study." },
        { role: "user", content: turn.message },
      ],
    });
    const call = http.request(
      target,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (answer) =>
        readAll(answer, (a) => {
          const reply = JSON.stringify({
            text: JSON.parse(a).choices[0].message.content,
            session_key: `${turn.participant}/${turn.turn}`,
          });
          res.writeHead(200, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(reply),
          });
          res.end(reply);
        }),
    );
    call.on("error", (e) => {
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: e.message }));
    });
    call.end(body);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`http://127.0.0.1:${server.address().port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
