// Local Workers AI binding, against loopback fakes started here:
// - a fake embedding sidecar speaking infra/dev/embeddings.py's protocol (POST /embed);
// - a fake OpenAI-compatible server (POST /v1/chat/completions, JSON and SSE streaming, as in
//   platform.openai.com/docs/api-reference/chat and Ollama's OpenAI compatibility).
// Expected Workers AI shapes and errors come from developers.cloudflare.com/workers-ai/
// (bge model pages: `{ shape, data }`; JSON mode; SSE `data: {"response": ...}` / `[DONE]`) and
// workerd's binding (src/cloudflare/internal/ai-api.ts: `${internalCode}: ${description}`).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, beforeEach, describe, test } from "node:test";

import { createAiBinding, EMBEDDING_MODELS, InferenceUpstreamError, LocalAiError } from "../bindings/ai.mjs";

/** Starts a loopback HTTP server; `handle(req, body)` returns { status, json } or { status, chunks }. */
async function loopbackServer(handle) {
  const requests = [];
  const server = createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const record = { method: req.method, url: req.url, headers: req.headers, body: raw ? JSON.parse(raw) : null };
    requests.push(record);
    const reply = await handle(record);
    if (reply.chunks) {
      res.writeHead(reply.status ?? 200, { "content-type": "text/event-stream" });
      for (const chunk of reply.chunks) {
        res.write(chunk);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
      return;
    }
    const text = typeof reply.json === "string" ? reply.json : JSON.stringify(reply.json);
    res.writeHead(reply.status ?? 200, { "content-type": "application/json" });
    res.end(text);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function readStream(stream) {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

// ---------------------------------------------------------------------------------------------

describe("the reranker", () => {
  let sidecar;
  before(async () => {
    // Scores each text by its length: enough to see the order and the ids come back right.
    sidecar = await loopbackServer(({ body }) => ({ json: { reranker: "fake", scores: body.texts.map((t) => t.length) } }));
  });
  after(() => sidecar.close());

  test("{ query, contexts, top_k } becomes { response: [{ id, score }] }, best first, cut at top_k", async () => {
    const ai = createAiBinding({ embeddingsUrl: sidecar.url });
    const result = await ai.run("@cf/baai/bge-reranker-base", {
      query: "q",
      contexts: [{ text: "aa" }, { text: "aaaa" }, { text: "a" }],
      top_k: 2,
    });
    assert.deepEqual(result, { response: [{ id: 1, score: 4 }, { id: 0, score: 2 }] });
    assert.deepEqual(sidecar.requests.at(-1).body, {
      model: "@cf/baai/bge-reranker-base",
      query: "q",
      texts: ["aa", "aaaa", "a"],
    });
  });

  test("inputs of another shape fail as Workers AI's schema check does", async () => {
    const ai = createAiBinding({ embeddingsUrl: sidecar.url });
    for (const [inputs, message] of [
      [{ contexts: [{ text: "a" }] }, /5006: .*'query', 'contexts'/],
      [{ query: "q", contexts: ["a"] }, /5006: .*'\/contexts\/0' must be an object/],
      [{ query: "q", contexts: [{ text: "a" }], top_k: 0 }, /5006: .*'\/top_k'/],
      [{ query: "q", contexts: [{ text: "a" }], extra: 1 }, /5006: .*'\/extra'/],
    ]) {
      await assert.rejects(ai.run("@cf/baai/bge-reranker-base", inputs), message);
    }
  });
});

describe("embedding models", () => {
  let sidecar;
  let reply;
  before(async () => {
    sidecar = await loopbackServer((request) => reply(request));
  });
  after(() => sidecar.close());
  beforeEach(() => {
    sidecar.requests.length = 0;
    reply = ({ body }) => ({
      json: {
        embedder: "fake",
        dimensions: body.dimensions,
        vectors: body.texts.map((_, i) => Array.from({ length: body.dimensions }, (__, j) => (j === i ? 1 : 0))),
      },
    });
  });

  test("the catalog's dimensions", () => {
    assert.deepEqual(EMBEDDING_MODELS, {
      "@cf/baai/bge-small-en-v1.5": 384,
      "@cf/baai/bge-base-en-v1.5": 768,
      "@cf/baai/bge-large-en-v1.5": 1024,
    });
  });

  test("a string or a list of strings becomes { shape, data } from the sidecar", async () => {
    const ai = createAiBinding({ embeddingsUrl: sidecar.url });
    const one = await ai.run("@cf/baai/bge-small-en-v1.5", { text: "hello" });
    assert.deepEqual(one.shape, [1, 384]);
    assert.equal(one.data[0][0], 1);
    assert.deepEqual(Object.keys(one).sort(), ["data", "shape"]);

    const many = await ai.run("@cf/baai/bge-base-en-v1.5", { text: ["a", "b", "c"] });
    assert.deepEqual(many.shape, [3, 768]);
    assert.equal(many.data[2][2], 1);
    assert.deepEqual(sidecar.requests.map((r) => [r.method, r.url, r.body]), [
      ["POST", "/embed", { model: "@cf/baai/bge-small-en-v1.5", texts: ["hello"], dimensions: 384 }],
      ["POST", "/embed", { model: "@cf/baai/bge-base-en-v1.5", texts: ["a", "b", "c"], dimensions: 768 }],
    ]);
  });

  test("the sidecar's refusal (dimension mismatch) is raised with both models named", async () => {
    const refusal =
      "@cf/baai/bge-base-en-v1.5 gives 768-dimensional embeddings, but the local embedder all-MiniLM-L6-v2 gives 384; " +
      "edgestack dev never resizes vectors.";
    reply = () => ({ status: 400, json: { error: refusal } });
    const ai = createAiBinding({ embeddingsUrl: sidecar.url });
    await assert.rejects(ai.run("@cf/baai/bge-base-en-v1.5", { text: "x" }), (error) => {
      assert.ok(error instanceof LocalAiError);
      assert.equal(error.message, `cannot run @cf/baai/bge-base-en-v1.5: ${refusal}`);
      return true;
    });
  });

  test("a malformed sidecar answer is an error, not a result", async () => {
    reply = ({ body }) => ({ json: { vectors: [Array(body.dimensions - 1).fill(0)] } });
    const ai = createAiBinding({ embeddingsUrl: sidecar.url });
    await assert.rejects(ai.run("@cf/baai/bge-small-en-v1.5", { text: "x" }), /did not return 1 vectors of 384 numbers/);
  });

  test("an unreachable sidecar is named in the error", async () => {
    const gone = await loopbackServer(() => ({ json: {} }));
    await gone.close();
    const ai = createAiBinding({ embeddingsUrl: gone.url });
    await assert.rejects(
      ai.run("@cf/baai/bge-small-en-v1.5", { text: "x" }),
      new RegExp(`the embedding sidecar at ${gone.url} is unreachable \\(ECONNREFUSED\\)`),
    );
  });

  test("no sidecar configured", async () => {
    const ai = createAiBinding({});
    await assert.rejects(ai.run("@cf/baai/bge-small-en-v1.5", { text: "x" }), /no local embedding sidecar is configured/);
  });

  test("invalid inputs fail with Workers AI's 5006 schema errors before any request", async () => {
    const ai = createAiBinding({ embeddingsUrl: sidecar.url });
    const model = "@cf/baai/bge-small-en-v1.5";
    await assert.rejects(ai.run(model, { prompt: "x" }), { name: "AiError", message: "5006: Error: required properties at '/' are 'text'" });
    await assert.rejects(ai.run(model, { text: "x", extra: 1 }), {
      message: "5006: Error: Additional or unevaluated properties '/extra' at '/' not allowed",
    });
    await assert.rejects(ai.run(model, { text: [] }), /^AiError: 5006: Error: '\/text' must hold 1 to 100 items, got 0/);
    await assert.rejects(ai.run(model, { text: Array(101).fill("x") }), /got 101/);
    await assert.rejects(ai.run(model, { text: [""] }), /at least 1 character/);
    await assert.rejects(ai.run(model, { text: 5 }), /Type mismatch of '\/text'/);
    await assert.rejects(ai.run(model, { text: "x", pooling: "max" }), /'\/pooling' must be one of 'mean', 'cls'/);
    assert.equal(sidecar.requests.length, 0);
  });
});

// ---------------------------------------------------------------------------------------------

describe("unavailable models", () => {
  test("a model that is not mapped fails like an unknown model on Cloudflare, with a local hint", async () => {
    const warnings = [];
    const ai = createAiBinding({}, { warn: (text) => warnings.push(text) });
    const error = await ai.run("@cf/meta/llama-3.1-8b-instruct", { prompt: "hi" }).catch((e) => e);
    assert.ok(error instanceof InferenceUpstreamError);
    assert.equal(error.name, "AiError");
    assert.equal(error.message, "5007: No such model @cf/meta/llama-3.1-8b-instruct or task");
    assert.equal(String(error), "AiError: 5007: No such model @cf/meta/llama-3.1-8b-instruct or task");
    await ai.run("@cf/meta/llama-3.1-8b-instruct", { prompt: "hi" }).catch(() => {});
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /not available locally; map it .*textGenerationModelMap/);
  });

  test("config errors", () => {
    assert.throws(() => createAiBinding({ textGenerationModelMap: { "@cf/x": "y" } }), /textGenerationUrl is not/);
    assert.throws(
      () => createAiBinding({ textGenerationUrl: "http://127.0.0.1:1", textGenerationModelMap: { "@cf/baai/bge-small-en-v1.5": "m" } }),
      /is an embedding model/,
    );
    assert.throws(() => createAiBinding({ embeddingsUrl: "not a url" }), /embeddingsUrl is not a URL/);
  });
});

// ---------------------------------------------------------------------------------------------

describe("text generation through an OpenAI-compatible server", () => {
  const MODEL = "@cf/meta/llama-3.1-8b-instruct";
  let server;
  let reply;
  before(async () => {
    server = await loopbackServer((request) => reply(request));
  });
  after(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    reply = () => ({
      json: {
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: "Paris." }, finish_reason: "stop" }],
        usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
      },
    });
  });
  const ai = (extra = {}) =>
    createAiBinding({
      textGenerationUrl: server.url,
      textGenerationModelMap: { [MODEL]: "llama3.1:8b" },
      ...extra,
    });

  test("a prompt becomes a user message; the answer comes back as { response, usage }", async () => {
    const result = await ai().run(MODEL, { prompt: "Capital of France?" });
    assert.deepEqual(result, { response: "Paris.", usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } });
    const [request] = server.requests;
    assert.equal(request.url, "/v1/chat/completions");
    assert.deepEqual(request.body, {
      model: "llama3.1:8b",
      messages: [{ role: "user", content: "Capital of France?" }],
      max_tokens: 256,
      stream: false,
    });
  });

  test("messages and sampling parameters are forwarded; a /v1 base URL is accepted; API key sent", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ];
    await ai({ textGenerationUrl: `${server.url}/v1/`, textGenerationApiKey: "sk-local" }).run(MODEL, {
      messages,
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      seed: 7,
      top_k: 5,
    });
    const [request] = server.requests;
    assert.equal(request.url, "/v1/chat/completions");
    assert.equal(request.headers.authorization, "Bearer sk-local");
    assert.deepEqual(request.body, { model: "llama3.1:8b", messages, max_tokens: 50, stream: false, temperature: 0.2, top_p: 0.9, seed: 7 });
  });

  test("tools are sent in OpenAI form and tool calls come back in Workers AI form", async () => {
    reply = () => ({
      json: {
        choices: [
          {
            message: {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } }],
            },
          },
        ],
      },
    });
    const tool = { name: "weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } };
    const result = await ai().run(MODEL, { messages: [{ role: "user", content: "Oslo?" }], tools: [tool] });
    assert.deepEqual(server.requests[0].body.tools, [{ type: "function", function: tool }]);
    assert.deepEqual(result, { response: "", tool_calls: [{ name: "weather", arguments: { city: "Oslo" } }] });
  });

  test("JSON mode returns the parsed object, or Workers AI's error when the model did not comply", async () => {
    reply = () => ({ json: { choices: [{ message: { content: '{"name":"India"}' } }] } });
    const schema = { type: "object", properties: { name: { type: "string" } } };
    const result = await ai().run(MODEL, { prompt: "India?", response_format: { type: "json_schema", json_schema: schema } });
    assert.deepEqual(result, { response: { name: "India" } });
    assert.deepEqual(server.requests[0].body.response_format, { type: "json_schema", json_schema: { name: "response", schema } });

    reply = () => ({ json: { choices: [{ message: { content: "not json" } }] } });
    await assert.rejects(ai().run(MODEL, { prompt: "x", response_format: { type: "json_object" } }), {
      name: "AiError",
      message: "JSON Mode couldn't be met",
    });
  });

  test("stream: true returns Workers AI server-sent events, whatever the chunking upstream", async () => {
    const events = [
      { choices: [{ delta: { role: "assistant", content: "" } }] },
      { choices: [{ delta: { content: "Hel" } }] },
      { choices: [{ delta: { content: "lo" } }] },
      { choices: [{ delta: {}, finish_reason: "stop" }] },
      { choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
    ];
    const wire = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
    // Split the upstream body at awkward places, including inside a JSON event.
    const chunks = [wire.slice(0, 17), wire.slice(17, 90), wire.slice(90, 91), wire.slice(91)];
    reply = () => ({ chunks });
    const stream = await ai().run(MODEL, { prompt: "Say hello", stream: true });
    assert.ok(stream instanceof ReadableStream);
    assert.equal(server.requests[0].body.stream, true);
    assert.deepEqual(server.requests[0].body.stream_options, { include_usage: true });
    assert.equal(
      await readStream(stream),
      'data: {"response":"Hel"}\n\n' +
        'data: {"response":"lo"}\n\n' +
        'data: {"response":"","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n' +
        "data: [DONE]\n\n",
    );
  });

  test("a stream that ends without [DONE] is still terminated", async () => {
    reply = () => ({ chunks: [`data: ${JSON.stringify({ choices: [{ delta: { content: "x" } }] })}\n\n`] });
    const text = await readStream(await ai().run(MODEL, { prompt: "x", stream: true }));
    assert.equal(text, 'data: {"response":"x"}\n\ndata: [DONE]\n\n');
  });

  test("input errors match Workers AI's", async () => {
    await assert.rejects(ai().run(MODEL, { prompt: "a", messages: [] }), {
      name: "InvalidInput",
      message: "1001: prompt and messages are mutually exclusive",
    });
    await assert.rejects(ai().run(MODEL, {}), {
      name: "AiError",
      message:
        "5006: Error: oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt', required properties at '/' are 'messages'",
    });
    await assert.rejects(ai().run(MODEL, { messages: [{ content: "no role" }] }), /required properties at '\/messages\/0' are 'role,content'/);
    assert.equal(server.requests.length, 0);
  });

  test("an upstream error names the local model and the server's answer", async () => {
    reply = () => ({ status: 404, json: { error: { message: 'model "llama3.1:8b" not found, try pulling it first' } } });
    await assert.rejects(ai().run(MODEL, { prompt: "x" }), (error) => {
      assert.ok(error instanceof LocalAiError);
      assert.match(error.message, /cannot run @cf\/meta\/llama-3\.1-8b-instruct as local model "llama3\.1:8b": .* answered HTTP 404: .*try pulling it first/);
      return true;
    });
  });

  test("an unreachable server is named", async () => {
    const gone = await loopbackServer(() => ({ json: {} }));
    await gone.close();
    await assert.rejects(ai({ textGenerationUrl: gone.url }).run(MODEL, { prompt: "x" }), /text-generation server at .* is unreachable \(ECONNREFUSED\)/);
  });
});
