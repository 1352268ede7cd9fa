import type { LocalModelPackage } from "silico";
import { describe, expect, it } from "vitest";
import * as pkg from "./index.js";

// silico imports this package through its LocalModelPackage interface; the assignment below makes
// the type checker (npm run typecheck covers test files) catch any drift between the two.
const seam: LocalModelPackage = pkg;

describe("the package silico loads", () => {
  it("provides what silico's LocalModelPackage interface names", () => {
    for (const name of [
      "createLocalModel",
      "listModels",
      "pullModel",
      "catalogEntry",
      "loadCatalog",
      "modelsDir",
    ])
      expect(typeof (seam as unknown as Record<string, unknown>)[name], name).toBe("function");
    expect(seam.catalogEntry("smollm2-135m")).toMatchObject({ file: "SmolLM2-135M-Instruct.Q4_1.gguf" });
  });
});
