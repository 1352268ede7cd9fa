export {
  ALTER_EGO_KIND,
  ALTER_EGO_PARAMS,
  type AlterEgoCompileOptions,
  alterEgoDesign,
} from "./alter-ego-design.js";
export { type AssignmentMode, assignTreatments } from "./assignment.js";
export { egoRows, pyCsvLine, writeEgoCsv } from "./ego-export.js";
export { applyFilter, type FilterSpec, filterParser } from "./filters.js";
export { homogenize, pyStrip } from "./homogenize.js";
export { pyJsonLoads, pythonJsonDumps, toPlain } from "./python-json.js";
export { parseThreadDef, type ThreadDef, type ThreadType } from "./threads.js";
