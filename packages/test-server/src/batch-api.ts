/**
 * The batch protocols of the test server: OpenAI's Files + Batch API and Anthropic's Message
 * Batches. Each request of a batch is answered by the same code as the synchronous endpoint
 * (through BatchHost), so a batch's answers equal the answers given one by one.
 *
 * A batch ends at the poll (GET) on which both `completeAfterPolls` and `completeAfterMs` are
 * met; its requests are answered then. Knobs expire whole batches or a share of their requests,
 * or fail a share of requests, so clients can be tested on every ending.
 */
import { Rng } from "./default-responder.js";
import { anthropicError } from "./anthropic-messages.js";

/** Knobs of the batch endpoints (`batch` in the server options). */
export interface BatchKnobs {
  /** Polls (GET of the batch) before it ends; default 1 (it ends at the first poll). */
  completeAfterPolls?: number;
  /** Milliseconds after creation before it can end (default 0). */
  completeAfterMs?: number;
  /** The first N batches created expire as a whole: none of their requests is run (default 0). */
  expireFirst?: number;
  /** Share (0–1) of each batch's requests left unrun when it expires; the batch then ends expired. */
  expireRate?: number;
  /** Share (0–1) of requests that fail with `errorStatus` (per-request errors). */
  errorRate?: number;
  /** Status of those failures (default 500). */
  errorStatus?: number;
  /**
   * Milliseconds the answer to a batch create waits after the batch exists: a client killed in
   * that time has a batch it never heard of (find it with GET /v1/batches and its metadata).
   */
  createDelayMs?: number;
}

/** What the batch endpoints have done since the start (or the last reset). */
export interface BatchStats {
  filesUploaded: number;
  batchesCreated: number;
  polls: number;
  /** Requests answered with success (what a provider bills), by custom_id. */
  billed: Record<string, number>;
  succeeded: number;
  errored: number;
  expired: number;
  cancelled: number;
}

export interface BatchHost {
  /** A /v1/chat/completions or /v1/completions body, answered as the synchronous endpoint answers it. */
  completeOpenAI(url: string, body: unknown): Promise<{ status: number; body: unknown }>;
  /** A /v1/messages body, answered as the synchronous endpoint answers it. */
  completeAnthropic(body: unknown): Promise<{ status: number; body: unknown }>;
  /** http://127.0.0.1:PORT, for Anthropic's results_url. */
  origin(): string;
}

export interface BatchReply {
  status: number;
  body: string;
  contentType?: string;
}

interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  text: string;
  createdAt: number;
}

interface Line {
  customId: string;
  url: string;
  body: unknown;
}

type Outcome =
  | { kind: "succeeded"; body: unknown }
  | { kind: "errored"; status: number; body: unknown }
  | { kind: "expired" }
  | { kind: "cancelled" };

interface Batch {
  id: string;
  protocol: "openai" | "anthropic";
  endpoint: string;
  inputFileId?: string;
  lines: Line[];
  createdAt: number;
  polls: number;
  expireAll: boolean;
  /** Set when the input was refused (OpenAI "failed"). */
  failure?: { code: string; message: string; line?: number };
  cancelRequested: boolean;
  ending?: Promise<void>;
  ended?: { at: number; outcomes: Map<string, Outcome>; status: string };
  outputFileId?: string | null;
  errorFileId?: string | null;
  metadata: unknown;
}

const ENDPOINTS = new Set(["/v1/chat/completions", "/v1/completions"]);

const json = (status: number, value: unknown): BatchReply => ({ status, body: JSON.stringify(value) });

function openAIError(
  status: number,
  message: string,
  param: string | null = null,
  code: string | null = null,
) {
  return json(status, { error: { message, type: "invalid_request_error", param, code } });
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The multipart/form-data fields of an upload (Node has no parser for it). */
export function parseMultipart(
  text: string,
  contentType: string,
): Map<string, { value: string; filename?: string }> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const out = new Map<string, { value: string; filename?: string }>();
  if (!m) return out;
  const boundary = `--${m[1] ?? m[2]}`;
  for (const part of text.split(boundary)) {
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    if (name === undefined) continue;
    const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
    let value = part.slice(headerEnd + 4);
    if (value.endsWith("\r\n")) value = value.slice(0, -2);
    out.set(name, { value, ...(filename !== undefined ? { filename } : {}) });
  }
  return out;
}

