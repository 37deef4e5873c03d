// Local Workers AI binding for `edgestack dev`: `run(model, inputs, options?)`.
//
// - Embedding models (bge-small/base/large) go to the Python embedding sidecar
//   (infra/dev/embeddings.py), which answers with a real local model or the hashing embedder and
//   refuses a model whose dimensions differ from its own. The result is `{ shape, data }`.
// - The reranker (bge-reranker-base) goes to the sidecar's /rerank, whose stand-in scores each
//   context by the local embedder's cosine similarity to the query (no cross-encoder is packaged);
//   the result is Workers AI's `{ response: [{ id, score }] }`, best first.
// - Text-generation models listed in `textGenerationModelMap` go to an OpenAI-compatible server
//   (for example a local Ollama) and come back as `{ response, tool_calls?, usage? }`, or, with
//   `stream: true`, as a ReadableStream of Workers AI server-sent events.
// - Any other model fails as on Cloudflare: `AiError: 5007: No such model <model> or task`.
//   Nothing here invents output.
//
// Error names and texts follow workerd's binding (src/cloudflare/internal/ai-api.ts) and errors
// seen from the service; sources are listed in docs/local-bindings.md.

/** Workers AI embedding models and their output dimensions (Cloudflare's model catalog). */
export const EMBEDDING_MODELS = Object.freeze({
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
});

/** Workers AI reranker models: `{ query, contexts: [{ text }], top_k? }` -> `{ response: [{ id, score }] }`. */
export const RERANKER_MODELS = Object.freeze(["@cf/baai/bge-reranker-base"]);

const WORKERS_AI_DEFAULT_MAX_TOKENS = 256;
const MAX_EMBEDDING_TEXTS = 100;
const FORWARDED_GENERATION_PARAMS = ["temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"];

/** The error class of the real binding: message `${code}: ${description}`, name from the service. */
export class InferenceUpstreamError extends Error {
  constructor(message, name = "InferenceUpstreamError") {
    super(message);
    this.name = name;
  }
}

/** A local-runtime problem (sidecar or text-generation server missing, model mismatch). */
export class LocalAiError extends Error {
  constructor(message) {
    super(message);
    this.name = "EdgestackLocalAiError";
  }
}

function schemaError(detail) {
  return new InferenceUpstreamError(`5006: Error: ${detail}`, "AiError");
}

function noSuchModel(model) {
  return new InferenceUpstreamError(`5007: No such model ${model} or task`, "AiError");
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function rejectUnknownProperties(inputs, allowed) {
  for (const key of Object.keys(inputs)) {
    if (!allowed.has(key)) throw schemaError(`Additional or unevaluated properties '/${key}' at '/' not allowed`);
  }
}

function endpoint(base, suffix) {
  const trimmed = base.replace(/\/+$/, "");
  return `${trimmed}${suffix}`;
}

/** `http://host:11434` or `http://host:11434/v1` -> `.../v1/chat/completions`. */
function chatCompletionsUrl(base) {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? `${trimmed}/chat/completions` : `${trimmed}/v1/chat/completions`;
}

function validateConfig(config) {
  if (!isPlainObject(config)) throw new TypeError("createAiBinding: config must be an object");
  const {
    embeddingsUrl = null,
    textGenerationUrl = null,
    textGenerationModelMap = {},
    textGenerationApiKey = null,
    embeddingTimeoutMs = 300_000, // the local model embeds 100 chunks in ~20 s of CPU: allow for a loaded machine
    textGenerationTimeoutMs = 300_000,
  } = config;
  for (const [field, value] of [
    ["embeddingsUrl", embeddingsUrl],
    ["textGenerationUrl", textGenerationUrl],
  ]) {
    if (value !== null && !URL.canParse(value)) throw new TypeError(`createAiBinding: ${field} is not a URL: ${value}`);
  }
  if (!isPlainObject(textGenerationModelMap)) {
    throw new TypeError("createAiBinding: textGenerationModelMap must map Workers AI model names to local model names");
  }
  for (const [cfModel, localModel] of Object.entries(textGenerationModelMap)) {
    if (typeof localModel !== "string" || localModel === "") {
      throw new TypeError(`createAiBinding: textGenerationModelMap[${JSON.stringify(cfModel)}] must be a model name`);
    }
    if (Object.hasOwn(EMBEDDING_MODELS, cfModel)) {
      throw new TypeError(`createAiBinding: ${cfModel} is an embedding model; it cannot be mapped to a text model`);
    }
  }
  if (Object.keys(textGenerationModelMap).length > 0 && textGenerationUrl === null) {
    throw new TypeError("createAiBinding: textGenerationModelMap is set but textGenerationUrl is not");
  }
  return {
    embeddingsUrl,
    textGenerationUrl,
    textGenerationModelMap: { ...textGenerationModelMap },
    textGenerationApiKey,
    embeddingTimeoutMs,
    textGenerationTimeoutMs,
  };
}

async function readBodyText(response) {
  try {
    return await response.text();
  } catch {
    return "";
  }
}

function describeFetchFailure(error) {
  const cause = error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error);
  return error?.name === "TimeoutError" ? "timed out" : cause;
}

