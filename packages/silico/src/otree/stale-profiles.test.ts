import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pidAlive, profilePrefix, removeStaleProfiles } from "./stale-profiles.js";

let parent: string;
let live: ChildProcess;
let dead: number;

beforeAll(() => {
  parent = mkdtempSync(join(tmpdir(), "silico-stale-test-"));
  // A process that is running for the whole test, and the pid of one that has ended.
  live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid as number;
});

afterAll(() => {
  live.kill("SIGKILL");
  rmSync(parent, { recursive: true, force: true });
});

function folder(name: string): string {
  const path = join(parent, name);
  mkdirSync(path);
  writeFileSync(join(path, "Preferences"), "{}");
  return path;
}

describe("removeStaleProfiles", () => {
  it("removes only the profile folders of silico processes that are gone", () => {
    expect(pidAlive(dead)).toBe(false);
    expect(pidAlive(live.pid as number)).toBe(true);
    const stale = folder(`silico-chromium-${dead}-a1B2c3`);
    const running = folder(`silico-chromium-${live.pid}-d4E5f6`);
    const mine = folder(`silico-chromium-${process.pid}-g7H8i9`);
    // Folders of an older silico (no pid in the name), and other programs' folders, are not ours to judge.
    const oldStyle = folder("silico-chromium-Xy12ab");
    const other = folder(`other-chromium-${dead}-j1K2l3`);
    const file = join(parent, `silico-chromium-${dead}-m4N5o6`);
    writeFileSync(file, "not a folder");
    // A Chromium that outlived its silico still holds its profile: its folder stays.
    const locked = folder(`silico-chromium-${dead}-p7Q8r9`);
    symlinkSync(`${hostname()}-${live.pid}`, join(locked, "SingletonLock"));
    const unlocked = folder(`silico-chromium-${dead}-s1T2u3`);
    symlinkSync(`${hostname()}-${dead}`, join(unlocked, "SingletonLock"));

    expect(removeStaleProfiles(parent).sort()).toEqual([stale, unlocked].sort());
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(unlocked)).toBe(false);
    for (const kept of [running, mine, oldStyle, other, file, locked]) expect(existsSync(kept)).toBe(true);
    // Nothing is left to remove a second time.
    expect(removeStaleProfiles(parent)).toEqual([]);
  });

  it("names this process's folders with its pid, in the folder given", () => {
    const prefix = profilePrefix(parent);
    expect(dirname(prefix)).toBe(parent);
    expect(basename(prefix)).toBe(`silico-chromium-${process.pid}-`);
    const made = mkdtempSync(prefix);
    expect(removeStaleProfiles(parent)).toEqual([]);
    expect(existsSync(made)).toBe(true);
  });

  it("is harmless on a folder that is not there", () => {
    expect(removeStaleProfiles(join(parent, "missing"))).toEqual([]);
  });
});
