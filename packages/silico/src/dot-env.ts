import { readFileSync } from "node:fs";
import { ConfigError } from "./errors.js";

/**
 * Reads a `.env` file: `NAME=value` lines (optionally `export NAME=value`), values optionally in
 * single or double quotes (over several lines too), blank lines and `#` comments. Anything else
 * is refused with its line — a key written `OPENAI_API_KEY: sk-…` or `OPENAI_API_KEY sk-…` would otherwise be skipped in
 * silence and the run would say the key is missing. Messages name lines and variable names,
 * never a value (it may be a key). A leaf module: it imports nothing but the error class.
 */
export function parseDotEnv(text: string, file: string): Map<string, string> {
  const values = new Map<string, string>();
  const firstLine = new Map<string, number>();
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const n = i + 1;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!m) {
      problems.push(`${file}:${n}: ${badLine(line)}`);
      continue;
    }
    const name = m[1] as string;
    let raw = (m[2] as string).trim();
    // A quoted value may go on over several lines (as other .env readers allow), up to its quote.
    const quote = raw[0];
    if ((quote === '"' || quote === "'") && raw.indexOf(quote, 1) < 0) {
      let end = i + 1;
      while (end < lines.length && !(lines[end] as string).includes(quote)) end++;
      if (end === lines.length) {
        problems.push(`${file}:${n}: the value of ${name} opens a quote (${quote}) that is never closed`);
        break;
      }
      raw = [raw, ...lines.slice(i + 1, end + 1)].join("\n").trim();
      i = end;
    }
    const value = valueAsWritten(raw) as string;
    const first = firstLine.get(name);
    if (first !== undefined) {
      problems.push(`${file}:${n}: ${name} is set again (first on line ${first}); keep one`);
      continue;
    }
    firstLine.set(name, n);
    values.set(name, value);
  }
  if (problems.length > 0)
    throw new ConfigError(
      "env_invalid",
      `${problems.length === 1 ? "a line" : `${problems.length} lines`} of ${file} cannot be read:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
  return values;
}

/** The value as written: quoted (a comment may follow the closing quote), or bare up to ` #`. */
function valueAsWritten(raw: string): string {
  const quote = raw[0];
  if (quote === '"' || quote === "'") {
    const close = raw.indexOf(quote, 1);
    if (close < 0) return raw;
    const rest = raw.slice(close + 1).trim();
    if (rest !== "" && !rest.startsWith("#")) return raw; // e.g. "a" b: kept as written
    return raw.slice(1, close);
  }
  return raw.replace(/\s+#.*$/, "");
}

/** Why a line is not `NAME=value`, naming the variable where there plainly is one. */
function badLine(line: string): string {
  const named = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(:|\s)\s*\S/.exec(line);
  if (named) {
    const name = named[1] as string;
    return named[2] === ":"
      ? `write ${name}=value, not "${name}: value"`
      : `write ${name}=value (the "=" is missing)`;
  }
  const eq = line.indexOf("=");
  if (eq > 0) {
    const name = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, "");
    const shown = /^[\w.-]{1,64}$/.test(name) ? `"${name}" ` : "the name before = ";
    return `${shown}is not a variable name (letters, digits and _, not starting with a digit)`;
  }
  return "not a NAME=value line (a comment starts with #)";
}

/** Reads and parses the file at `path`; an unreadable file is refused by name. */
export function readDotEnv(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "EISDIR"
        ? "it is a folder"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : (code ?? (e as Error).message);
    throw new ConfigError("env_invalid", `cannot read ${path} (${why}); silico reads API keys from it`);
  }
  return parseDotEnv(text, path);
}