// ---------------------------------------------------------------------------------------------
// Embeddings

function embeddingTexts(inputs) {
  if (!isPlainObject(inputs) || !Object.hasOwn(inputs, "text")) throw schemaError("required properties at '/' are 'text'");
  rejectUnknownProperties(inputs, new Set(["text", "pooling"]));
  const { text, pooling } = inputs;
  const texts = typeof text === "string" ? [text] : text;
  if (!Array.isArray(texts) || texts.some((item) => typeof item !== "string")) {
    throw schemaError("Type mismatch of '/text', 'text' must be a string or an array of strings");
  }
  if (texts.length === 0 || texts.length > MAX_EMBEDDING_TEXTS) {
    throw schemaError(`'/text' must hold 1 to ${MAX_EMBEDDING_TEXTS} items, got ${texts.length}`);
  }
  if (texts.some((item) => item.length === 0)) throw schemaError("'/text' items must be at least 1 character long");
  if (pooling !== undefined && pooling !== "mean" && pooling !== "cls") {
    throw schemaError(`'/pooling' must be one of 'mean', 'cls', got ${JSON.stringify(pooling)}`);
  }
  return texts;
}

// ---------------------------------------------------------------------------------------------
// Reranking (https://developers.cloudflare.com/workers-ai/models/bge-reranker-base/)

function rerankInputs(inputs) {
  if (!isPlainObject(inputs) || typeof inputs.query !== "string" || !Array.isArray(inputs.contexts)) {
    throw schemaError("required properties at '/' are 'query', 'contexts'");
  }
  rejectUnknownProperties(inputs, new Set(["query", "contexts", "top_k"]));
  if (inputs.query.length === 0) throw schemaError("'/query' must be at least 1 character long");
  if (inputs.contexts.length === 0) throw schemaError("'/contexts' must hold at least 1 item");
  const texts = inputs.contexts.map((context, index) => {
    if (!isPlainObject(context) || typeof context.text !== "string") {
      throw schemaError(`'/contexts/${index}' must be an object { text: string }`);
    }
    return context.text;
  });
  const topK = inputs.top_k;
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) {
    throw schemaError(`'/top_k' must be an integer of at least 1, got ${JSON.stringify(topK)}`);
  }
  return { query: inputs.query, texts, topK };
}

// ---------------------------------------------------------------------------------------------
// Text generation: Workers AI inputs -> OpenAI chat completions -> Workers AI output

function toOpenAiTool(tool) {
  if (isPlainObject(tool) && tool.type === "function" && isPlainObject(tool.function)) return tool;
  if (isPlainObject(tool) && typeof tool.name === "string") {
    const { name, description, parameters } = tool;
    return { type: "function", function: { name, description, parameters } };
  }
  throw schemaError("'/tools' items must be { name, description, parameters } or { type: 'function', function }");
}

function toOpenAiResponseFormat(format) {
  if (!isPlainObject(format)) throw schemaError("'/response_format' must be an object");
  if (format.type === "json_object") return { type: "json_object" };
  if (format.type === "json_schema") {
    // Workers AI takes the JSON Schema itself; OpenAI wraps it as { name, schema }.
    return { type: "json_schema", json_schema: { name: "response", schema: format.json_schema ?? {} } };
  }
  throw schemaError("'/response_format/type' must be 'json_object' or 'json_schema'");
}

