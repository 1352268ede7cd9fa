import { readFileSync, statSync } from "node:fs";
import { extname, isAbsolute, resolve } from "node:path";
import type { ContentPart } from "../../models/types.js";

export type PromptSegment =
  | { type: "text"; text: string }
  | { type: "image"; source: string; url: string }
  | { type: "image"; source: string; path: string; mediaType: string };

const MEDIA_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
};

const TAG = /<(img|text)>([\s\S]*?)<\/\1>/gi;

/**
 * Splits a stimulus prompt into text and `<img>…</img>` segments (MacBehaviour's markup).
 * `<text>…</text>` wrappers are accepted and dropped; text outside tags is kept as it is.
 * An image is a URL (http, https, data) or a file path relative to `baseDir` (the stimulus
 * file's folder). Throws an Error with a readable message for a broken tag or image.
 */
export function splitPrompt(prompt: string, baseDir: string): PromptSegment[] {
  const out: PromptSegment[] = [];
  let last = 0;
  const pushText = (t: string) => {
    if (t === "") return;
    const prev = out.at(-1);
    if (prev?.type === "text") prev.text += t;
    else out.push({ type: "text", text: t });
  };
  for (const m of prompt.matchAll(TAG)) {
    pushText(prompt.slice(last, m.index));
    last = (m.index ?? 0) + m[0].length;
    const body = m[2] as string;
    if ((m[1] as string).toLowerCase() === "text") {
      pushText(body);
      continue;
    }
    out.push(imageSegment(body.trim(), baseDir));
  }
  const rest = prompt.slice(last);
  if (/<img\b[^>]*>/i.test(rest)) throw new Error("an <img> tag is not closed with </img>");
  pushText(rest);
  return out;
}

function imageSegment(source: string, baseDir: string): PromptSegment {
  if (source === "") throw new Error("an <img></img> tag is empty");
  if (/^https?:\/\//i.test(source) || /^data:image\//i.test(source))
    return { type: "image", source, url: source };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source))
    throw new Error(`image "${source}": only http(s) URLs or local files`);
  const mediaType = MEDIA_TYPES[extname(source).toLowerCase()];
  if (!mediaType) {
    throw new Error(`image "${source}": unsupported type (use ${Object.keys(MEDIA_TYPES).join(", ")})`);
  }
  const path = isAbsolute(source) ? source : resolve(baseDir, source);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new Error(`image file "${source}" not found (looked at ${path})`);
  return { type: "image", source, path, mediaType };
}

export function hasImage(segments: readonly PromptSegment[]): boolean {
  return segments.some((s) => s.type === "image");
}

/** The plain text of the segments (images left out). */
export function segmentsText(segments: readonly PromptSegment[]): string {
  return segments.map((s) => (s.type === "text" ? s.text : "")).join("");
}

/**
 * What is sent: plain text when there is no image (so text-only prompts stay ordinary
 * messages), otherwise content parts; local images are read now and sent inline as base64.
 */
export function toPromptContent(segments: readonly PromptSegment[]): string | ContentPart[] {
  if (!hasImage(segments)) return segmentsText(segments);
  return segments.map((s): ContentPart => {
    if (s.type === "text") return { type: "text", text: s.text };
    if ("url" in s) return { type: "image", url: s.url };
    return { type: "image", data: readFileSync(s.path).toString("base64"), mediaType: s.mediaType };
  });
}
