import { SilicoError } from "../errors.js";

/** How oTree answered a REST call that did not succeed. */
export type OtreeRestErrorKind =
  /** 400: a session config problem (unknown name, wrong participant count, non-editable field). */
  | "bad_request"
  /** 403: a missing or wrong REST key, or a body key oTree's function does not take. */
  | "forbidden"
  /** 404: no such session or participant. */
  | "not_found"
  /** 5xx or anything else unexpected; a 5xx may succeed when tried again. */
  | "server"
  /** No answer at all (connection refused, timeout). */
  | "unreachable";

/** A REST call to oTree that failed; the message says what was asked and what oTree said. */
export class OtreeRestError extends SilicoError {
  readonly status: number | undefined;
  readonly kind: OtreeRestErrorKind;
  constructor(kind: OtreeRestErrorKind, status: number | undefined, message: string, cause?: unknown) {
    super("otree_rest", message, { retryable: kind === "server" || kind === "unreachable", cause });
    this.name = "OtreeRestError";
    this.kind = kind;
    this.status = status;
  }
}

/** An oTree server that would not start or stop. */
export class OtreeServerError extends SilicoError {
  constructor(message: string) {
    super("otree_server", message);
    this.name = "OtreeServerError";
  }
}
