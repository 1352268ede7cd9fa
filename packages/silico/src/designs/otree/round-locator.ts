import { parseCsv } from "../stimuli/csv-reader.js";
import { placeOf } from "./page-answer.js";

/**
 * What oTree numbers a participant's pages by: its apps in order with their rounds, and the number
 * of pages of the whole session. Read once per process from oTree's wide export of the session.
 */
export interface RoundLayout {
  apps: { name: string; rounds: number }[];
  /** `participant._max_page_index`: every page of every round of every app (wait pages too). */
  totalPages: number;
}

/**
 * The layout from oTree's wide export (`/api/export_wide?session_code=…`): rounds per app from its
 * `{app}.{round}.…` columns (oTree creates every round's rows when the session is created), the
 * page count from `participant._max_page_index`. Undefined when the export does not say.
 */
export function roundLayoutFromWide(csv: string, appSequence: string[]): RoundLayout | undefined {
  const records = parseCsv(csv.replace(/^\uFEFF/, "")).records.map((r) => r.fields);
  const [header, first] = records;
  if (!header || !first) return undefined;
  const totalAt = header.indexOf("participant._max_page_index");
  const totalPages = Number(first[totalAt]);
  if (totalAt < 0 || !Number.isInteger(totalPages) || totalPages < 1) return undefined;
  const rounds = new Map<string, number>();
  for (const column of header) {
    const m = /^([^.]+)\.(\d+)\.(player|group|subsession)\./.exec(column);
    if (!m) continue;
    rounds.set(m[1] as string, Math.max(rounds.get(m[1] as string) ?? 0, Number(m[2])));
  }
  const apps = appSequence.map((name) => ({ name, rounds: rounds.get(name) ?? 0 }));
  if (apps.length === 0 || apps.some((a) => a.rounds < 1)) return undefined;
  return { apps, totalPages };
}

/** Above this many pages the boundaries are not searched (the per-page count is used instead). */
const MAX_PAGES = 3_000;

/**
 * Steps one search may take (under 100 ms), and all searches of a run together: every bot waits
 * while one runs. A session that needs more gives the search up for good; its rounds are then
 * counted per page.
 */
const SEARCH_BUDGET = 500_000;
const TOTAL_BUDGET = 10_000_000;

/**
 * The round of a page from its URL's page index, without oTree's debug panel (production servers
 * hide it). oTree numbers a participant's pages 1…N over every app, every round, every page of the
 * app's page_sequence (skipped and wait pages included), the same for every participant of the
 * session. The layout gives each app's rounds and N, not the pages per round; those follow from
 * where the pages are: every bot of the run reports the pages it sees (index, app, page class),
 * and the app boundaries that fit all of them — a page class at the same place of every round —
 * are searched. A round is given only when every boundary that fits gives the same one.
 */
export class RoundLocator {
  /** Per app (by position in the layout): page index → page class name, as seen. */
  readonly #seen: Map<number, string>[];
  readonly #index = new Map<string, number>();
  /** Per app: the one (start, end) that fits, once it is the only one. */
  readonly #solved = new Map<number, { start: number; end: number }>();
  /** Page index → round, once known for sure. */
  readonly #known = new Map<number, number>();
  #version = 0;
  #pairsVersion = -1;
  #givenUp = false;
  #spent = 0;
  #pairs: { start: number; end: number }[][] = [];

  constructor(readonly layout: RoundLayout) {
    this.#seen = layout.apps.map(() => new Map());
    layout.apps.forEach((a, i) => {
      this.#index.set(a.name, i);
    });
  }

  /** A page a bot was shown (its URL `/p/{code}/{app}/{Page}/{index}`). */
  observe(url: string): void {
    const place = placeOf(url);
    const k = this.#index.get(place.app);
    if (k === undefined || place.index < 1) return;
    const seen = this.#seen[k] as Map<number, string>;
    if (seen.get(place.index) === place.page) return;
    seen.set(place.index, place.page);
    this.#version++;
  }

