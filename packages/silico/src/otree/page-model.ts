/** What a participant page of oTree asks for, read from its HTML (see page-reader.ts). */

export type OtreePageKind =
  /** A page to submit: fields and/or buttons. */
  | "form"
  /** A wait page: re-open the start link (or the page URL) later. */
  | "wait"
  /** No more pages: "No more pages left", or a last page without anything to submit. */
  | "end";

export type OtreeFieldWidget = "number" | "decimal" | "text" | "textarea" | "select" | "radio" | "checkbox";

export interface OtreeChoice {
  /** What to POST. */
  value: string;
  /** What the participant sees. */
  label: string;
}

export interface OtreeField {
  name: string;
  label: string;
  widget: OtreeFieldWidget;
  /** JSON Schema type of the value. */
  type: "integer" | "number" | "string" | "boolean";
  /** oTree marks a field `required` unless it is `blank=True`; a checkbox is never required. */
  required: boolean;
  min?: number;
  max?: number;
  /** select and radio fields. */
  choices?: OtreeChoice[];
  /** Unit shown next to the input (currency: "points"). */
  unit?: string;
  /** The value the page shows (echoed back after a validation error). */
  value?: string;
  /** The error oTree shows under this field after a failed submit. */
  error?: string;
}

export interface OtreeButton {
  /** Hand-written buttons post `name=value`; oTree's next/back buttons have no name. */
  name?: string;
  value?: string;
  label: string;
  role: "next" | "back" | "choice";
}

export interface OtreePage {
  kind: OtreePageKind;
  title: string;
  /** The page body as text, without scripts and without oTree's debug panel. */
  text: string;
  fields: OtreeField[];
  buttons: OtreeButton[];
  /** Page-level errors (`error_message`, or oTree's "Please fix the errors."). */
  pageErrors: string[];
  /** Seconds left when the page has a timeout. */
  timeoutSeconds?: number;
  /** A live page (`live_method`): needs a websocket, which this reader does not speak. */
  live: boolean;
}