export class BatchApi {
  private files = new Map<string, StoredFile>();
  private batches = new Map<string, Batch>();
  private counter = 0;
  private rng: Rng;
  private stats!: BatchStats;

  constructor(
    private readonly host: BatchHost,
    private knobs: BatchKnobs,
    private seed: number,
  ) {
    this.rng = new Rng((seed ^ 0x2545f491) >>> 0);
    this.reset();
  }

  setKnobs(knobs: BatchKnobs, seed: number): void {
    this.knobs = knobs;
    if (seed !== this.seed) {
      this.seed = seed;
      this.rng = new Rng((seed ^ 0x2545f491) >>> 0);
    }
  }

  /** Zero the stats and reseed; files and batches stay (a client may still be polling them). */
  reset(): void {
    this.stats = {
      filesUploaded: 0,
      batchesCreated: 0,
      polls: 0,
      billed: {},
      succeeded: 0,
      errored: 0,
      expired: 0,
      cancelled: 0,
    };
    this.rng = new Rng((this.seed ^ 0x2545f491) >>> 0);
  }

  snapshot(): BatchStats {
    return { ...this.stats, billed: { ...this.stats.billed } };
  }

  /** True when `path` belongs to the batch endpoints. */
  static owns(path: string): boolean {
    return (
      path === "/v1/files" ||
      path.startsWith("/v1/files/") ||
      path === "/v1/batches" ||
      path.startsWith("/v1/batches/") ||
      path === "/v1/messages/batches" ||
      path.startsWith("/v1/messages/batches/")
    );
  }

  async handle(
    method: string,
    path: string,
    body: unknown,
    text: string,
    contentType: string,
  ): Promise<BatchReply> {
    const parts = path.split("/").filter((p) => p !== "");
    // ["v1", "files"...] | ["v1", "batches"...] | ["v1", "messages", "batches", ...]
    if (parts[1] === "files") return this.files_(method, parts.slice(2), text, contentType);
    if (parts[1] === "batches") return this.openai(method, parts.slice(2), body);
    return this.anthropic(method, parts.slice(3), body);
  }

  private nextId(prefix: string): string {
    this.counter++;
    return `${prefix}${this.counter.toString(36).padStart(6, "0")}`;
  }

  // ---- files ----------------------------------------------------------------------------------

  private fileObject(f: StoredFile) {
    return {
      id: f.id,
      object: "file",
      bytes: Buffer.byteLength(f.text),
      created_at: seconds(f.createdAt),
      filename: f.filename,
      purpose: f.purpose,
    };
  }

  private addFile(text: string, filename: string, purpose: string): StoredFile {
    const f = { id: this.nextId("file-silico"), filename, purpose, text, createdAt: Date.now() };
    this.files.set(f.id, f);
    return f;
  }

  private files_(method: string, rest: string[], text: string, contentType: string): BatchReply {
    if (rest.length === 0) {
      if (method !== "POST") return openAIError(405, `Method ${method} not allowed on /v1/files.`);
      if (!/^multipart\/form-data/i.test(contentType))
        return openAIError(400, "Uploads must be multipart/form-data with fields 'purpose' and 'file'.");
      const fields = parseMultipart(text, contentType);
      const purpose = fields.get("purpose")?.value;
      const file = fields.get("file");
      if (!file) return openAIError(400, "Missing required parameter: 'file'.", "file");
      if (purpose !== "batch")
        return openAIError(
          400,
          `The test server accepts purpose 'batch' only, got '${purpose ?? ""}'.`,
          "purpose",
        );
      this.stats.filesUploaded++;
      return json(200, this.fileObject(this.addFile(file.value, file.filename ?? "upload.jsonl", purpose)));
    }
    const f = this.files.get(rest[0] as string);
    if (!f) return openAIError(404, `No such File object: ${rest[0]}`, "id");
    if (method !== "GET") return openAIError(405, `Method ${method} not allowed.`);
    if (rest.length === 1) return json(200, this.fileObject(f));
    if (rest[1] === "content" && rest.length === 2)
      return { status: 200, body: f.text, contentType: "application/octet-stream" };
    return openAIError(404, "Unknown file route.");
  }

  // ---- OpenAI batches -------------------------------------------------------------------------