  /** The round of the page at this URL, or undefined when the pages seen so far leave it open. */
  roundOf(url: string): number | undefined {
    const place = placeOf(url);
    const k = this.#index.get(place.app);
    if (k === undefined || place.index < 1) return undefined;
    const app = this.layout.apps[k] as { rounds: number };
    if (app.rounds === 1) return 1;
    const known = this.#known.get(place.index);
    if (known !== undefined) return known;
    const fixed = this.#solved.get(k);
    const candidates = fixed ? [fixed] : this.#candidates(k);
    let round: number | undefined;
    for (const { start, end } of candidates) {
      if (place.index <= start || place.index > end) continue;
      const perRound = (end - start) / app.rounds;
      const r = 1 + Math.floor((place.index - start - 1) / perRound);
      if (round !== undefined && r !== round) return undefined;
      round = r;
    }
    if (round !== undefined) this.#known.set(place.index, round);
    return round;
  }

  /** Every (start, end] of app k that fits the layout and every page seen, over all apps. */
  #candidates(k: number): { start: number; end: number }[] {
    if (this.#givenUp) return [];
    if (this.#pairsVersion !== this.#version) {
      const solved = this.#solve();
      if (solved === undefined) {
        this.#givenUp = true;
        return [];
      }
      this.#pairs = solved;
      this.#pairsVersion = this.#version;
      this.#pairs.forEach((pairs, i) => {
        if (pairs.length === 1) this.#solved.set(i, pairs[0] as { start: number; end: number });
      });
    }
    return this.#pairs[k] ?? [];
  }

  /** Undefined when the search is over budget (or the session too long) to be worth it. */
  #solve(): { start: number; end: number }[][] | undefined {
    const { apps, totalPages: total } = this.layout;
    if (total > MAX_PAGES) return undefined;
    let steps = 0;
    const fits = (k: number, start: number, end: number): boolean => {
      const step = 1 + (this.#seen[k]?.size ?? 0);
      steps += step;
      this.#spent += step;
      if (steps > SEARCH_BUDGET || this.#spent > TOTAL_BUDGET) throw OVER_BUDGET;
      const rounds = (apps[k] as { rounds: number }).rounds;
      const length = end - start;
      if (length < rounds || length % rounds !== 0) return false;
      const perRound = length / rounds;
      const at = new Map<number, string>();
      for (const [index, page] of this.#seen[k] as Map<number, string>) {
        if (index <= start || index > end) return false;
        const pos = (index - start - 1) % perRound;
        const there = at.get(pos);
        if (there !== undefined && there !== page) return false;
        at.set(pos, page);
      }
      return true;
    };
    try {
      return this.#search(fits);
    } catch (e) {
      if (e === OVER_BUDGET) return undefined;
      throw e;
    }
  }

  #search(fits: (k: number, start: number, end: number) => boolean): { start: number; end: number }[][] {
    const { apps, totalPages: total } = this.layout;
    const n = apps.length;
    const rounds = apps.map((a) => a.rounds);
    const lo = this.#seen.map((seen) => (seen.size > 0 ? Math.min(...seen.keys()) : undefined));
    const hi = this.#seen.map((seen) => (seen.size > 0 ? Math.max(...seen.keys()) : undefined));
    // Bounds that need no search: every app has at least one page a round, and an app ends before
    // the first page seen of any later app and after the last page seen of its own.
    const endMax = apps.map((_, k) => {
      let between = 0; // pages the apps after k and before j need at least
      let max = total;
      for (let j = k + 1; j < n; j++) {
        const first = lo[j];
        if (first !== undefined) max = Math.min(max, first - 1 - between);
        between += rounds[j] as number;
      }
      return Math.min(max, total - between);
    });
    // Pairs that fit, from starts reachable from the first page (forward) …
    const fitting: { start: number; end: number }[][] = apps.map(() => []);
    let starts = new Set([0]);
    for (let k = 0; k < n; k++) {
      const ends = new Set<number>();
      const r = rounds[k] as number;
      for (const start of starts) {
        if (lo[k] !== undefined && start >= (lo[k] as number)) continue;
        const from = Math.max(start + r, hi[k] ?? 0);
        for (let end = start + r * Math.ceil((from - start) / r); end <= (endMax[k] as number); end += r) {
          if (!fits(k, start, end)) continue;
          fitting[k]?.push({ start, end });
          ends.add(end);
        }
      }
      starts = ends;
    }
    // … that also reach the last page (backward).
    const pairs: { start: number; end: number }[][] = apps.map(() => []);
    let reach = new Set([total]);
    for (let k = n - 1; k >= 0; k--) {
      pairs[k] = (fitting[k] ?? []).filter((p) => reach.has(p.end));
      reach = new Set(pairs[k]?.map((p) => p.start));
    }
    return pairs;
  }
}

const OVER_BUDGET = Symbol("over budget");
