// A labelled form field with its plain-language hint and its error, inline.
import type { ReactNode } from "react";

export function Field({
  label,
  hint,
  error,
  children,
  name,
}: {
  label: string;
  hint?: string;
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
      {hint && <p className="hint">{hint}</p>}
      {error && (
        <p className="field-error" role="alert" data-testid={`error-${name}`}>
          {error}
        </p>
      )}
    </div>
  );
}
