import { lstatSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

const PREFIX = "silico-chromium-";
/** `silico-chromium-<pid>-` + mkdtemp's 6 characters: only folders silico made, each naming its process. */
const PROFILE_NAME = /^silico-chromium-(\d+)-[A-Za-z0-9]{6}$/;

/** The mkdtemp prefix of this process's Chromium profile folders (the pid says whose it is). */
export function profilePrefix(parent = tmpdir(), pid = process.pid): string {
  return join(parent, `${PREFIX}${pid}-`);
}

/**
 * Removes the Chromium profile folders that silico processes which are gone left in `parent` (a
 * `kill -9` gives `SharedBrowser.close` no chance). A folder is removed only when its name is one
 * silico gives (`silico-chromium-<pid>-XXXXXX`), it is a real folder of this user, its process is
 * not running, and no live Chromium holds its profile lock. Returns the folders removed.
 */
export function removeStaleProfiles(parent = tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const name of names) {
    const m = PROFILE_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const path = join(parent, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      if (lockHeld(path)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Gone meanwhile, or not ours to remove: leave it.
    }
  }
  return removed;
}

/** True while a process with this pid exists (EPERM: it exists, another user's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Chromium's `SingletonLock` is a symlink to `<host>-<pid>` of the browser using the profile: a
 * Chromium that outlived its silico (it is not in silico's process group) keeps its folder.
 */
function lockHeld(profile: string): boolean {
  let target: string;
  try {
    target = readlinkSync(join(profile, "SingletonLock"));
  } catch {
    return false;
  }
  const m = /^(.*)-(\d+)$/.exec(target);
  if (!m) return true;
  // Another host's lock (a shared temp folder) cannot be checked from here: keep the folder.
  return m[1] !== hostname() || pidAlive(Number(m[2]));
}