  private async openai(method: string, rest: string[], body: unknown): Promise<BatchReply> {
    if (rest.length === 0 && method === "GET") {
      // Newest first, all on one page (the test server keeps few).
      const data = [...this.batches.values()]
        .filter((b) => b.protocol === "openai")
        .reverse()
        .map((b) => this.openaiObject(b));
      return json(200, {
        object: "list",
        data,
        first_id: data[0]?.id ?? null,
        last_id: data[data.length - 1]?.id ?? null,
        has_more: false,
      });
    }
    if (rest.length === 0) {
      if (method !== "POST") return openAIError(405, `Method ${method} not allowed on /v1/batches.`);
      const b = (body ?? {}) as Record<string, unknown>;
      if (typeof b.input_file_id !== "string")
        return openAIError(400, "Missing required parameter: 'input_file_id'.", "input_file_id");
      if (typeof b.endpoint !== "string" || !ENDPOINTS.has(b.endpoint))
        return openAIError(400, "endpoint must be /v1/chat/completions or /v1/completions.", "endpoint");
      if (b.completion_window !== "24h")
        return openAIError(400, "completion_window must be '24h'.", "completion_window");
      const file = this.files.get(b.input_file_id);
      if (!file) return openAIError(404, `No such File object: ${b.input_file_id}`, "input_file_id");
      const batch = this.newBatch("openai", b.endpoint, b.metadata ?? null);
      batch.inputFileId = file.id;
      const seen = new Set<string>();
      file.text.split("\n").forEach((raw, i) => {
        if (batch.failure || raw.trim() === "") return;
        let line: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
        try {
          line = JSON.parse(raw);
        } catch {
          batch.failure = { code: "invalid_json_line", message: "This line is not valid JSON.", line: i + 1 };
          return;
        }
        if (typeof line.custom_id !== "string" || seen.has(line.custom_id)) {
          batch.failure = {
            code: "duplicate_custom_id",
            message: "custom_id must be a string, unique within the batch.",
            line: i + 1,
          };
          return;
        }
        if (line.method !== "POST" || line.url !== b.endpoint) {
          batch.failure = {
            code: "mismatched_endpoint",
            message: `Each line must POST to the batch's endpoint ${b.endpoint}.`,
            line: i + 1,
          };
          return;
        }
        seen.add(line.custom_id);
        batch.lines.push({ customId: line.custom_id, url: b.endpoint as string, body: line.body });
      });
      if (!batch.failure && batch.lines.length === 0)
        batch.failure = { code: "empty_file", message: "The input file has no requests." };
      const delay = this.knobs.createDelayMs ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return json(200, this.openaiObject(batch));
    }
    const batch = this.batches.get(rest[0] as string);
    if (batch?.protocol !== "openai") return openAIError(404, `No batch found with id '${rest[0]}'.`);
    if (rest.length === 1) {
      if (method !== "GET") return openAIError(405, `Method ${method} not allowed.`);
      await this.poll(batch);
      return json(200, this.openaiObject(batch));
    }
    if (rest[1] === "cancel" && rest.length === 2 && method === "POST") {
      if (!batch.ended) batch.cancelRequested = true;
      return json(200, this.openaiObject(batch));
    }
    return openAIError(404, "Unknown batch route.");
  }

  private openaiObject(batch: Batch) {
    const total = batch.lines.length;
    let completed = 0;
    let failed = 0;
    let status: string;
    if (batch.failure) status = batch.polls === 0 ? "validating" : "failed";
    else if (batch.ended) {
      status = batch.ended.status;
      for (const o of batch.ended.outcomes.values()) {
        if (o.kind === "succeeded") completed++;
        else failed++;
      }
    } else if (batch.cancelRequested) status = "cancelling";
    else status = batch.polls === 0 ? "validating" : "in_progress";
    const at = (cond: boolean) => (cond && batch.ended ? seconds(batch.ended.at) : null);
    return {
      id: batch.id,
      object: "batch",
      endpoint: batch.endpoint,
      errors: batch.failure
        ? {
            object: "list",
            data: [
              {
                code: batch.failure.code,
                message: batch.failure.message,
                param: null,
                line: batch.failure.line ?? null,
              },
            ],
          }
        : null,
      input_file_id: batch.inputFileId,
      completion_window: "24h",
      status,
      output_file_id: batch.outputFileId ?? null,
      error_file_id: batch.errorFileId ?? null,
      created_at: seconds(batch.createdAt),
      in_progress_at: batch.polls > 0 ? seconds(batch.createdAt) : null,
      expires_at: seconds(batch.createdAt) + 86_400,
      finalizing_at: at(status === "completed"),
      completed_at: at(status === "completed"),
      failed_at: batch.failure && batch.polls > 0 ? seconds(batch.createdAt) : null,
      expired_at: at(status === "expired"),
      cancelling_at: batch.cancelRequested ? seconds(batch.createdAt) : null,
      cancelled_at: at(status === "cancelled"),
      request_counts: { total, completed, failed },
      metadata: batch.metadata,
    };
  }

