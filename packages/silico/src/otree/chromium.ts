import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { SilicoError } from "../errors.js";

/** The executables looked for on PATH, in order (Debian's package is `chromium`, Ubuntu's `chromium-browser`). */
const CHROMIUM_NAMES = ["chromium", "chromium-browser"];

export const CHROMIUM_INSTALL_HINT =
  "on Debian or Ubuntu install it with `apt-get install chromium`; elsewhere set SILICO_CHROMIUM to a " +
  "Chromium or Chrome executable";

/**
 * The Chromium executable for `driver: browser`: `SILICO_CHROMIUM` when set (a path, or a name
 * looked up on PATH), else `chromium` or `chromium-browser` on PATH. Playwright's own browser
 * downloads are never used, so a machine needs a system Chromium.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SILICO_CHROMIUM?.trim();
  if (fromEnv) {
    const found = isAbsolute(fromEnv) || fromEnv.includes("/") ? executable(fromEnv) : onPath(fromEnv, env);
    if (found) return found;
    throw new SilicoError(
      "setup_failed",
      `SILICO_CHROMIUM is ${JSON.stringify(fromEnv)}, which is not an executable file: ${CHROMIUM_INSTALL_HINT}`,
    );
  }
  for (const name of CHROMIUM_NAMES) {
    const found = onPath(name, env);
    if (found) return found;
  }
  throw new SilicoError(
    "setup_failed",
    `driver: browser needs Chromium, and neither ${CHROMIUM_NAMES.join(" nor ")} is on PATH: ${CHROMIUM_INSTALL_HINT}`,
  );
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const found = executable(join(dir, name));
    if (found) return found;
  }
  return undefined;
}

function executable(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return undefined;
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}
