/**
 * CPU time (ms) used so far by the live processes of one process group, from /proc (Linux only;
 * undefined elsewhere). The bench reads it for the oTree devserver's group around each part, to
 * show what one form page costs the server when bots or the scripted clients play it.
 */
import { readdirSync, readFileSync } from "node:fs";

export function groupCpuMs(pgid) {
  let ticks = 0;
  let entries;
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command's closing parenthesis: state ppid pgrp … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  // USER_HZ is 100 on Linux.
  return ticks * 10;
}
