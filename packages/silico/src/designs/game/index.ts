export { assignTreatments, type AssignmentMode } from "./assignment.js";
export { gameDesign } from "./game-design.js";
export {
  groupSize,
  partnerMatching,
  sessionSeats,
  strangerMatching,
  type RoundGroup,
  type Seat,
} from "./matching.js";
