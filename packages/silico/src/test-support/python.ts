import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (packages/silico/src/test-support → four levels up). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

/** The virtual environment `npm test` creates for the Python tools the tests compare against. */
export const TEST_VENV = join(REPO_ROOT, ".venv-test");

/**
 * The Python interpreter for tests that run Python tools (alter_ego): `ALTER_EGO_PYTHON` or
 * `SILICO_TEST_PYTHON` when set, else the test venv's interpreter when it exists, else `python3`.
 * Tests never install into that interpreter; `npm test` (scripts/test.mjs) fills the venv.
 */
export function testPython(): string {
  const fromEnv = process.env.ALTER_EGO_PYTHON || process.env.SILICO_TEST_PYTHON;
  if (fromEnv) return fromEnv;
  const venvPython =
    process.platform === "win32"
      ? join(TEST_VENV, "Scripts", "python.exe")
      : join(TEST_VENV, "bin", "python");
  return existsSync(venvPython) ? venvPython : "python3";
}

/** How to get the interpreter `testPython()` wants, for error messages. */
export const PYTHON_SETUP_HINT =
  "run `npm test` once (it creates .venv-test/ and installs scripts/alter-ego-diff/requirements.txt there), " +
  "or set ALTER_EGO_PYTHON to a Python that has alter_ego_llm==1.6.0 and jinja2";
