/**
 * The template context of an alter_ego conversation. alter_ego renders every prompt with the
 * treatment's variables plus every attribute of the thread object, so templates can read
 * `i`, `treatment.name`, `choices`, `other.choices[-1]` and the like; the objects here expose the
 * same names to silico's Jinja2 engine. Values are the engine's Python values (PyDict, PyFloat …).
 *
 * Deliberate differences: `others` exists for every group size (alter_ego: only for 3+ threads),
 * and thread internals that make no sense outside alter_ego (`env`, `history_hooks`, the raw
 * `log`, and `api_key`, which alter_ego leaks) are not exposed.
 */
import { PyDict, PyObject, pyRepr, MISSING } from "@silico/jinja";
import type { ThreadType } from "./threads.js";

/** Names every thread contributes to its own render context (besides the scenario's variables). */
export const THREAD_CONTEXT_NAMES = [
  "i",
  "round",
  "rounds",
  "treatment",
  "choices",
  "other",
  "others",
  "convo",
  "experiment",
  "id",
  "metadata",
  "_history",
  "tainted",
  "verbose",
] as const;

/** Attributes every alter_ego thread has that silico does not expose (a variable of that name still clashes). */
export const HIDDEN_THREAD_NAMES = ["env", "history_hooks"] as const;

/** Extra attributes of API threads (GPTThread, OpenRouterThread) in alter_ego; `log` and `api_key` are not exposed. */
export const API_THREAD_NAMES = ["model", "temperature", "delay", "log", "api_key"] as const;

/** Jinja2's default globals, always defined. */
export const JINJA_GLOBALS = ["range", "dict", "lipsum", "cycler", "joiner", "namespace"] as const;

export class TreatmentView extends PyObject {
  readonly typeName = "Treatment";
  constructor(
    readonly name: string,
    readonly variables: PyDict,
  ) {
    super();
  }
  override getAttr(name: string): unknown {
    if (name === "name") return this.name;
    if (name === "variables") return this.variables;
    return MISSING;
  }
  // A Python dataclass prints its fields.
  override repr(): string {
    return `Treatment(name=${pyRepr(this.name)}, variables=${pyRepr(this.variables)})`;
  }
}

export interface HistoryEntry {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One thread of a running conversation: what alter_ego keeps on its Thread object. */
export class ThreadState {
  readonly choices: unknown[] = [];
  readonly history: HistoryEntry[] = [];
  tainted = false;
  round: number | undefined;
  readonly view: ThreadView;
  /** The other threads in array order (set once the conversation is complete). */
  others: ThreadState[] = [];
  convo: ConvoView | undefined;

  constructor(
    readonly position: number,
    readonly i: unknown,
    readonly type: ThreadType,
    /** The bare model id alter_ego stores (`gpt-4o`), undefined for CLIThread. */
    readonly modelId: string | undefined,
    readonly id: string,
    readonly treatment: TreatmentView,
    readonly rounds: number,
    readonly experiment: ExperimentView,
  ) {
    this.view = new ThreadView(this);
  }

  /** The render context of this thread's prompts: variables first, then the thread's attributes. */
  context(variables: PyDict, withRound: boolean): Record<string, unknown> {
    const ctx: Record<string, unknown> = {};
    for (const [k, v] of variables.items()) ctx[String(k)] = v;
    for (const name of [...THREAD_CONTEXT_NAMES, "model", "temperature", "delay"]) {
      if (name === "round" && !withRound) continue;
      const v = this.attr(name);
      if (v !== MISSING) ctx[name] = v;
    }
    return ctx;
  }

  attr(name: string): unknown {
    switch (name) {
      case "i":
        return this.i;
      case "round":
        return this.round === undefined ? MISSING : this.round;
      case "rounds":
        return this.rounds;
      case "treatment":
        return this.treatment;
      case "choices":
        return this.choices;
      case "other":
        return this.others.length === 1 ? (this.others[0] as ThreadState).view : MISSING;
      case "others":
        return this.others.map((t) => t.view);
      case "convo":
        return this.convo ?? MISSING;
      case "experiment":
        return this.experiment;
      case "id":
        return this.id;
      case "metadata":
        return new PyDict();
      case "_history":
        return this.history;
      case "history":
        return this.history.map((h) => ({ role: h.role, content: h.content }));
      case "tainted":
        return this.tainted;
      case "verbose":
        return true;
      case "model":
        return this.type === "CLIThread" ? MISSING : this.modelId;
      case "temperature":
        return this.type === "CLIThread" ? MISSING : 1;
      case "delay":
        return this.type === "CLIThread" ? MISSING : 0;
      default:
        return MISSING;
    }
  }
}

/** A thread as another thread's template sees it (`other`, `others[k]`). */
export class ThreadView extends PyObject {
  constructor(private readonly state: ThreadState) {
    super();
  }
  get typeName(): string {
    return this.state.type;
  }
  override getAttr(name: string): unknown {
    return this.state.attr(name);
  }
  override repr(): string {
    return `<${this.state.type}/${this.state.id.slice(-8)}>`;
  }
}

export class ConvoView extends PyObject {
  readonly typeName = "Conversation";
  constructor(
    readonly id: string,
    readonly threads: ThreadState[],
  ) {
    super();
  }
  override getAttr(name: string): unknown {
    if (name === "id") return this.id;
    if (name === "threads") return this.threads.map((t) => t.view);
    return MISSING;
  }
}

export class ExperimentView extends PyObject {
  readonly typeName = "Experiment";
  constructor(readonly treatments: TreatmentView[]) {
    super();
  }
  override getAttr(name: string): unknown {
    if (name === "treatments") return this.treatments;
    return MISSING;
  }
}

/** Builds the thread objects of one conversation and links them (`other`, `others`, `convo`). */
export function makeConversation(
  convoId: string,
  threads: { i: unknown; type: ThreadType; modelId: string | undefined }[],
  treatment: TreatmentView,
  rounds: number,
  experiment: ExperimentView,
): ThreadState[] {
  const states = threads.map(
    (t, position) =>
      new ThreadState(
        position,
        t.i,
        t.type,
        t.modelId,
        `${convoId}/t${position + 1}`,
        treatment,
        rounds,
        experiment,
      ),
  );
  const convo = new ConvoView(convoId, states);
  for (const s of states) {
    s.others = states.filter((o) => o !== s);
    s.convo = convo;
  }
  return states;
}
