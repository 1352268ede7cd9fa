/**
 * Resource bounds of one render (or one expression evaluation). Templates are written by study
 * authors but run inside a long-lived process: a template like `{{ ([0]*10**9)|length }}`, nested
 * loops or an exponential macro must fail with a located error instead of exhausting memory or
 * running for minutes. Rendering is synchronous, so the bounds of the render in progress live in
 * one module-level slot, saved and restored around nested renders.
 */
import { PyException } from "./python-errors.js";

export interface TemplateLimits {
  /** Characters one render may produce. */
  maxOutput: number;
  /** Items (or characters) of one list or string made by `*`, `range()` and repeating filters. */
  maxSequence: number;
  /** List items built in one render, all lists together (`xs|map('list')|list` copies a lot). */
  maxItems: number;
  /** Loop iterations per render, all loops together. */
  maxIterations: number;
  /** Macro calls per render. */
  maxCalls: number;
  /** Nested macro calls (Python's RecursionError beyond). */
  maxCallDepth: number;
  /** Wall-clock time per render, in milliseconds. */
  timeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<TemplateLimits> = Object.freeze({
  maxOutput: 1_000_000,
  maxSequence: 1_000_000,
  maxItems: 20_000_000,
  maxIterations: 1_000_000,
  maxCalls: 100_000,
  maxCallDepth: 500,
  timeoutMs: 5_000,
});

export function resolveLimits(overrides: Partial<TemplateLimits> | undefined): TemplateLimits {
  return overrides === undefined ? { ...DEFAULT_LIMITS } : { ...DEFAULT_LIMITS, ...overrides };
}

interface Budget {
  readonly limits: TemplateLimits;
  readonly deadline: number;
  iterations: number;
  calls: number;
  items: number;
  lists: number;
}

let current: Budget | null = null;

/** Runs `fn` (a render) under `limits`; nested renders get their own budget. */
export function withLimits<T>(limits: TemplateLimits, fn: () => T): T {
  const saved = current;
  current = {
    limits,
    deadline: performance.now() + limits.timeoutMs,
    iterations: 0,
    calls: 0,
    items: 0,
    lists: 0,
  };
  try {
    return fn();
  } finally {
    current = saved;
  }
}

function limits(): Readonly<TemplateLimits> {
  return current?.limits ?? DEFAULT_LIMITS;
}

export function limitError(message: string): PyException {
  return new PyException("TemplateLimitError", message);
}

function checkTime(b: Budget): void {
  if (performance.now() > b.deadline) {
    throw limitError(`the render took longer than ${b.limits.timeoutMs / 1000} s (limit per render)`);
  }
}

/** One loop iteration. */
export function countIteration(): void {
  const b = current;
  if (b === null) return;
  b.iterations++;
  if (b.iterations > b.limits.maxIterations) {
    throw limitError(`more than ${b.limits.maxIterations} loop iterations (limit per render)`);
  }
  if ((b.iterations & 1023) === 0) checkTime(b);
}

/** One macro call. */
export function countCall(): void {
  const b = current;
  if (b === null) return;
  b.calls++;
  if (b.calls > b.limits.maxCalls) {
    throw limitError(`more than ${b.limits.maxCalls} macro calls (limit per render)`);
  }
  if ((b.calls & 255) === 0) checkTime(b);
}

/** A list of `n` items built (filters, literals, copies); also where long filter chains meet the clock. */
export function countItems(n: number): void {
  const b = current;
  if (b === null) return;
  b.items += n;
  if (b.items > b.limits.maxItems) {
    throw limitError(`more than ${b.limits.maxItems} list items built (limit per render)`);
  }
  if ((++b.lists & 63) === 0 || n > 10_000) checkTime(b);
}

export function maxCallDepth(): number {
  return limits().maxCallDepth;
}

/** Refuses to build a list or string of `n` items. */
export function checkSequenceSize(n: number | bigint): void {
  const max = limits().maxSequence;
  if (n > max) {
    throw limitError(`a list or string of ${n} items is longer than ${max} (limit per value)`);
  }
}

/** Refuses output (or a string on its way to the output) longer than the limit. */
export function checkOutput(length: number): void {
  const max = limits().maxOutput;
  if (length > max) throw limitError(`the output is longer than ${max} characters (limit per render)`);
}

/** Length of `parts.join(sep)`, without building it. */
export function joinedLength(parts: readonly string[], sep: string): number {
  let n = parts.length > 0 ? sep.length * (parts.length - 1) : 0;
  for (const x of parts) n += x.length;
  return n;
}

/**
 * The texts of a container's items (repr, JSON, pprint), refusing a total longer than the output
 * limit as it grows: a list holding one big list 10**6 times would otherwise print terabytes.
 */
export function mapText<T>(items: readonly T[], text: (x: T) => string): string[] {
  const parts: string[] = new Array(items.length);
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const p = text(items[i] as T);
    parts[i] = p;
    total += p.length + 2;
    checkOutput(total);
  }
  return parts;
}