  // ---- Anthropic message batches --------------------------------------------------------------

  private async anthropic(method: string, rest: string[], body: unknown): Promise<BatchReply> {
    const err = (status: number, type: string, message: string) =>
      json(status, anthropicError(type, message));
    if (rest.length === 0) {
      if (method !== "POST") return err(405, "invalid_request_error", `Method ${method} not allowed.`);
      const requests = (body as { requests?: unknown } | undefined)?.requests;
      if (!Array.isArray(requests) || requests.length === 0)
        return err(400, "invalid_request_error", "requests: at least one request is required");
      const seen = new Set<string>();
      const lines: Line[] = [];
      for (const [i, r] of requests.entries()) {
        const req = r as { custom_id?: unknown; params?: unknown } | null;
        const id = req?.custom_id;
        if (typeof id !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(id))
          return err(
            400,
            "invalid_request_error",
            `requests.${i}.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$`,
          );
        if (seen.has(id))
          return err(400, "invalid_request_error", `requests.${i}.custom_id: duplicate '${id}'`);
        if (!req?.params || typeof req.params !== "object")
          return err(400, "invalid_request_error", `requests.${i}.params: Field required`);
        seen.add(id);
        lines.push({ customId: id, url: "/v1/messages", body: req.params });
      }
      const batch = this.newBatch("anthropic", "/v1/messages", null);
      batch.lines = lines;
      return json(200, this.anthropicObject(batch));
    }
    const batch = this.batches.get(rest[0] as string);
    if (batch?.protocol !== "anthropic") return err(404, "not_found_error", `batch ${rest[0]} not found`);
    if (rest.length === 1 && method === "GET") {
      await this.poll(batch);
      return json(200, this.anthropicObject(batch));
    }
    if (rest[1] === "cancel" && rest.length === 2 && method === "POST") {
      if (!batch.ended) batch.cancelRequested = true;
      return json(200, this.anthropicObject(batch));
    }
    if (rest[1] === "results" && rest.length === 2 && method === "GET") {
      if (!batch.ended)
        return err(
          400,
          "invalid_request_error",
          `batch ${batch.id} has not ended; results are not available yet`,
        );
      const out: string[] = [];
      for (const line of batch.lines) {
        const o = batch.ended.outcomes.get(line.customId) as Outcome;
        const result =
          o.kind === "succeeded"
            ? { type: "succeeded", message: o.body }
            : o.kind === "errored"
              ? { type: "errored", error: o.body }
              : { type: o.kind === "cancelled" ? "canceled" : "expired" };
        out.push(JSON.stringify({ custom_id: line.customId, result }));
      }
      return { status: 200, body: `${out.join("\n")}\n`, contentType: "application/x-jsonl" };
    }
    return err(404, "not_found_error", "unknown message batch route");
  }

