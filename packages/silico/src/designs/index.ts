import { setRecompile } from "../engine/run-study.js";
import { StudyError } from "../errors.js";
import { isObj, isStackOverflow } from "../study/common.js";
import { parseStudyText, readStudyFile, type StudySource } from "../study/source.js";
import type { CompiledStudy, CompileOptions, Design } from "./design.js";
import { agentsDesign } from "./agents/agents-design.js";
import { alterEgoDesign } from "./alter-ego/index.js";
import { factorialDesign } from "./factorial/factorial-design.js";
import { gameDesign } from "./game/index.js";
import { otreeDesign } from "./otree/index.js";
import { stimuliDesign } from "./stimuli/index.js";

const designs: Design[] = [
  factorialDesign,
  gameDesign,
  stimuliDesign,
  alterEgoDesign,
  agentsDesign,
  otreeDesign,
];

/** Later capabilities (games, stimuli, alter_ego) add their compilers here. */
export function registerDesign(design: Design): void {
  if (!designs.some((d) => d.kind === design.kind)) designs.push(design);
}

export function designKinds(): string[] {
  return designs.map((d) => d.kind);
}

export function compileSource(src: StudySource, options: CompileOptions = {}): CompiledStudy {
  const data = src.data as Record<string, unknown>;
  let design: Design | undefined;
  if (data.kind !== undefined) {
    design = designs.find((d) => d.kind === data.kind);
    if (!design) {
      throw new StudyError([
        {
          where: src.where(["kind"]),
          message: `unknown kind ${JSON.stringify(data.kind)}; known kinds: ${designKinds().join(", ")}`,
        },
      ]);
    }
  } else {
    design = designs.find((d) => d.detect?.(data));
    if (!design) {
      throw new StudyError([
        {
          where: src.where([]),
          message: `missing "kind" (one of: ${designKinds().join(", ")}), and not recognised as an alter_ego built.json scenario`,
        },
      ]);
    }
  }
  try {
    const study = design.compile(src, options);
    study.compileOptions ??= options;
    return study;
  } catch (e) {
    // A check that recursed too deep on nesting no earlier limit caught: still the study's fault.
    if (isStackOverflow(e)) {
      throw new StudyError([{ where: src.file, message: "nested too deeply to compile" }]);
    }
    throw e;
  }
}

export function compileStudyFile(path: string, options: CompileOptions = {}): CompiledStudy {
  return compileSource(readStudyFile(path), options);
}

export function compileStudyText(text: string, path: string, options: CompileOptions = {}): CompiledStudy {
  return compileSource(parseStudyText(text, path), options);
}

export { isObj };

// Resuming a run compiles its stored text again; the engine asks for it through this seam.
setRecompile(compileStudyText);
