/**
 * The two batch protocols silico speaks: OpenAI's Files + Batch API and Anthropic's Message
 * Batches. Each turns a list of provider request bodies into a submitted batch, reads its state,
 * and reads its results back as HTTP-like answers (status + body) keyed by custom_id, so the
 * caller can hand each answer to the provider adapter as if it had come from the ordinary
 * endpoint.
 */
import { sha256 } from "../hash.js";

export type BatchProtocolName = "openai" | "anthropic";

/** Where a batch is sent: the provider's base URL and the headers its adapter sent (keys stay in memory). */
export interface BatchEndpoint {
  baseUrl: string;
  headers: Record<string, string>;
  fetch: typeof globalThis.fetch;
}

export interface BatchState {
  /** The provider's own status word (validating, in_progress, ended …). */
  status: string;
  ended: boolean;
  /** True when the batch was refused as a whole (OpenAI "failed"): none of its requests ran. */
  failed?: string;
  counts: Record<string, number>;
  outputFileId?: string | null;
  errorFileId?: string | null;
}

export type BatchResult =
  | { kind: "answer"; status: number; body: string }
  | { kind: "expired" }
  | { kind: "cancelled" };

/** A request to the batch API failed with this HTTP status (or without one: a network error). */
export class BatchHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
  }
}

export interface BatchProtocol {
  name: BatchProtocolName;
  /** Most requests one batch may hold. */
  maxRequests: number;
  /** Most bytes of request bodies one batch may hold (the provider's file or request size limit, with room). */
  maxBytes: number;
  /** The custom_id of a call's i-th provider request. */
  customId(callKey: string, index: number): string;
  submit(
    ep: BatchEndpoint,
    endpoint: string,
    lines: { customId: string; body: string }[],
    /** The store's name for the batch (`<run id>/<batch row id>`), sent where the protocol keeps metadata. */
    tag: string,
  ): Promise<{ remoteId: string; inputFileId: string | null; status: string }>;
  /**
   * A batch submitted under `tag` whose answer never reached the store (a process killed while
   * the provider created it), where the protocol can list batches by their metadata.
   */
  find?(
    ep: BatchEndpoint,
    tag: string,
  ): Promise<{ remoteId: string; inputFileId: string | null; status: string } | undefined>;
  poll(ep: BatchEndpoint, remoteId: string): Promise<BatchState>;
  results(ep: BatchEndpoint, remoteId: string, state: BatchState): Promise<Map<string, BatchResult>>;
}

