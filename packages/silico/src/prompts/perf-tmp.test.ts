import { it } from "vitest";
import { compileTemplate, pyFloat } from "./template.js";

it("perf", () => {
  const src = `You are participant {{ id }} in round {{ round }} of {{ rounds }}.
{% if round > 1 %}Last round you kept {{ history[-1].keep }} and the other player kept {{ other.choices[-1].keep }}.
{% for h in history %}Round {{ loop.index }}: you {{ 'kept' if h.keep > 5 else 'gave' }} {{ h.keep }} ({{ '%.1f' % (h.keep / 10 * 100) }}%){% if not loop.last %}, {% endif %}{% endfor %}
{% endif %}You have {{ endowment }} points; your share is {{ (share * endowment)|round(1) }}. Options: {{ options|join(', ') }}.`;
  const t0 = performance.now();
  const t = compileTemplate(src, { where: "bench" });
  const t1 = performance.now();
  const ctx = {
    id: 7, round: 5, rounds: 10, endowment: 10, share: pyFloat(0.5),
    history: [{ keep: 3 }, { keep: 7 }, { keep: 4 }, { keep: 9 }],
    other: { choices: [{ keep: 2 }, { keep: 6 }] },
    options: ["A", "B", "C"],
  };
  let n = 0;
  const t2 = performance.now();
  for (let i = 0; i < 100_000; i++) n += t.render({ ...ctx, id: i }).length;
  const t3 = performance.now();
  console.log(`compile ${(t1 - t0).toFixed(2)}ms, 100k renders ${(t3 - t2).toFixed(0)}ms (${(((t3 - t2) / 100_000) * 1000).toFixed(1)}µs each), ${n}`);
  console.log(t.render(ctx));
});
