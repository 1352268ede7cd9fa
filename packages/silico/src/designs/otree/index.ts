export { BOT_ID, BotStopped, playBot, type BotOptions } from "./bot.js";
export {
  COORDINATE_COLUMNS,
  createOtreeDesign,
  type OtreeDesignOptions,
  otreeDesign,
} from "./otree-design.js";
export { otreeSchema, type OtreeStudy } from "./otree-schema.js";
export { OtreeSessionHost, type OtreeRunState, type SeatRecord } from "./otree-session.js";
export type { OtreeSpec } from "./spec.js";
export { BOT_COLUMNS, writeOtreeWide } from "./otree-export.js";
export { BotParts } from "./bot-parts.js";
