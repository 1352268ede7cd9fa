import { readDataFile } from "../data-files.js";
import type { RateLimitInfo } from "../models/rate-limit-headers.js";
import { splitModelId } from "../models/registry.js";

export interface Limits {
  maxInFlight: number;
  rpm: number | null;
  tpm: number | null;
}

interface ProviderDefaults extends Limits {
  adaptive: boolean;
  ceiling: number;
}

interface LimitsFile {
  defaults: ProviderDefaults;
  providers: Record<string, Partial<ProviderDefaults>>;
}

let limitsFile: LimitsFile | undefined;

/**
 * The data file's entry for a model's provider: by the provider's name, else (a provider a study
 * defines, e.g. `ts: {type: openai-compatible}`) by its type.
 */
function providerDefaults(modelId: string, providerType?: string): ProviderDefaults {
  limitsFile ??= readDataFile<LimitsFile>("provider-limits.json");
  const provider = splitModelId(modelId)?.provider ?? "";
  const entry =
    limitsFile.providers[provider] ?? (providerType ? limitsFile.providers[providerType] : undefined);
  return { ...limitsFile.defaults, ...(entry ?? {}) };
}

/**
 * How one model's calls are limited. `start` is where the limiter begins (the provider's data-file
 * defaults); `caps` are the limits the user set (study settings, CLI flags), which nothing exceeds.
 */
export interface LimiterPolicy {
  start: Limits;
  caps: Partial<Limits>;
  /** Concurrency follows latency and 429s (else it stays at start.maxInFlight, halved on 429s). */
  adaptive: boolean;
  /** The most calls in flight adaptive growth reaches when the user set no maxInFlight. */
  ceiling: number;
}

export function limiterPolicyFor(
  modelId: string,
  userLimits: Partial<Limits> | undefined,
  providerType?: string,
): LimiterPolicy {
  const d = providerDefaults(modelId, providerType);
  const caps: Partial<Limits> = {};
  if (userLimits?.maxInFlight !== undefined) caps.maxInFlight = userLimits.maxInFlight;
  if (userLimits?.rpm !== undefined) caps.rpm = userLimits.rpm;
  if (userLimits?.tpm !== undefined) caps.tpm = userLimits.tpm;
  return {
    // A limit the user set replaces the provider default as the starting point too.
    start: {
      maxInFlight: caps.maxInFlight ?? d.maxInFlight,
      rpm: caps.rpm !== undefined ? caps.rpm : d.rpm,
      tpm: caps.tpm !== undefined ? caps.tpm : d.tpm,
    },
    caps,
    adaptive: d.adaptive,
    ceiling: d.ceiling,
  };
}

