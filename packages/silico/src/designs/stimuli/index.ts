export {
  stimuliDesign,
  orderTrials,
  type StimulusDesignName,
} from "./stimuli-design.js";
export { parseCsv, detectDelimiter, decodeCsvBytes, CsvSyntaxError, type CsvRecord } from "./csv-reader.js";
export { readXlsxSync, XlsxReadError, type XlsxSheet } from "./xlsx-reader.js";
export { readStimulusTable, TableError, type StimulusTable } from "./stimulus-table.js";
export { splitPrompt, toPromptContent, type PromptSegment } from "./prompt-parts.js";
export { COMPLETION_SEPARATOR } from "./procedure.js";
export { STIMULI_COORDINATES } from "./stimulus-rows.js";
export {
  MACBEHAVIOUR_COLUMNS,
  macbehaviourExport,
  writeMacbehaviour,
} from "./macbehaviour-export.js";