function chatRequest(localModel, inputs) {
  if (!isPlainObject(inputs)) throw schemaError("required properties at '/' are 'prompt' or 'messages'");
  const hasPrompt = Object.hasOwn(inputs, "prompt");
  const hasMessages = Object.hasOwn(inputs, "messages");
  if (hasPrompt && hasMessages) {
    throw new InferenceUpstreamError("1001: prompt and messages are mutually exclusive", "InvalidInput");
  }
  if (!hasPrompt && !hasMessages) {
    throw schemaError(
      "oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt', required properties at '/' are 'messages'",
    );
  }
  let messages;
  if (hasPrompt) {
    if (typeof inputs.prompt !== "string" || inputs.prompt.length === 0) {
      throw schemaError("Type mismatch of '/prompt', it must be a non-empty string");
    }
    messages = [{ role: "user", content: inputs.prompt }];
  } else {
    if (!Array.isArray(inputs.messages) || inputs.messages.length === 0) {
      throw schemaError("Type mismatch of '/messages', it must be a non-empty array");
    }
    messages = inputs.messages.map((message, i) => {
      if (!isPlainObject(message) || typeof message.role !== "string" || !Object.hasOwn(message, "content")) {
        throw schemaError(`required properties at '/messages/${i}' are 'role,content'`);
      }
      return message;
    });
  }
  const maxTokens = inputs.max_tokens ?? WORKERS_AI_DEFAULT_MAX_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw schemaError("'/max_tokens' must be a positive integer");
  const body = { model: localModel, messages, max_tokens: maxTokens, stream: Boolean(inputs.stream) };
  for (const param of FORWARDED_GENERATION_PARAMS) if (inputs[param] !== undefined) body[param] = inputs[param];
  if (inputs.tools !== undefined) {
    if (!Array.isArray(inputs.tools)) throw schemaError("'/tools' must be an array");
    body.tools = inputs.tools.map(toOpenAiTool);
  }
  const jsonMode = inputs.response_format !== undefined;
  if (jsonMode) {
    if (body.stream) throw new InferenceUpstreamError("JSON Mode currently doesn't support streaming", "AiError");
    body.response_format = toOpenAiResponseFormat(inputs.response_format);
  }
  if (body.stream) body.stream_options = { include_usage: true };
  return { body, jsonMode };
}

function workersAiUsage(usage) {
  if (!isPlainObject(usage)) return undefined;
  const { prompt_tokens = 0, completion_tokens = 0 } = usage;
  return { prompt_tokens, completion_tokens, total_tokens: usage.total_tokens ?? prompt_tokens + completion_tokens };
}

function workersAiToolCalls(toolCalls) {
  return toolCalls.map((call) => {
    const { name, arguments: args } = call.function ?? {};
    let parsed = args;
    if (typeof args === "string") {
      try {
        parsed = JSON.parse(args);
      } catch {
        parsed = args;
      }
    }
    return { name, arguments: parsed };
  });
}

function chatResult(completion, jsonMode) {
  const message = completion?.choices?.[0]?.message;
  if (!isPlainObject(message)) {
    throw new LocalAiError("the text-generation server's answer has no choices[0].message");
  }
  let response = message.content ?? "";
  if (jsonMode) {
    try {
      response = JSON.parse(response);
    } catch {
      throw new InferenceUpstreamError("JSON Mode couldn't be met", "AiError");
    }
  }
  const result = { response };
  if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
    result.tool_calls = workersAiToolCalls(message.tool_calls);
  }
  const usage = workersAiUsage(completion.usage);
  if (usage) result.usage = usage;
  return result;
}

