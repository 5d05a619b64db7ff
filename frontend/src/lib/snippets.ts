// The "API" panel: how to call a model from a terminal or code, for its exact model id.

/** A curl command streaming a chat completion from `apiUrl` (…/v1). */
export function curlSnippet(apiUrl: string, modelId: string, prompt = "Hello!"): string {
  const body = JSON.stringify(
    { model: modelId, messages: [{ role: "user", content: prompt }], stream: true },
    null,
    2,
  );
  return [
    `curl ${apiUrl}/chat/completions \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '${body.replace(/'/g, "'\\''")}'`,
  ].join("\n");
}

/** The same call with the official OpenAI SDK for JavaScript. */
export function openAiJsSnippet(apiUrl: string, modelId: string, prompt = "Hello!"): string {
  return `import OpenAI from "openai";

const client = new OpenAI({ baseURL: ${JSON.stringify(apiUrl)}, apiKey: "not-needed-locally" });
const stream = await client.chat.completions.create({
  model: ${JSON.stringify(modelId)},
  messages: [{ role: "user", content: ${JSON.stringify(prompt)} }],
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
`;
}

/** The same call with the OpenAI SDK for Python. */
export function openAiPythonSnippet(apiUrl: string, modelId: string, prompt = "Hello!"): string {
  return `from openai import OpenAI

client = OpenAI(base_url=${JSON.stringify(apiUrl)}, api_key="not-needed-locally")
stream = client.chat.completions.create(
    model=${JSON.stringify(modelId)},
    messages=[{"role": "user", "content": ${JSON.stringify(prompt)}}],
    stream=True,
)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="")
`;
}
