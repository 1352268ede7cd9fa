import { OtreeRestError, type OtreeRestErrorKind } from "./errors.js";

export interface OtreeParticipant {
  idInSession: number;
  code: string;
  label: string | null;
  status: string;
}

export interface OtreeSession {
  code: string;
  configName: string | undefined;
  participants: OtreeParticipant[];
  /** The rest of oTree's answer, as it came. */
  raw: Record<string, unknown>;
}

export interface CreatedSession {
  code: string;
  sessionWideUrl: string;
  adminUrl: string;
}

export interface CreateSessionRequest {
  /** A `name` from the project's SESSION_CONFIGS. */
  configName: string;
  participants: number;
  /** Overrides of (or additions to) the session config; new keys land in `session.config`. */
  modifiedConfig?: Record<string, unknown>;
  label?: string;
}

/**
 * oTree's REST API (JSON in, JSON out). With a REST key every call carries the `otree-rest-key`
 * header; the key never appears in an error message.
 */
export class OtreeRestClient {
  readonly baseUrl: string;
  readonly #restKey: string | undefined;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, options: { restKey?: string; timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#restKey = options.restKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async version(): Promise<string> {
    const body = await this.#call("GET", "/api/otree_version", "read oTree's version");
    return String((body as { version?: unknown }).version);
  }

  /** The names of the project's session configs. */
  async sessionConfigNames(): Promise<string[]> {
    const body = await this.#call("GET", "/api/session_configs", "list the session configs");
    return Array.isArray(body) ? body.map((c) => String((c as { name?: unknown }).name)) : [];
  }

  async createSession(request: CreateSessionRequest): Promise<CreatedSession> {
    const payload: Record<string, unknown> = {
      session_config_name: request.configName,
      num_participants: request.participants,
    };
    if (request.modifiedConfig) payload.modified_session_config_fields = request.modifiedConfig;
    if (request.label !== undefined) payload.label = request.label;
    const what = `create a session of config "${request.configName}" with ${request.participants} participant(s)`;
    let body: unknown;
    try {
      body = await this.#call("POST", "/api/sessions", what, payload);
    } catch (err) {
      throw await this.#withConfigNames(err, request.configName);
    }
    const b = body as Record<string, unknown>;
    if (typeof b.code !== "string") {
      throw new OtreeRestError("server", 200, `oTree did not return a session code when asked to ${what}`);
    }
    return { code: b.code, sessionWideUrl: String(b.session_wide_url), adminUrl: String(b.admin_url) };
  }

  async session(code: string): Promise<OtreeSession> {
    const body = await this.#call("GET", `/api/sessions/${encodeURIComponent(code)}`, `read session ${code}`);
    const raw = body as Record<string, unknown>;
    const list = Array.isArray(raw.participants) ? raw.participants : [];
    const participants = list.map((p: Record<string, unknown>) => ({
      idInSession: Number(p.id_in_session),
      code: String(p.code),
      label: typeof p.label === "string" ? p.label : null,
      status: String(p.status ?? ""),
    }));
    const config = raw.config as { name?: unknown } | undefined;
    const configName = typeof config?.name === "string" ? config.name : undefined;
    return { code, configName, participants, raw };
  }

  /**
   * oTree's per-app CSV export (`/api/export_app`): one row per participant and round of `app`,
   * columns `participant.*`, `player.*`, `group.*`, `subsession.*`, `session.*`; only the session
   * `sessionCode` when given.
   */
  async exportApp(app: string, sessionCode?: string): Promise<string> {
    const query = new URLSearchParams({ app });
    if (sessionCode !== undefined) query.set("session_code", sessionCode);
    const what = `export app "${app}"${sessionCode === undefined ? "" : ` of session ${sessionCode}`}`;
    return (await this.#request("GET", `/api/export_app?${query}`, what)).replace(/^\uFEFF/, "");
  }

  /** oTree's wide CSV export (`/api/export_wide`) of one session: one row per participant, every app and round. */
  async exportWide(sessionCode: string): Promise<string> {
    const query = new URLSearchParams({ session_code: sessionCode });
    const what = `export session ${sessionCode} (wide)`;
    return (await this.#request("GET", `/api/export_wide?${query}`, what)).replace(/^\uFEFF/, "");
  }

  /** A participant's own start link: it always leads to the participant's current page. */
  startLink(participantCode: string): string {
    return `${this.baseUrl}/InitializeParticipant/${encodeURIComponent(participantCode)}`;
  }

  /** A config name oTree does not know: say which names it does know. */
  async #withConfigNames(err: unknown, configName: string): Promise<unknown> {
    if (!(err instanceof OtreeRestError) || err.kind !== "bad_request" || !/not found/i.test(err.message)) {
      return err;
    }
    const names = await this.sessionConfigNames().catch(() => undefined);
    if (!names) return err;
    return new OtreeRestError(
      "bad_request",
      err.status,
      `oTree has no session config "${configName}"; its configs are: ${names.join(", ") || "(none)"}`,
      err,
    );
  }

  async #call(method: "GET" | "POST", path: string, what: string, payload?: unknown): Promise<unknown> {
    const text = await this.#request(method, path, what, payload);
    // Several of oTree's JSON replies have no content-type: read the text and parse it regardless.
    try {
      return JSON.parse(text);
    } catch {
      throw new OtreeRestError("server", 200, `could not ${what}: oTree's answer is not JSON: ${clip(text)}`);
    }
  }

  /** The body of a successful answer as text; any other answer → a located OtreeRestError. */
  async #request(method: "GET" | "POST", path: string, what: string, payload?: unknown): Promise<string> {
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers["content-type"] = "application/json";
    if (this.#restKey !== undefined) headers["otree-rest-key"] = this.#restKey;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        redirect: "manual",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new OtreeRestError(
        "unreachable",
        undefined,
        `could not ${what}: no answer from oTree at ${this.baseUrl} (${(err as Error).message})`,
        err,
      );
    }
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return text;
    const kind = kindOf(res.status);
    const said = clip(text.trim()) || res.statusText;
    const hint =
      res.status === 403 && /key/i.test(text) && !/argument/.test(text)
        ? this.#restKey === undefined
          ? " (the server wants a REST key: pass restKey)"
          : " (the REST key was refused)"
        : "";
    throw new OtreeRestError(
      kind,
      res.status,
      `could not ${what}: oTree answered ${res.status}: ${said}${hint}`,
    );
  }
}

function kindOf(status: number): OtreeRestErrorKind {
  if (status === 400) return "bad_request";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  return "server";
}

function clip(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