/** The most calls a limiter with this policy ever allows at once. */
export function maxConcurrencyOf(policy: LimiterPolicy): number {
  if (policy.caps.maxInFlight !== undefined) return policy.caps.maxInFlight;
  return policy.adaptive ? Math.max(policy.ceiling, policy.start.maxInFlight) : policy.start.maxInFlight;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Latency within this factor of the best seen counts as holding: concurrency may grow. */
const HOLD = 1.25;
/** Latency beyond this factor of the best seen means a queue is building: concurrency shrinks. */
const GROWN = 1.5;
/** Headroom kept above the concurrency the latency says the server serves at once. */
const HEADROOM = 1.1;
/**
 * The first call goes alone, so that a provider's rate-limit headers set the pacing before a
 * burst meets its limit; if no answer has come after this long, the rest start anyway.
 */
const PROBE_MS = 500;

/**
 * Client-side rate limiting for one model: at most `allowed` calls at once, requests paced to an
 * RPM, tokens to a TPM (estimated before a call, corrected from usage after).
 *
 * Adaptive (the default for API providers): concurrency starts at the provider default and is
 * revised once per epoch — about one round trip, the completions of calls started after the last
 * change. While their mean latency holds near the best seen and the limit was reached, it grows
 * (×4 until the first sign of congestion, then by 10 %); when latency grows it shrinks to what the
 * latency says the server serves at once (Little's law), plus headroom; a 429 halves it (once per
 * epoch) unless the provider states its limit. Rate-limit headers set the pacing:
 * `limit-requests`/`limit-tokens` become the RPM/TPM paced to, and a `remaining` count used up
 * holds new calls until its `reset`; the first call goes alone so that they are known before a
 * burst. Limits the user set are hard caps over all of this.
 *
 * A 429 also pauses the whole provider (shared `ProviderGate`).
 */
export class ModelLimiter {
  private inFlight = 0;
  private allowed: number;
  private readonly cap: number;
  private readonly waiters: (() => void)[] = [];
  private nextRequestAt = 0;
  private tokenLevel: number;
  private tokenStamp = Date.now();
  private successes = 0;
  /** Pacing in force: the user's cap, else what headers said, else the provider default. */
  private rpm: number | null;
  private tpm: number | null;
  // Adaptive state.
  private seq = 0;
  private changedAtSeq = 0;
  private epochLatency = 0;
  private epochCount = 0;
  private saturated = false;
  private rateLimitedInEpoch = false;
  private slowStart = true;
  private bestLatency = Number.POSITIVE_INFINITY;
  /** The newest header reading: remaining requests as of call number `seq`, valid until `until`. */
  private budget: { remaining: number; seq: number; until: number } | undefined;
  private budgetSeq = -1;
  /** The provider stated its request limit in headers: 429s are pacing's business, not concurrency's. */
  private pacedByHeaders = false;
  private probing: boolean;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly policy: LimiterPolicy,
    private readonly gate: ProviderGate,
  ) {
    this.cap = maxConcurrencyOf(policy);
    this.allowed = Math.min(this.cap, policy.start.maxInFlight);
    this.rpm = policy.start.rpm;
    this.tpm = policy.start.tpm;
    this.tokenLevel = this.tpm ?? 0;
    this.probing = policy.adaptive && policy.caps.maxInFlight === undefined;
  }

  private endProbe(): void {
    if (!this.probing) return;
    this.probing = false;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.wakeOne();
  }

  /** Calls allowed in flight now. */
  get currentConcurrency(): number {
    return Math.floor(this.allowed);
  }

  /** The most calls this limiter will ever allow at once (the executor starts that many workers). */
  get maxConcurrency(): number {
    return this.cap;
  }

  /** Pacing in force (requests and tokens per minute; null = none). */
  get pacing(): { rpm: number | null; tpm: number | null } {
    return { rpm: this.rpm, tpm: this.tpm };
  }

  /** Waits for a slot; returns the call's number, to hand back to onSuccess / onRateLimited. */
  async acquire(estimatedTokens: number): Promise<number> {
    if (this.probing && !this.probeTimer) {
      this.probeTimer = setTimeout(() => this.endProbe(), PROBE_MS);
      this.probeTimer.unref();
    }
    while (this.inFlight >= this.slots()) {
      this.saturated = true;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.inFlight++;
    try {
      await this.gate.wait();
      await this.waitForBudget();
      await this.paceRequest();
      await this.paceTokens(estimatedTokens);
    } catch (e) {
      this.release(0, 0);
      throw e;
    }
    return ++this.seq;
  }

  /** `actualTokens` corrects the estimate taken in acquire. */
  release(estimatedTokens: number, actualTokens: number): void {
    this.inFlight--;
    if (this.tpm) this.tokenLevel -= actualTokens - estimatedTokens;
    // Whatever the first call's outcome, the probe is over once it is back.
    this.endProbe();
    this.wakeOne();
  }

  private slots(): number {
    return this.probing ? 1 : Math.floor(this.allowed);
  }

  private wakeOne(): void {
    while (this.waiters.length > 0 && this.inFlight < this.slots()) {
      this.waiters.shift()?.();
    }
  }

  /** A call answered: `latencyMs` is its HTTP time, `seq` what acquire returned. */
  onSuccess(latencyMs?: number, seq?: number, rateLimit?: RateLimitInfo): void {
    if (rateLimit) this.observe(rateLimit, seq);
    if (!this.policy.adaptive || latencyMs === undefined || seq === undefined) {
      if (this.allowed < this.cap && ++this.successes >= 10) {
        this.successes = 0;
        this.allowed++;
        this.wakeOne();
      }
      return;
    }
    // Only calls started after the last change tell how that change worked.
    if (seq <= this.changedAtSeq) return;
    this.epochLatency += latencyMs;
    this.epochCount++;
    if (this.epochCount < Math.max(8, Math.ceil(this.allowed / 2))) return;
    const mean = this.epochLatency / this.epochCount;
    this.bestLatency = Math.min(this.bestLatency, mean);
    const ratio = mean / this.bestLatency;
    let next = this.allowed;
    if (this.rateLimitedInEpoch) {
      // onRateLimited already shrank it.
    } else if (ratio > GROWN) {
      this.slowStart = false;
      next = Math.max(1, (this.allowed / ratio) * HEADROOM);
    } else if (ratio <= HOLD && this.saturated) {
      next = this.slowStart ? this.allowed * 4 : this.allowed + Math.max(1, this.allowed * 0.1);
    }
    this.setAllowed(next);
  }

  onRateLimited(retryAfterMs: number | undefined, rateLimit?: RateLimitInfo, seq?: number): void {
    if (rateLimit) this.observe(rateLimit, seq);
    this.successes = 0;
    // Several 429s of one burst are one signal: halve once per epoch. When the provider states
    // its limit, pacing keeps to it; fewer calls in flight would only slow the run.
    if (
      !(this.policy.adaptive && this.pacedByHeaders) &&
      (!this.rateLimitedInEpoch || !this.policy.adaptive)
    ) {
      this.slowStart = false;
      this.setAllowed(Math.max(1, this.allowed / 2));
      this.rateLimitedInEpoch = true;
    }
    // A header that says which limit is used up and when it resets is more precise than
    // Retry-After (whole seconds).
    const exhausted =
      rateLimit?.remainingRequests === 0
        ? rateLimit.resetRequestsMs
        : rateLimit?.remainingTokens === 0
          ? rateLimit.resetTokensMs
          : undefined;
    this.gate.pause(exhausted ?? retryAfterMs ?? 1000);
  }

  private setAllowed(next: number): void {
    this.allowed = Math.min(this.cap, Math.max(1, next));
    this.changedAtSeq = this.seq;
    this.epochLatency = 0;
    this.epochCount = 0;
    this.saturated = false;
    this.rateLimitedInEpoch = false;
    this.wakeOne();
  }

  /** Adopts the limits a provider's headers state, within the user's caps. */
  private observe(info: RateLimitInfo, seq: number | undefined): void {
    const cap = (user: number | null | undefined, stated: number) => (user ? Math.min(user, stated) : stated);
    if (info.limitRequests && info.limitRequests > 0) {
      this.rpm = cap(this.policy.caps.rpm, info.limitRequests);
      this.pacedByHeaders = true;
    }
    if (info.limitTokens && info.limitTokens > 0) {
      const tpm = cap(this.policy.caps.tpm, info.limitTokens);
      // A bucket that was not paced before starts full.
      this.tokenLevel = this.tpm === null ? tpm : Math.min(this.tokenLevel, tpm);
      this.tpm = tpm;
    }
    // Responses come back out of order: only a reading newer than the one held replaces it.
    if (info.remainingRequests !== undefined && info.resetRequestsMs !== undefined && seq !== undefined) {
      if (seq > this.budgetSeq) {
        this.budgetSeq = seq;
        this.budget = { remaining: info.remainingRequests, seq, until: Date.now() + info.resetRequestsMs };
      }
    }
  }

  /** Holds a call while the provider's last word is that no request is left before its reset. */
  private async waitForBudget(): Promise<void> {
    for (;;) {
      const b = this.budget;
      if (!b) return;
      const now = Date.now();
      if (now >= b.until) {
        this.budget = undefined;
        return;
      }
      // Calls started after the one that brought the reading are not counted in it yet.
      if (b.remaining - (this.seq - b.seq) > 0) return;
      await sleep(b.until - now);
    }
  }

  private async paceRequest(): Promise<void> {
    const rpm = this.rpm;
    if (!rpm) return;
    // A limit stated in headers may be enforced over short windows: no burst, and 2 % under it so
    // that requests bunched on the way do not arrive over it. A limit the user set or the data
    // file's keeps the one second of burst it always had.
    const learned = this.pacedByHeaders && this.policy.caps.rpm === undefined;
    const interval = 60_000 / (learned ? rpm * 0.98 : rpm);
    const burst = learned ? 0 : Math.max(1, rpm / 60) * interval;
    const now = Date.now();
    const slot = Math.max(this.nextRequestAt, now - burst);
    this.nextRequestAt = slot + interval;
    if (slot > now) await sleep(slot - now);
  }

  private async paceTokens(estimated: number): Promise<void> {
    const tpm = this.tpm;
    if (!tpm) return;
    for (;;) {
      const now = Date.now();
      this.tokenLevel = Math.min(tpm, this.tokenLevel + ((now - this.tokenStamp) * tpm) / 60_000);
      this.tokenStamp = now;
      // A single call larger than the whole budget may still go when the bucket is full.
      if (this.tokenLevel >= Math.min(estimated, tpm)) {
        this.tokenLevel -= estimated;
        return;
      }
      await sleep(Math.max(5, ((Math.min(estimated, tpm) - this.tokenLevel) * 60_000) / tpm));
    }
  }
}

/** Shared by every model of one provider: a 429 anywhere slows the whole provider down. */
export class ProviderGate {
  private pausedUntil = 0;
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }
  get paused(): boolean {
    return this.pausedUntil > Date.now();
  }
  async wait(): Promise<void> {
    for (;;) {
      const remaining = this.pausedUntil - Date.now();
      if (remaining <= 0) return;
      await sleep(remaining);
    }
  }
}
