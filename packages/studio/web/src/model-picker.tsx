/**
 * Models chosen at run time: one list for every participant (several for a factorial: one cell
 * per model) and, for a game, one per role (for kind: otree, one per bot seat). Ids only: silico's priced models, its free ones and
 * the study's own are offered; any `provider:model` may be typed. Keys stay on the server.
 */
export interface ModelChoice {
  all: string;
  roles: Record<string, string>;
}

/** The request fields for a choice (nothing when nothing is chosen). */
export function choiceBody(c: ModelChoice): { models?: string[]; roles?: Record<string, string> } {
  const models = c.all
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const roles = Object.fromEntries(Object.entries(c.roles).filter(([, m]) => m.trim() !== ""));
  return {
    ...(models.length > 0 ? { models } : {}),
    ...(Object.keys(roles).length > 0 ? { roles } : {}),
  };
}

export function ModelPicker({
  known,
  roles,
  current,
  value,
  onChange,
}: {
  known: string[];
  /** The study's roles (game), agents or bot seats (otree), with the model each has now and a label. */
  roles: [string, string, string?][];
  /** The study's own models, as the placeholder. */
  current: string;
  value: ModelChoice;
  onChange: (c: ModelChoice) => void;
}) {
  return (
    <fieldset class="models" data-testid="model-picker">
      <legend>Models for this run</legend>
      <datalist id="known-models">
        {known.map((m) => (
          <option key={m} value={m} />
        ))}
      </datalist>
      <label>
        all participants{" "}
        <input
          list="known-models"
          // Uncontrolled: a re-render while typing must not undo the typing; a change commits.
          defaultValue={value.all}
          placeholder={current || "as in the study"}
          size={30}
          data-testid="model-all"
          onChange={(e) => onChange({ ...value, all: (e.target as HTMLInputElement).value })}
        />
      </label>
      {roles.map(([r, m, shown]) => (
        <label key={r}>
          {" "}
          {shown ?? r}{" "}
          <input
            list="known-models"
            defaultValue={value.roles[r] ?? ""}
            placeholder={m || current || "as in the study"}
            size={22}
            data-testid={`model-role-${r}`}
            onChange={(e) =>
              onChange({ ...value, roles: { ...value.roles, [r]: (e.target as HTMLInputElement).value } })
            }
          />
        </label>
      ))}
    </fieldset>
  );
}
