// A labelled form field with its plain-language hint and its error, inline.
import type { ReactNode } from "react";

export function Field({
  label,
  hint,
  note,
  error,
  children,
  name,
}: {
  label: string;
  hint?: string;
  /** Why the prefilled value (the base model card's note). */
  note?: string;
  error?: string;
  name: string;
  children: ReactNode;
}) {
  return (
    <div className={`field${error ? " invalid" : ""}`} data-field={name}>
      <label>
        <span className="label">{label}</span>
        {children}
      </label>
      {note && (
        <p className="note" data-testid={`note-${name}`}>
          Recommended: {note}
        </p>
      )}
      {hint && <p className="hint">{hint}</p>}
      {error && (
        <p className="field-error" role="alert" data-testid={`error-${name}`}>
          {error}
        </p>
      )}
    </div>
  );
}
