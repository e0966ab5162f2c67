// Drives codex-shim's stored responses with two Node clients, as a user's app would:
// the official openai-node SDK, and the Vercel AI SDK (`@ai-sdk/openai`, which stores by default
// and sends earlier assistant turns as `item_reference`s).
//
//   node clients.mjs BASE_URL MODEL openai|ai-sdk
//
// Prints one JSON object; a failed assertion exits non-zero with the client's own view.
import assert from "node:assert/strict";
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, tool } from "ai";
import { z } from "zod";

const [base, model, which] = process.argv.slice(2);
const out = {};

if (which === "openai") {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused-by-the-shim", maxRetries: 0 });
  const r1 = await client.responses.create({ model, input: "My name is Ada." });
  assert.equal(r1.output_text, "Hello Ada.");
  assert.equal(r1.store, true);
  const stream = await client.responses.create({ model, input: "What is my name?", previous_response_id: r1.id, stream: true });
  let r2;
  for await (const event of stream) if (event.type === "response.completed") r2 = event.response;
  assert.equal(r2.previous_response_id, r1.id);
  const got = await client.responses.retrieve(r2.id);
  assert.equal(got.output[0].content[0].text, "Your name is Ada.");
  const items = [];
  for await (const item of client.responses.inputItems.list(r2.id, { limit: 1 })) items.push(item);
  assert.deepEqual(items.map((i) => i.content[0].text), ["What is my name?"]);
  await client.responses.delete(r1.id);
  await assert.rejects(client.responses.retrieve(r1.id), (e) => e.status === 404);
  await assert.rejects(
    client.responses.create({ model, input: "Again?", previous_response_id: r1.id }),
    (e) => e.status === 400 && e.code === "previous_response_not_found" && e.param === "previous_response_id",
  );
  Object.assign(out, { r1: r1.id, r2: r2.id });
} else if (which === "ai-sdk") {
  // What the SDK sends: the input items' types of every request (for the test to see the
  // item references it relies on).
  out.inputs = [];
  const recording = async (url, init) => {
    out.inputs.push(JSON.parse(init.body).input.map((i) => i.type ?? `role:${i.role}`));
    return fetch(url, init);
  };
  const provider = createOpenAI({ baseURL: `${base}/v1`, apiKey: "unused-by-the-shim", fetch: recording });
  const tools = {
    get_weather: tool({
      description: "The weather in a city.",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => (city === "Paris" ? "18C and sunny" : "unknown"),
    }),
  };
  // A tool loop: the SDK runs the call and continues by itself.
  const first = await generateText({ model: provider.responses(model), tools, stopWhen: stepCountIs(3), prompt: "Weather in Paris?" });
  assert.equal(first.text, "It is 18C and sunny.");
  assert.equal(first.steps.length, 2);
  // The next turn carries the earlier ones as the SDK keeps them.
  const next = await generateText({
    model: provider.responses(model),
    tools,
    messages: [{ role: "user", content: "Weather in Paris?" }, ...first.response.messages, { role: "user", content: "And tomorrow?" }],
  });
  assert.equal(next.text, "Tomorrow too.");
  out.steps = first.steps.length;
} else {
  throw new Error(`unknown client ${which}`);
}
console.log(JSON.stringify(out));
