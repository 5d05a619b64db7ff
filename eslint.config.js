// ESLint flat config for every TypeScript package of the repository.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**", "**/dist/**", "**/build/**", "**/generated/**", "artifacts/**", "cache/**",
      "coverage/**", ".tools/**", ".tributary/**", "**/.venv/**", "engine/assembly/**", "subgraph/src/**", "subgraph/tests/**", "**/*.d.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
      // Parsed JSON from other tools (HF configs, tokenizer.json, PEFT files) is typed `any` at the edge
      // and validated by hand; flag it, don't fail on it.
      "@typescript-eslint/no-explicit-any": "warn",
    },
  },
  {
    // Tests poke at untyped JSON (schemas, GraphQL answers, node-llama-cpp's dynamic import).
    files: ["**/test/**/*.ts", "**/tests/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
