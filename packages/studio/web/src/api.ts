/** The studio API, same origin: the access cookie goes along by itself. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init?: { method?: string; body?: unknown }): Promise<T> {
  const r = await fetch(path, {
    method: init?.method ?? (init?.body !== undefined ? "POST" : "GET"),
    headers: init?.body !== undefined ? { "content-type": "application/json" } : {},
    ...(init?.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const body = (await r.json().catch(() => null)) as T & { error?: string };
  if (!r.ok && !(body && typeof body === "object" && "problems" in body))
    throw new ApiError(body?.error ?? `${r.status} ${r.statusText}`, r.status, body);
  return body;
}

export type Scalar = string | number | boolean | null;

export interface RunInfo {
  id: string;
  status: string;
  kind: string;
  name: string | null;
  models: string[];
  createdAt: string;
  totalSessions: number;
  costUsd: number | null;
}

export interface RunDetail extends RunInfo {
  observationNames: string[];
  coordinateColumns: string[];
  studyPath: string | null;
}

export interface SummaryRow {
  name: string;
  group: Record<string, unknown>;
  n: number;
  invalid: number;
  kind: "mean" | "rate";
  mean?: number;
  ci?: [number, number];
  rates?: { value: string; count: number; share: number; ci: [number, number] }[];
  clustered?: { by: string; clusters: number };
}

export interface PlotData {
  name: string | null;
  by: string[];
  kind: "mean" | "share" | "none";
  means: { group: Record<string, Scalar>; n: number; mean: number; lo: number; hi: number }[];
  shares: {
    group: Record<string, Scalar>;
    value: string;
    count: number;
    share: number;
    lo: number;
    hi: number;
  }[];
  bins: { group: Record<string, Scalar>; x0: number; x1: number; count: number }[];
}

export interface Progress {
  runId: string;
  status: string;
  sessions: number;
  done: number;
  invalid: number;
  failed: number;
  calls: number;
  retries: number;
  invalidAnswers: number;
  failedCalls: number;
  costUsd: number;
  etaSeconds: number | null;
  error: string | null;
}

export interface Problem {
  where: string;
  message: string;
  line?: number;
}

export const fmt = (v: unknown): string =>
  v === null || v === undefined
    ? ""
    : typeof v === "number"
      ? Number.isInteger(v)
        ? String(v)
        : v.toFixed(3)
      : String(v);
