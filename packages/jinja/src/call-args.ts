/** Binding of positional and keyword arguments to named parameters, with Python's error messages. */
import { typeError } from "./python-errors.js";
import type { Kwargs } from "./python-values.js";

export const REQUIRED: unique symbol = Symbol("required");

/** A parameter list: names and their defaults (REQUIRED for none). */
export interface ParamSpec {
  names: readonly string[];
  defaults: readonly unknown[];
}

export function params(...spec: [string, unknown][]): ParamSpec {
  return { names: spec.map((s) => s[0]), defaults: spec.map((s) => s[1]) };
}

/** Binds args to the spec: one value per parameter (defaults filled in). */
export function bindArgs(
  fname: string,
  spec: ParamSpec,
  args: readonly unknown[],
  kwargs: Kwargs,
): unknown[] {
  const { names, defaults } = spec;
  if (args.length > names.length) {
    throw typeError(
      `${fname}() takes at most ${names.length} argument${names.length === 1 ? "" : "s"} (${args.length} given)`,
    );
  }
  const out: unknown[] = new Array(names.length);
  const given: boolean[] = new Array(names.length).fill(false);
  for (let i = 0; i < args.length; i++) {
    out[i] = args[i];
    given[i] = true;
  }
  if (kwargs !== null) {
    for (const [k, v] of kwargs) {
      const i = names.indexOf(k);
      if (i < 0) throw typeError(`${fname}() got an unexpected keyword argument '${k}'`);
      if (given[i]) throw typeError(`${fname}() got multiple values for argument '${k}'`);
      out[i] = v;
      given[i] = true;
    }
  }
  for (let i = 0; i < names.length; i++) {
    if (given[i]) continue;
    const d = defaults[i];
    if (d === REQUIRED) throw typeError(`${fname}() missing required argument '${names[i]}'`);
    out[i] = d;
  }
  return out;
}

/** Raises unless there are no keyword arguments. */
export function noKwargs(fname: string, kwargs: Kwargs): void {
  if (kwargs !== null && kwargs.size > 0) throw typeError(`${fname}() takes no keyword arguments`);
}
