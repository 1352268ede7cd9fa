import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Which call a provider request belongs to. The executor runs each attempt of a call inside its
 * context; the batching fetch reads it to name the request (custom_id) and marks the call as
 * answered through a batch (which changes its price).
 */
export interface BatchCallContext {
  callKey: string;
  session: string;
  /** Provider requests made so far in this attempt (an adapter sends n > 1 choices as n requests). */
  requests: number;
  /** Set by the batching fetch when the request went into a batch. */
  viaBatch: boolean;
}

export const batchCallContext = new AsyncLocalStorage<BatchCallContext>();
