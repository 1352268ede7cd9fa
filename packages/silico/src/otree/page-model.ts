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
  /**
   * A checkbox without `blank=True`: oTree refuses the page while it is unticked ("This field is
   * required."). `required` stays false because leaving it out is still a valid post (= False).
   */
  mustTick?: boolean;
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

/** What `{{ chat }}` embeds in a page: enough to join the chat over its websocket. */
export interface OtreeChat {
  /** The chat channel, e.g. `1-chat-1` (session, app, group by default). */
  channel: string;
  /** Socket path relative to the server, e.g. `/chat?channel=…&participant_id=…` (signed values). */
  socketPath: string;
  /** The participant's chat id: messages whose `participant_id` equals it are the bot's own. */
  participantId: number;
  /** The nickname others see. */
  nickname: string;
  /** Send `{body, nickname_signed}` on the socket; oTree rejects a message without it. */
  nicknameSigned: string;
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

  // Optional facts (added for the bots of issue 11); absent when the page does not show them.

  /** From the page URL `/p/{participantCode}/{app}/{pageName}/{pageIndex}`; absent for other URLs. */
  participantCode?: string;
  /** The app's NAME_IN_URL. */
  app?: string;
  /** The page class, e.g. `Contribute` or `ResultsWaitPage`. */
  pageName?: string;
  /** The participant's page index in the whole session, from 1: it grows over rounds and apps. */
  pageIndex?: number;
  /**
   * Shown only in oTree's debug panel (DEBUG mode, e.g. a devserver): round number, id in group,
   * session code. Read before the panel is stripped from `text`.
   */
  round?: number;
  idInGroup?: number;
  sessionCode?: string;
  /**
   * The server re-displayed the page after a failed submit (response header
   * `otree-redisplay-with-errors: 1`); set only when the headers were given.
   */
  rejected?: boolean;
  /**
   * Field errors by field name (the same texts as `fields[].error`), plus errors of fields posted by
   * hand-written buttons: those sit outside any field wrapper, so they are given to the page's only
   * button group (and also listed in `pageErrors`, where they always are when there are several).
   */
  fieldErrors?: Record<string, string>;
  /** Why the page is an end page: oTree's "No more pages left", or a last page with nothing to submit. */
  endReason?: "out_of_range" | "nothing_to_submit";
  /**
   * Set (with kind "end") when the HTML is not an oTree participant page at all: no page form, no
   * wait page, no "No more pages left" (e.g. the plain-text traceback of a 500). Not an end to trust.
   */
  unrecognized?: boolean;
  /** The `{{ chat }}` of the page. */
  chat?: OtreeChat;
  /** `script#otree-live[data-socket-url]`: where a live page's websocket connects (relative path). */
  liveSocketUrl?: string;
  /** A wait page's websocket (`/wait_page?…`): a message without `error` means reload now. */
  waitSocketUrl?: string;
  /** A page's `script#websocket-redirect[data-socket-url]` (`/auto_advance?…`): the admin advanced the participant. */
  autoAdvanceSocketUrl?: string;
}
