import { readDataFile } from "../data-files.js";
import { splitModelId } from "../models/registry.js";

export interface Limits {
  maxInFlight: number;
  rpm: number | null;
  tpm: number | null;
}

interface LimitsFile {
  defaults: Limits;
  providers: Record<string, Partial<Limits>>;
}

let limitsFile: LimitsFile | undefined;

/** Limits for a model: data-file defaults for its provider, then study settings, then CLI flags. */
export function limitsFor(modelId: string, ...overrides: (Partial<Limits> | undefined)[]): Limits {
  limitsFile ??= readDataFile<LimitsFile>("provider-limits.json");
  const provider = splitModelId(modelId)?.provider ?? "";
  let out: Limits = { ...limitsFile.defaults, ...(limitsFile.providers[provider] ?? {}) };
  for (const o of overrides) {
    if (!o) continue;
    out = {
      maxInFlight: o.maxInFlight ?? out.maxInFlight,
      rpm: o.rpm !== undefined ? o.rpm : out.rpm,
      tpm: o.tpm !== undefined ? o.tpm : out.tpm,
    };
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Client-side rate limiting for one model: at most `maxInFlight` calls at once, requests paced
 * to `rpm`, tokens to `tpm` (estimated before a call, corrected from usage after). A 429 pauses
 * the whole provider (shared `ProviderGate`) and halves concurrency; successes slowly restore it.
 */
export class ModelLimiter {
  private inFlight = 0;
  private allowed: number;
  private readonly waiters: (() => void)[] = [];
  private nextRequestAt = 0;
  private tokenLevel: number;
  private tokenStamp = Date.now();
  private successes = 0;

  constructor(
    readonly limits: Limits,
    private readonly gate: ProviderGate,
  ) {
    this.allowed = limits.maxInFlight;
    this.tokenLevel = limits.tpm ?? 0;
  }

  get currentConcurrency(): number {
    return this.allowed;
  }

  async acquire(estimatedTokens: number): Promise<void> {
    while (this.inFlight >= this.allowed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.inFlight++;
    // Only the waits that apply are awaited: with no pause, rpm or tpm a call starts at once.
    try {
      if (this.gate.paused) await this.gate.wait();
      if (this.limits.rpm) await this.paceRequest();
      if (this.limits.tpm) await this.paceTokens(estimatedTokens);
    } catch (e) {
      this.release(0, 0);
      throw e;
    }
  }

  /** `actualTokens` corrects the estimate taken in acquire. */
  release(estimatedTokens: number, actualTokens: number): void {
    this.inFlight--;
    if (this.limits.tpm) this.tokenLevel -= actualTokens - estimatedTokens;
    this.wakeOne();
  }

  private wakeOne(): void {
    while (this.waiters.length > 0 && this.inFlight < this.allowed) {
      const w = this.waiters.shift();
      w?.();
      break;
    }
  }

  onSuccess(): void {
    if (this.allowed < this.limits.maxInFlight && ++this.successes >= 10) {
      this.successes = 0;
      this.allowed++;
      this.wakeOne();
    }
  }

  onRateLimited(retryAfterMs: number | undefined): void {
    this.successes = 0;
    this.allowed = Math.max(1, Math.floor(this.allowed / 2));
    this.gate.pause(retryAfterMs ?? 1000);
  }

  private async paceRequest(): Promise<void> {
    const rpm = this.limits.rpm;
    if (!rpm) return;
    const interval = 60_000 / rpm;
    const burst = Math.max(1, rpm / 60) * interval; // allow one second's worth of requests at once
    const now = Date.now();
    const slot = Math.max(this.nextRequestAt, now - burst);
    this.nextRequestAt = slot + interval;
    if (slot > now) await sleep(slot - now);
  }

  private async paceTokens(estimated: number): Promise<void> {
    const tpm = this.limits.tpm;
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