/** OpenAI chat-completion SSE -> Workers AI SSE (`data: {"response": ...}` ... `data: [DONE]`). */
function workersAiEventStream(upstream) {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const reader = upstream.getReader();
  let buffer = "";
  let finished = false;
  let emitted = 0;
  const emit = (controller, payload) => {
    controller.enqueue(encoder.encode(`data: ${payload}\n\n`));
    emitted += 1;
  };

  const translateLine = (line, controller) => {
    if (!line.startsWith("data:")) return;
    const data = line.slice(5).trim();
    if (data === "[DONE]") {
      finished = true;
      emit(controller, "[DONE]");
      return;
    }
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      return; // not a JSON event: nothing to forward
    }
    const delta = chunk?.choices?.[0]?.delta;
    const out = {};
    if (typeof delta?.content === "string" && delta.content !== "") out.response = delta.content;
    if (Array.isArray(delta?.tool_calls)) out.tool_calls = delta.tool_calls;
    const usage = workersAiUsage(chunk?.usage);
    if (usage) {
      out.response ??= "";
      out.usage = usage;
    }
    if (Object.keys(out).length > 0) emit(controller, JSON.stringify(out));
  };

  return new ReadableStream({
    // Reads upstream until at least one event is out (a pull that enqueues nothing stalls).
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          buffer += decoder.decode();
          for (const line of buffer.split("\n")) translateLine(line.trim(), controller);
          if (!finished) emit(controller, "[DONE]");
          controller.close();
          return;
        }
        const before = emitted;
        buffer += decoder.decode(value, { stream: true });
        const lines = buffer.split("\n");
        buffer = lines.pop();
        for (const line of lines) translateLine(line.trim(), controller);
        if (emitted > before) return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

// ---------------------------------------------------------------------------------------------

class LocalAi {
  #config;
  #fetch;
  #warn;
  #warned = new Set();

  constructor(config, { fetch: fetchImpl = globalThis.fetch, warn = (text) => console.warn(text) }) {
    this.#config = config;
    this.#fetch = fetchImpl;
    this.#warn = warn;
  }

  #warnOnce(key, text) {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#warn(text);
  }

  async run(model, inputs, options = {}) {
    if (typeof model !== "string" || model === "") throw new TypeError("AI.run(): model must be a model name string");
    if (options?.gateway !== undefined) {
      this.#warnOnce("gateway", "Workers AI (local): the `gateway` option has no local equivalent and is ignored");
    }
    if (Object.hasOwn(EMBEDDING_MODELS, model)) return this.#embed(model, EMBEDDING_MODELS[model], inputs);
    if (RERANKER_MODELS.includes(model)) return this.#rerank(model, inputs);
    const localModel = this.#config.textGenerationModelMap[model];
    if (localModel !== undefined) return this.#generate(model, localModel, inputs);
    this.#warnOnce(
      `model:${model}`,
      `Workers AI (local): ${model} is not available locally; map it to a model of an OpenAI-compatible server ` +
        "with textGenerationModelMap (see docs/local-bindings.md)",
    );
    throw noSuchModel(model);
  }

  /** POST `body` to the sidecar's `path`; the parsed JSON answer, or a LocalAiError naming the model. */
  async #sidecar(model, path, body) {
    const url = this.#config.embeddingsUrl;
    if (url === null) {
      throw new LocalAiError(`cannot run ${model}: no local embedding sidecar is configured (embeddingsUrl)`);
    }
    let response;
    try {
      response = await this.#fetch(endpoint(url, path), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#config.embeddingTimeoutMs),
      });
    } catch (error) {
      throw new LocalAiError(`cannot run ${model}: the embedding sidecar at ${url} is unreachable (${describeFetchFailure(error)})`);
    }
    const text = await readBodyText(response);
    let payload = null;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const detail = typeof payload?.error === "string" ? payload.error : `HTTP ${response.status} ${text.slice(0, 200)}`;
      throw new LocalAiError(`cannot run ${model}: ${detail}`);
    }
    return payload;
  }

  async #embed(model, dimensions, inputs) {
    const texts = embeddingTexts(inputs);
    if (inputs.pooling === "cls") {
      this.#warnOnce("pooling", "Workers AI (local): `pooling` is ignored; the local embedder uses its own pooling");
    }
    const payload = await this.#sidecar(model, "/embed", { model, texts, dimensions });
    const vectors = payload?.vectors;
    const wellFormed =
      Array.isArray(vectors) &&
      vectors.length === texts.length &&
      vectors.every((v) => Array.isArray(v) && v.length === dimensions && v.every(Number.isFinite));
    if (!wellFormed) {
      throw new LocalAiError(
        `cannot run ${model}: the embedding sidecar did not return ${texts.length} vectors of ${dimensions} numbers`,
      );
    }
    return { shape: [vectors.length, dimensions], data: vectors };
  }

  /**
   * `toMarkdown(files)`: a `{ name, blob }` or a list of them -> a ConversionResult or a list
   * (`{ name, mimeType, format: "markdown", tokens, data }` or `{ name, mimeType, format: "error", error }`),
   * converted by the sidecar (infra/dev/markdown.py); https://developers.cloudflare.com/workers-ai/features/markdown-conversion/
   */
  async toMarkdown(files) {
    const many = Array.isArray(files);
    const documents = many ? files : [files];
    const results = [];
    for (const [index, file] of documents.entries()) {
      if (!isPlainObject(file) || typeof file.name !== "string" || typeof file.blob?.arrayBuffer !== "function") {
        throw new TypeError(`AI.toMarkdown(): item ${index} must be { name: string, blob: Blob }`);
      }
      const data = Buffer.from(await file.blob.arrayBuffer()).toString("base64");
      const mimeType = file.blob.type || "application/octet-stream";
      const result = await this.#sidecar("toMarkdown", "/markdown", { name: file.name, mimeType, data });
      if (!isPlainObject(result) || (result.format !== "markdown" && result.format !== "error")) {
        throw new LocalAiError(`cannot run toMarkdown: the sidecar did not return a ConversionResult for ${file.name}`);
      }
      results.push(result);
    }
    return many ? results : results[0];
  }

  async #rerank(model, inputs) {
    const { query, texts, topK } = rerankInputs(inputs);
    const payload = await this.#sidecar(model, "/rerank", { model, query, texts });
    const scores = payload?.scores;
    if (!Array.isArray(scores) || scores.length !== texts.length || !scores.every(Number.isFinite)) {
      throw new LocalAiError(`cannot run ${model}: the sidecar did not return ${texts.length} scores`);
    }
    const response = scores.map((score, id) => ({ id, score })).sort((a, b) => b.score - a.score || a.id - b.id);
    return { response: topK === undefined ? response : response.slice(0, topK) };
  }

  async #generate(model, localModel, inputs) {
    const { body, jsonMode } = chatRequest(localModel, inputs);
    const url = chatCompletionsUrl(this.#config.textGenerationUrl);
    const headers = { "content-type": "application/json" };
    if (this.#config.textGenerationApiKey) headers.authorization = `Bearer ${this.#config.textGenerationApiKey}`;
    let response;
    try {
      response = await this.#fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#config.textGenerationTimeoutMs),
      });
    } catch (error) {
      throw new LocalAiError(
        `cannot run ${model}: the text-generation server at ${url} is unreachable (${describeFetchFailure(error)})`,
      );
    }
    if (!response.ok) {
      const detail = (await readBodyText(response)).slice(0, 500);
      throw new LocalAiError(
        `cannot run ${model} as local model "${localModel}": ${url} answered HTTP ${response.status}: ${detail}`,
      );
    }
    if (body.stream) {
      if (response.body === null) throw new LocalAiError(`cannot run ${model}: ${url} sent an empty stream`);
      return workersAiEventStream(response.body);
    }
    let completion;
    try {
      completion = JSON.parse(await readBodyText(response));
    } catch {
      throw new LocalAiError(`cannot run ${model}: ${url} did not answer with JSON`);
    }
    return chatResult(completion, jsonMode);
  }
}

/**
 * Creates the `env.<AI>` object.
 *
 * config: { embeddingsUrl?, textGenerationUrl?, textGenerationModelMap? = { "@cf/...": "local-name" },
 *           textGenerationApiKey?, embeddingTimeoutMs?, textGenerationTimeoutMs? }.
 * deps:   { fetch?, warn?(message) }.
 */
export function createAiBinding(config = {}, deps = {}) {
  const ai = new LocalAi(validateConfig(config), deps);
  return {
    run: (model, inputs, options) => ai.run(model, inputs, options),
    toMarkdown: (files) => ai.toMarkdown(files),
  };
}
