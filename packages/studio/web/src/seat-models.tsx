import { useState } from "preact/hooks";
import type { StudyEdit } from "./study-tables";

interface SeatsEntry {
  seats?: unknown;
  model?: unknown;
}

const seatsLabel = (s: unknown) => (Array.isArray(s) ? s.map(String).join(", ") : String(s ?? "?"));

/**
 * kind: otree: the bots' models as they stand in the file: the block's default and each
 * `bots.seats` entry's own, plus a new entry for further seats. Unlike the run-time picker these
 * are edits of the study text (only the edited value's characters change); the compiler checks the
 * result like any typing, its problems shown inline.
 */
export function SeatModels({
  bots,
  onEdit,
}: {
  /** The study's `bots` block, as parsed. */
  bots: Record<string, unknown>;
  onEdit: (edits: StudyEdit[]) => void;
}) {
  const [seat, setSeat] = useState("");
  const [model, setModel] = useState("");
  const fallback = typeof bots.model === "string" ? bots.model : "";
  const entries: SeatsEntry[] = Array.isArray(bots.seats)
    ? (bots.seats as unknown[]).map((e) => (typeof e === "object" && e !== null ? (e as SeatsEntry) : {}))
    : [];

  function add() {
    const n = Number(seat);
    if (!Number.isInteger(n) || n < 1 || model.trim() === "") return;
    const entry = `{ seats: [${n}], model: ${JSON.stringify(model.trim())} }`;
    onEdit([
      Array.isArray(bots.seats)
        ? { op: "set", path: ["bots", "seats", entries.length], value: entry }
        : { op: "set", path: ["bots", "seats"], value: `[${entry}]` },
    ]);
    setSeat("");
    setModel("");
  }

  return (
    <fieldset class="models" data-testid="seat-models">
      <legend>Bot models in the file (per seat)</legend>
      <label>
        default{" "}
        <input
          key={`default-${fallback}`}
          list="known-models"
          defaultValue={fallback}
          size={24}
          data-testid="seat-model-default"
          onChange={(e) => {
            const v = (e.target as HTMLInputElement).value.trim();
            if (v !== "" && v !== fallback)
              onEdit([{ op: "set", path: ["bots", "model"], value: v, as: "text" }]);
          }}
        />
      </label>
      {entries.map((e, i) => {
        const own = typeof e.model === "string" ? e.model : "";
        return (
          <label key={`${i}-${own}`}>
            {" "}
            seats {seatsLabel(e.seats)}{" "}
            <input
              list="known-models"
              defaultValue={own}
              placeholder={fallback || "the default"}
              size={22}
              data-testid={`seat-model-${i}`}
              onChange={(ev) => {
                const v = (ev.target as HTMLInputElement).value.trim();
                if (v === own) return;
                onEdit([
                  v === ""
                    ? { op: "delete", path: ["bots", "seats", i, "model"] }
                    : { op: "set", path: ["bots", "seats", i, "model"], value: v, as: "text" },
                ]);
              }}
            />
          </label>
        );
      })}
      <span class="add-seat">
        {" "}
        + seat{" "}
        <input
          type="number"
          min={1}
          value={seat}
          size={3}
          style={{ width: "4em" }}
          data-testid="seat-add-seat"
          onInput={(e) => setSeat((e.target as HTMLInputElement).value)}
        />{" "}
        <input
          list="known-models"
          value={model}
          placeholder="provider:model"
          size={20}
          data-testid="seat-add-model"
          onInput={(e) => setModel((e.target as HTMLInputElement).value)}
        />{" "}
        <button
          type="button"
          data-testid="seat-add"
          disabled={seat === "" || model.trim() === ""}
          onClick={add}
        >
          Add
        </button>
      </span>
    </fieldset>
  );
}