  private anthropicObject(batch: Batch) {
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    if (batch.ended) {
      for (const o of batch.ended.outcomes.values()) {
        if (o.kind === "succeeded") counts.succeeded++;
        else if (o.kind === "errored") counts.errored++;
        else if (o.kind === "expired") counts.expired++;
        else counts.canceled++;
      }
    } else counts.processing = batch.lines.length;
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      id: batch.id,
      type: "message_batch",
      processing_status: batch.ended ? "ended" : batch.cancelRequested ? "canceling" : "in_progress",
      request_counts: counts,
      ended_at: batch.ended ? iso(batch.ended.at) : null,
      created_at: iso(batch.createdAt),
      expires_at: iso(batch.createdAt + 86_400_000),
      archived_at: null,
      cancel_initiated_at: batch.cancelRequested ? iso(batch.createdAt) : null,
      results_url: batch.ended ? `${this.host.origin()}/v1/messages/batches/${batch.id}/results` : null,
    };
  }

  // ---- both -----------------------------------------------------------------------------------

  private newBatch(protocol: Batch["protocol"], endpoint: string, metadata: unknown): Batch {
    this.stats.batchesCreated++;
    const batch: Batch = {
      id: this.nextId(protocol === "openai" ? "batch_silico" : "msgbatch_silico"),
      protocol,
      endpoint,
      lines: [],
      createdAt: Date.now(),
      polls: 0,
      expireAll: this.stats.batchesCreated <= (this.knobs.expireFirst ?? 0),
      cancelRequested: false,
      metadata,
    };
    this.batches.set(batch.id, batch);
    return batch;
  }

  /** One retrieve: counts the poll and ends the batch when its time has come. */
  private async poll(batch: Batch): Promise<void> {
    this.stats.polls++;
    batch.polls++;
    if (batch.ended || batch.failure) return;
    const due =
      batch.cancelRequested ||
      (batch.polls >= (this.knobs.completeAfterPolls ?? 1) &&
        Date.now() - batch.createdAt >= (this.knobs.completeAfterMs ?? 0));
    if (!due) return;
    batch.ending ??= this.end(batch);
    await batch.ending;
  }

  private async end(batch: Batch): Promise<void> {
    const outcomes = new Map<string, Outcome>();
    const cancelled = batch.cancelRequested;
    await Promise.all(
      batch.lines.map(async (line) => {
        // One draw each, in line order (before any await), so a seed repeats the same faults.
        const u = this.rng.next();
        const v = this.rng.next();
        if (cancelled) return outcomes.set(line.customId, { kind: "cancelled" });
        if (batch.expireAll || u < (this.knobs.expireRate ?? 0))
          return outcomes.set(line.customId, { kind: "expired" });
        if (v < (this.knobs.errorRate ?? 0)) {
          const status = this.knobs.errorStatus ?? 500;
          const message = `injected per-request failure (batch.errorRate), status ${status}`;
          return outcomes.set(line.customId, {
            kind: "errored",
            status,
            body:
              batch.protocol === "openai"
                ? {
                    error: {
                      message,
                      type: status >= 500 ? "server_error" : "invalid_request_error",
                      param: null,
                      code: null,
                    },
                  }
                : anthropicError(status >= 500 ? "api_error" : "invalid_request_error", message),
          });
        }
        const r =
          batch.protocol === "openai"
            ? await this.host.completeOpenAI(line.url, line.body)
            : await this.host.completeAnthropic(line.body);
        outcomes.set(
          line.customId,
          r.status === 200
            ? { kind: "succeeded", body: r.body }
            : { kind: "errored", status: r.status, body: r.body },
        );
      }),
    );
    let anyExpired = false;
    for (const [id, o] of outcomes) {
      if (o.kind === "succeeded") {
        this.stats.succeeded++;
        this.stats.billed[id] = (this.stats.billed[id] ?? 0) + 1;
      } else if (o.kind === "errored") this.stats.errored++;
      else if (o.kind === "expired") {
        this.stats.expired++;
        anyExpired = true;
      } else this.stats.cancelled++;
    }
    const status = cancelled ? "cancelled" : anyExpired ? "expired" : "completed";
    batch.ended = { at: Date.now(), outcomes, status };
    if (batch.protocol === "openai") this.writeOpenAIFiles(batch, outcomes);
  }

  private writeOpenAIFiles(batch: Batch, outcomes: Map<string, Outcome>): void {
    const output: string[] = [];
    const errors: string[] = [];
    for (const line of batch.lines) {
      const o = outcomes.get(line.customId) as Outcome;
      const id = `batch_req_${this.nextId("")}`;
      if (o.kind === "succeeded") {
        output.push(
          JSON.stringify({
            id,
            custom_id: line.customId,
            response: { status_code: 200, request_id: `req_${id}`, body: o.body },
            error: null,
          }),
        );
      } else if (o.kind === "errored") {
        errors.push(
          JSON.stringify({
            id,
            custom_id: line.customId,
            response: { status_code: o.status, request_id: `req_${id}`, body: o.body },
            error: null,
          }),
        );
      } else {
        const expired = o.kind === "expired";
        errors.push(
          JSON.stringify({
            id,
            custom_id: line.customId,
            response: null,
            error: {
              code: expired ? "batch_expired" : "batch_cancelled",
              message: expired
                ? "This request could not be executed before the completion window expired."
                : "This request was not executed because the batch was cancelled.",
            },
          }),
        );
      }
    }
    batch.outputFileId =
      output.length > 0
        ? this.addFile(`${output.join("\n")}\n`, `${batch.id}_output.jsonl`, "batch_output").id
        : null;
    batch.errorFileId =
      errors.length > 0
        ? this.addFile(`${errors.join("\n")}\n`, `${batch.id}_error.jsonl`, "batch_output").id
        : null;
  }
}
