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
  "or set ALTER_EGO_PYTHON to a Python that has alter_ego_llm==1.6.0, jinja2 and pyarrow";

/** The separate venv `npm test` creates for oTree (it cannot share .venv-test/ with alter_ego). */
export const TEST_OTREE_VENV = join(REPO_ROOT, ".venv-test-otree");

/**
 * The `otree` command for tests that start a real oTree server: `SILICO_TEST_OTREE` when set, else
 * the one in .venv-test-otree/ (`npm test` fills it from integrations/otree/requirements.txt).
 * Undefined when neither exists, so a test can say how to get it.
 */
export function testOtree(): string | undefined {
  const fromEnv = process.env.SILICO_TEST_OTREE;
  if (fromEnv) return fromEnv;
  const otree =
    process.platform === "win32"
      ? join(TEST_OTREE_VENV, "Scripts", "otree.exe")
      : join(TEST_OTREE_VENV, "bin", "otree");
  return existsSync(otree) ? otree : undefined;
}

/** The oTree project the integration tests run. */
export const OTREE_TEST_PROJECT = join(REPO_ROOT, "integrations", "otree", "test_project");

/** How to get the `otree` command `testOtree()` wants, for error messages. */
export const OTREE_SETUP_HINT =
  "run `npm test` once (it creates .venv-test-otree/ from integrations/otree/requirements.txt), " +
  "or set SILICO_TEST_OTREE to an oTree 6.0 `otree` command";
