import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/**
 * A place whose disk can be made full on purpose, for tests of what a run does when the store
 * cannot be written. Tried in order: a small tmpfs (needs root or CAP_SYS_ADMIN), a loop-mounted
 * ext4 image (root, mkfs.ext4), and, where nothing can be mounted, a per-file size limit
 * (`ulimit -f`) on the child process, under which writes fail with EFBIG as they would on a
 * full disk. The test runs in every case; only the way the disk "fills" differs.
 */
export interface SmallDisk {
  readonly how: "tmpfs" | "loop" | "file-size-limit";
  readonly dir: string;
  /** The command that runs `node <args>` with the limit applied (identity unless file-size-limit). */
  command(nodeArgs: string[]): { file: string; args: string[] };
  /** Fill the file system now (with a size limit, writes beyond it already fail). */
  fill(): void;
  release(): void;
}

function tryExec(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function makeSmallDisk(base: string, sizeMb = 8): SmallDisk {
  const dir = join(base, "small-disk");
  mkdirSync(dir, { recursive: true });
  const direct = (nodeArgs: string[]) => ({ file: process.execPath, args: nodeArgs });
  const fill = () => {
    const fd = openSync(join(dir, "filler"), "a");
    try {
      // Big chunks first, then smaller ones, until not even one byte fits.
      for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
        const chunk = Buffer.alloc(size, 1);
        for (;;) {
          try {
            writeSync(fd, chunk);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOSPC") break;
            throw e;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  };
  const unmount = () => {
    tryExec("umount", [dir]) || tryExec("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  };

  // SILICO_TEST_SMALL_DISK=loop|file-size-limit checks a fallback on a machine where tmpfs works.
  const only = process.env.SILICO_TEST_SMALL_DISK;
  if (
    (!only || only === "tmpfs") &&
    tryExec("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir])
  ) {
    return { how: "tmpfs", dir, command: direct, fill, release: unmount };
  }
  const image = join(base, "small-disk.img");
  if (
    (!only || only === "loop") &&
    tryExec("truncate", ["-s", `${sizeMb}M`, image]) &&
    tryExec("mkfs.ext4", ["-q", "-F", image]) &&
    tryExec("mount", ["-o", "loop", image, dir])
  ) {
    return {
      how: "loop",
      dir,
      command: direct,
      fill,
      release: () => {
        unmount();
        rmSync(image, { force: true });
      },
    };
  }
  // No mount possible: limit the size of every file the child writes. 2048 blocks is 1 MB in
  // dash and 2 MB in bash; either lets a run commit some answers, then fails.
  return {
    how: "file-size-limit",
    dir,
    command: (nodeArgs) => ({
      file: "/bin/sh",
      args: ["-c", 'trap "" XFSZ; ulimit -f 2048; exec "$0" "$@"', process.execPath, ...nodeArgs],
    }),
    fill: () => {},
    release: () => rmSync(dir, { recursive: true, force: true }),
  };
}