async function request(
  ep: BatchEndpoint,
  method: string,
  path: string,
  body?: string,
  contentType = "application/json",
): Promise<string> {
  const headers: Record<string, string> = { ...ep.headers };
  if (body !== undefined) headers["content-type"] = contentType;
  let res: Response;
  try {
    res = await ep.fetch(`${ep.baseUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
  } catch (e) {
    throw new BatchHttpError(`${method} ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await res.text();
  if (!res.ok)
    throw new BatchHttpError(
      `${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`,
      res.status,
      text,
    );
  return text;
}

function jsonLines(text: string): unknown[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as unknown);
}

const TERMINAL_OPENAI = new Set(["completed", "expired", "cancelled", "failed"]);

export const openaiBatches: BatchProtocol = {
  name: "openai",
  maxRequests: 50_000,
  maxBytes: 180_000_000, // input files up to 200 MB
  customId: (callKey, index) => (index === 0 ? callKey : `${callKey}#${index + 1}`),
  async submit(ep, endpoint, lines, tag) {
    const jsonl = lines
      .map(
        (l) =>
          `{"custom_id":${JSON.stringify(l.customId)},"method":"POST","url":${JSON.stringify(endpoint)},"body":${l.body}}`,
      )
      .join("\n");
    const boundary = `silico-${sha256(jsonl).slice(0, 24)}`;
    const form =
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="silico-batch.jsonl"\r\n` +
      `Content-Type: application/jsonl\r\n\r\n${jsonl}\n\r\n--${boundary}--\r\n`;
    const file = JSON.parse(
      await request(ep, "POST", "/files", form, `multipart/form-data; boundary=${boundary}`),
    ) as { id: string };
    const batch = JSON.parse(
      await request(
        ep,
        "POST",
        "/batches",
        JSON.stringify({
          input_file_id: file.id,
          endpoint,
          completion_window: "24h",
          metadata: { made_by: "silico", silico_batch: tag },
        }),
      ),
    ) as { id: string; status: string };
    return { remoteId: batch.id, inputFileId: file.id, status: batch.status };
  },
  async find(ep, tag) {
    // Newest first; a batch lost this way is among the most recent ones.
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const list = JSON.parse(
        await request(ep, "GET", `/batches?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`),
      ) as {
        data: {
          id: string;
          status: string;
          input_file_id?: string;
          metadata?: Record<string, string> | null;
        }[];
        has_more?: boolean;
        last_id?: string | null;
      };
      const hit = list.data.find((b) => b.metadata?.silico_batch === tag);
      if (hit) return { remoteId: hit.id, inputFileId: hit.input_file_id ?? null, status: hit.status };
      if (!list.has_more || !list.last_id) return undefined;
      after = list.last_id;
    }
    return undefined;
  },
  async poll(ep, remoteId) {
    const b = JSON.parse(await request(ep, "GET", `/batches/${encodeURIComponent(remoteId)}`)) as {
      status: string;
      request_counts?: Record<string, number>;
      output_file_id?: string | null;
      error_file_id?: string | null;
      errors?: { data?: { message?: string }[] } | null;
    };
    return {
      status: b.status,
      ended: TERMINAL_OPENAI.has(b.status),
      ...(b.status === "failed"
        ? { failed: b.errors?.data?.map((e) => e.message).join("; ") || "the provider refused the batch" }
        : {}),
      counts: b.request_counts ?? {},
      outputFileId: b.output_file_id ?? null,
      errorFileId: b.error_file_id ?? null,
    };
  },
  async results(ep, _remoteId, state) {
    const out = new Map<string, BatchResult>();
    for (const fileId of [state.outputFileId, state.errorFileId]) {
      if (!fileId) continue;
      const text = await request(ep, "GET", `/files/${encodeURIComponent(fileId)}/content`);
      for (const line of jsonLines(text)) {
        const l = line as {
          custom_id: string;
          response?: { status_code: number; body: unknown } | null;
          error?: { code?: string; message?: string } | null;
        };
        if (l.response)
          out.set(l.custom_id, {
            kind: "answer",
            status: l.response.status_code,
            body: JSON.stringify(l.response.body),
          });
        else if (l.error?.code === "batch_cancelled") out.set(l.custom_id, { kind: "cancelled" });
        else if (l.error?.code === "batch_expired") out.set(l.custom_id, { kind: "expired" });
        else
          out.set(l.custom_id, {
            kind: "answer",
            status: 500,
            body: JSON.stringify({
              error: { message: l.error?.message ?? "batch request failed", code: l.error?.code ?? null },
            }),
          });
      }
    }
    return out;
  },
};

/** HTTP statuses of Anthropic's error types, so an errored result is classified like a direct answer. */
const ANTHROPIC_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

export const anthropicBatches: BatchProtocol = {
  name: "anthropic",
  maxRequests: 100_000,
  maxBytes: 230_000_000, // batch requests up to 256 MB
  // Anthropic's custom_id must match ^[a-zA-Z0-9_-]{1,64}$; the store keeps the call key beside it.
  customId: (callKey, index) => `c${sha256(`${callKey}\u0000${index}`).slice(0, 40)}`,
  async submit(ep, _endpoint, lines) {
    const body = `{"requests":[${lines.map((l) => `{"custom_id":${JSON.stringify(l.customId)},"params":${l.body}}`).join(",")}]}`;
    const b = JSON.parse(await request(ep, "POST", "/messages/batches", body)) as {
      id: string;
      processing_status: string;
    };
    return { remoteId: b.id, inputFileId: null, status: b.processing_status };
  },
  async poll(ep, remoteId) {
    const b = JSON.parse(await request(ep, "GET", `/messages/batches/${encodeURIComponent(remoteId)}`)) as {
      processing_status: string;
      request_counts?: Record<string, number>;
    };
    return {
      status: b.processing_status,
      ended: b.processing_status === "ended",
      counts: b.request_counts ?? {},
    };
  },
  async results(ep, remoteId) {
    const text = await request(ep, "GET", `/messages/batches/${encodeURIComponent(remoteId)}/results`);
    const out = new Map<string, BatchResult>();
    for (const line of jsonLines(text)) {
      const l = line as {
        custom_id: string;
        result: { type: string; message?: unknown; error?: { error?: { type?: string } } };
      };
      const r = l.result;
      if (r.type === "succeeded")
        out.set(l.custom_id, { kind: "answer", status: 200, body: JSON.stringify(r.message) });
      else if (r.type === "errored")
        out.set(l.custom_id, {
          kind: "answer",
          status: ANTHROPIC_STATUS[r.error?.error?.type ?? ""] ?? 500,
          body: JSON.stringify(r.error ?? {}),
        });
      else if (r.type === "canceled") out.set(l.custom_id, { kind: "cancelled" });
      else out.set(l.custom_id, { kind: "expired" });
    }
    return out;
  },
};

/**
 * Which protocol a provider request belongs to, from its URL: the OpenAI adapters POST to
 * …/chat/completions or …/completions, the Anthropic adapter to …/messages.
 */
export function protocolFor(
  url: string,
): { protocol: BatchProtocol; baseUrl: string; endpoint: string } | undefined {
  const clean = url.replace(/[?#].*$/, "");
  for (const [suffix, protocol, endpoint] of [
    ["/chat/completions", openaiBatches, "/v1/chat/completions"],
    ["/completions", openaiBatches, "/v1/completions"],
    ["/messages", anthropicBatches, "/v1/messages"],
  ] as const) {
    if (clean.endsWith(suffix)) return { protocol, baseUrl: clean.slice(0, -suffix.length), endpoint };
  }
  return undefined;
}
