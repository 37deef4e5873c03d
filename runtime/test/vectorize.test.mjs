// Local Vectorize binding against the documented behaviour of the real one:
// developers.cloudflare.com/vectorize/reference/client-api/ (operations, topK limits),
// .../best-practices/create-indexes/#distance-metrics (score semantics per metric),
// .../reference/metadata-filtering/ (operators, indexed properties, filter before topK),
// .../platform/limits/ (64-byte ids, 64-byte indexed strings), and the workerd binding
// (src/cloudflare/internal/vectorize-api.ts) for error formatting and returnMetadata booleans.

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";

import { createVectorizeBinding, createVectorizeIndex } from "../bindings/vectorize.mjs";

let stateDir;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), "edgestack-vectorize-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function index(config = {}, deps = {}) {
  return createVectorizeBinding({ name: "docs", dimensions: 2, metric: "cosine", ...config }, { stateDir, ...deps });
}

const ids = (result) => result.matches.map((m) => m.id);
const close = (actual, expected) => assert.ok(Math.abs(actual - expected) < 1e-6, `${actual} is not ~${expected}`);

describe("scores and order per metric", () => {
  test("cosine: similarity, highest first", async () => {
    const vi = index({ metric: "cosine" });
    await vi.upsert([
      { id: "x", values: [1, 0] },
      { id: "y", values: [0, 1] },
      { id: "same", values: [6, 8] },
      { id: "opposite", values: [-3, -4] },
    ]);
    const result = await vi.query([3, 4], { topK: 4 });
    assert.deepEqual(ids(result), ["same", "y", "x", "opposite"]);
    assert.equal(result.count, 4);
    close(result.matches[0].score, 1);
    close(result.matches[1].score, 0.8);
    close(result.matches[2].score, 0.6);
    close(result.matches[3].score, -1);
  });

  test("euclidean: L2 distance, smallest first", async () => {
    const vi = index({ metric: "euclidean" });
    await vi.upsert([
      { id: "far", values: [3, 4] },
      { id: "origin", values: [0, 0] },
      { id: "near", values: [1, 0] },
    ]);
    const result = await vi.query([0, 0], { topK: 3 });
    assert.deepEqual(ids(result), ["origin", "near", "far"]);
    assert.deepEqual(
      result.matches.map((m) => m.score),
      [0, 1, 5],
    );
  });

  test("dot-product: negative dot product, smallest first", async () => {
    const vi = index({ metric: "dot-product" });
    await vi.upsert([
      { id: "a", values: [1, 0] },
      { id: "b", values: [0, 3] },
      { id: "c", values: [-1, -1] },
    ]);
    const result = await vi.query([1, 2], { topK: 3 });
    assert.deepEqual(ids(result), ["b", "a", "c"]);
    assert.deepEqual(
      result.matches.map((m) => m.score),
      [-6, -1, 3],
    );
  });

  test("values are stored as float32, as the service returns them", async () => {
    const vi = index();
    await vi.upsert([{ id: "v", values: [0.1, 58.8] }]);
    const result = await vi.query([0.1, 58.8], { topK: 1, returnValues: true });
    assert.deepEqual(result.matches[0].values, [Math.fround(0.1), Math.fround(58.8)]);
    assert.equal(result.matches[0].values[1], 58.79999923706055);
  });

  test("accepts Float32Array and Float64Array vectors", async () => {
    const vi = index();
    await vi.upsert([{ id: "f", values: new Float64Array([1, 2]) }]);
    const result = await vi.query(new Float32Array([1, 2]), { topK: 1 });
    assert.deepEqual(ids(result), ["f"]);
  });
});

describe("upsert, insert, getByIds, deleteByIds, describe", () => {
  test("mutations return a mutationId; describe reports the last one", async () => {
    const vi = index();
    const first = await vi.upsert([{ id: "a", values: [1, 0] }]);
    assert.match(first.mutationId, /^[0-9a-f-]{36}$/);
    const second = await vi.insert([{ id: "b", values: [0, 1] }]);
    assert.notEqual(second.mutationId, first.mutationId);
    const info = await vi.describe();
    assert.equal(info.vectorCount, 2);
    assert.equal(info.dimensions, 2);
    assert.equal(info.processedUpToMutation, second.mutationId);
    assert.ok(!Number.isNaN(Date.parse(info.processedUpToDatetime)));
  });

  test("insert keeps an existing id; upsert replaces the whole vector", async () => {
    const vi = index();
    await vi.upsert([{ id: "a", values: [1, 0], metadata: { v: 1, keep: true } }]);
    await vi.insert([
      { id: "a", values: [0, 1], metadata: { v: 2 } },
      { id: "b", values: [0, 1] },
    ]);
    let [a] = await vi.getByIds(["a"]);
    assert.deepEqual(a.values, [1, 0]);
    assert.deepEqual(a.metadata, { v: 1, keep: true });
    assert.equal((await vi.describe()).vectorCount, 2);

    await vi.upsert([{ id: "a", values: [0, 1], metadata: { v: 2 } }]);
    [a] = await vi.getByIds(["a"]);
    assert.deepEqual(a.values, [0, 1]);
    assert.deepEqual(a.metadata, { v: 2 }, "upsert does not merge metadata");
  });

  test("getByIds returns found vectors only, with values, metadata and namespace", async () => {
    const vi = index();
    await vi.upsert([
      { id: "a", values: [1, 0], namespace: "tenant-1", metadata: { k: "x" } },
      { id: "b", values: [0, 1] },
    ]);
    const found = await vi.getByIds(["b", "missing", "a"]);
    assert.deepEqual(found, [
      { id: "b", values: [0, 1], metadata: {} },
      { id: "a", values: [1, 0], namespace: "tenant-1", metadata: { k: "x" } },
    ]);
  });

  test("deleteByIds removes vectors", async () => {
    const vi = index();
    await vi.upsert([
      { id: "a", values: [1, 0] },
      { id: "b", values: [0, 1] },
    ]);
    const deleted = await vi.deleteByIds(["a", "never-existed"]);
    assert.equal(typeof deleted.mutationId, "string");
    assert.deepEqual(await vi.getByIds(["a", "b"]), [{ id: "b", values: [0, 1], metadata: {} }]);
    assert.deepEqual(ids(await vi.query([1, 0])), ["b"]);
  });

  test("id and batch limits use the service's errors", async () => {
    const vi = index();
    await assert.rejects(vi.upsert([{ id: "x".repeat(65), values: [1, 0] }]), {
      message: "VECTOR_UPSERT_ERROR (code = 40008): id too long; max is 64 bytes, got 65 bytes",
    });
    await assert.rejects(
      vi.getByIds(Array.from({ length: 21 }, (_, i) => `id${i}`)),
      { message: "VECTOR_GET_ERROR (code = 40007): too many ids in payload; max id count is 20" },
    );
    await assert.rejects(
      vi.deleteByIds(Array.from({ length: 101 }, (_, i) => `id${i}`)),
      { message: "VECTOR_DELETE_ERROR (code = 40007): too many ids in payload; max id count is 100, got 101" },
    );
    await assert.rejects(vi.upsert([{ id: "m", values: [1, 0], metadata: { text: "x".repeat(11_000) } }]), /metadata too large/);
  });

  test("queryById searches with a stored vector; an unknown id matches nothing", async () => {
    const vi = index();
    await vi.upsert([
      { id: "a", values: [1, 0] },
      { id: "b", values: [1, 1] },
      { id: "c", values: [0, 1] },
    ]);
    const result = await vi.queryById("a", { topK: 2 });
    assert.deepEqual(ids(result), ["a", "b"]);
    close(result.matches[0].score, 1);
    assert.deepEqual(await vi.queryById("nope"), { count: 0, matches: [] });
  });
});

describe("wrong dimensions", () => {
  test("upsert, insert and query throw the service's error texts", async () => {
    const vi = createVectorizeBinding({ name: "three", dimensions: 3 }, { stateDir });
    await assert.rejects(vi.upsert([{ id: "a", values: [1, 2] }]), {
      message: 'VECTOR_UPSERT_ERROR (code = 40012): invalid vector for id="a", expected 3 dimensions, and got 2 dimensions',
    });
    await assert.rejects(vi.insert([{ id: "b", values: [1, 2, 3, 4] }]), {
      message: 'VECTOR_INSERT_ERROR (code = 40012): invalid vector for id="b", expected 3 dimensions, and got 4 dimensions',
    });
    await assert.rejects(vi.query([1, 2]), {
      message: "VECTOR_QUERY_ERROR (code = 40006): invalid query vector, expected 3 dimensions, and got 2 dimensions",
    });
    await assert.rejects(vi.query([]), /expected 3 dimensions, and got 0 dimensions/);
  });

  test("a bad vector rejects the whole batch: nothing is applied", async () => {
    const vi = createVectorizeBinding({ name: "three", dimensions: 3 }, { stateDir });
    await assert.rejects(
      vi.upsert([
        { id: "good", values: [1, 2, 3] },
        { id: "bad", values: [1, 2] },
      ]),
      /id="bad"/,
    );
    assert.equal((await vi.describe()).vectorCount, 0);
  });

  test("the error's cause carries the service text alone", async () => {
    const vi = createVectorizeBinding({ name: "three", dimensions: 3 }, { stateDir });
    const error = await vi.query([1]).catch((e) => e);
    assert.equal(error.cause.message, "invalid query vector, expected 3 dimensions, and got 1 dimensions");
  });
});

describe("query options", () => {
  async function filled(count = 30) {
    const vi = index({ metadataIndexes: { kind: "string" } });
    const vectors = Array.from({ length: count }, (_, i) => ({
      id: `v${String(i).padStart(2, "0")}`,
      values: [1, i / count],
      metadata: { kind: i % 2 ? "odd" : "even", body: `text ${i}` },
    }));
    await vi.upsert(vectors);
    return vi;
  }

  test("topK defaults to 5", async () => {
    const vi = await filled();
    assert.equal((await vi.query([1, 0])).count, 5);
  });

  test("topK is limited to 20 with values or all metadata, 100 otherwise", async () => {
    const vi = await filled(120);
    const message =
      "VECTOR_QUERY_ERROR (code = 40025): with returnValues=true or returnMetadata=all, max top K is 20, but got 21; " +
      "for a top K up to 100, retry with returnValues=false and returnMetadata=indexed";
    await assert.rejects(vi.query([1, 0], { topK: 21, returnValues: true }), { message });
    await assert.rejects(vi.query([1, 0], { topK: 21, returnMetadata: "all" }), { message });
    assert.equal((await vi.query([1, 0], { topK: 20, returnValues: true })).count, 20);
    assert.equal((await vi.query([1, 0], { topK: 100, returnMetadata: "indexed" })).count, 100);
    await assert.rejects(vi.query([1, 0], { topK: 101 }), /max top K is 100, but got 101/);
    await assert.rejects(vi.query([1, 0], { topK: 0 }), /top K must be a positive integer/);
  });

  test("returnMetadata none / indexed / all, and true as all", async () => {
    const vi = await filled(2);
    const none = await vi.query([1, 0], { topK: 1 });
    assert.equal("metadata" in none.matches[0], false);
    assert.equal("values" in none.matches[0], false);
    const indexed = await vi.query([1, 0], { topK: 1, returnMetadata: "indexed" });
    assert.deepEqual(indexed.matches[0].metadata, { kind: "even" });
    const all = await vi.query([1, 0], { topK: 1, returnMetadata: "all" });
    assert.deepEqual(all.matches[0].metadata, { kind: "even", body: "text 0" });
    const legacyTrue = await vi.query([1, 0], { topK: 1, returnMetadata: true });
    assert.deepEqual(legacyTrue.matches[0].metadata, all.matches[0].metadata);
  });

  test("returnMetadata false reaches the service and fails as it does; other values fail in the binding", async () => {
    const vi = await filled(2);
    await assert.rejects(vi.query([1, 0], { returnMetadata: false }), {
      message: "VECTOR_QUERY_ERROR (code = 40026): Failed to parse the request body as JSON: returnMetadata: expected value",
    });
    await assert.rejects(vi.query([1, 0], { returnMetadata: "everything" }), {
      message: 'Invalid returnMetadata option. Expected: true, false, "none", "indexed" or "all"; got: everything',
    });
  });

  test("namespace narrows the search and is reported on matches", async () => {
    const vi = index();
    await vi.upsert([
      { id: "a1", values: [1, 0], namespace: "a" },
      { id: "b1", values: [1, 0.01], namespace: "b" },
      { id: "none", values: [1, 0] },
    ]);
    const inB = await vi.query([1, 0], { namespace: "b" });
    assert.deepEqual(ids(inB), ["b1"]);
    assert.equal(inB.matches[0].namespace, "b");
    const everywhere = await vi.query([1, 0], { topK: 3 });
    assert.equal(everywhere.count, 3);
    assert.deepEqual((await vi.query([1, 0], { namespace: "c" })).matches, []);
  });
});

describe("metadata filter", () => {
  let vi;
  let warnings;
  beforeEach(async () => {
    warnings = [];
    vi = createVectorizeBinding(
      {
        name: "films",
        dimensions: 2,
        metadataIndexes: { genre: "string", year: "number", draft: "boolean", "info.lang": "string" },
      },
      { stateDir, warn: (text) => warnings.push(text) },
    );
    await vi.upsert([
      { id: "f1", values: [1, 0], metadata: { genre: "drama", year: 1999, draft: false, info: { lang: "en" } } },
      { id: "f2", values: [1, 0.1], metadata: { genre: "comedy", year: 2005, draft: true, info: { lang: "fr" } } },
      { id: "f3", values: [1, 0.2], metadata: { genre: "drama", year: 2012, draft: false, unindexed: "x" } },
      { id: "f4", values: [1, 0.3], metadata: { genre: "netflix-doc", year: "2020" } },
      { id: "f5", values: [1, 0.4] },
    ]);
  });

  const run = async (filter, topK = 10) => ids(await vi.query([1, 0], { topK, filter })).sort();

  test("implicit $eq, $eq, $ne", async () => {
    assert.deepEqual(await run({ genre: "drama" }), ["f1", "f3"]);
    assert.deepEqual(await run({ draft: { $eq: true } }), ["f2"]);
    assert.deepEqual(await run({ genre: { $ne: "drama" } }), ["f2", "f4", "f5"]);
  });

  test("$in and $nin", async () => {
    assert.deepEqual(await run({ genre: { $in: ["comedy", "netflix-doc"] } }), ["f2", "f4"]);
    assert.deepEqual(await run({ genre: { $nin: ["comedy", "drama"] } }), ["f4", "f5"]);
  });

  test("range operators on numbers and strings", async () => {
    assert.deepEqual(await run({ year: { $gte: 2005 } }), ["f2", "f3"]);
    assert.deepEqual(await run({ year: { $gt: 2005 } }), ["f3"]);
    assert.deepEqual(await run({ year: { $lt: 2005 } }), ["f1"]);
    assert.deepEqual(await run({ year: { $lte: 2005 } }), ["f1", "f2"]);
    assert.deepEqual(await run({ year: { $gte: 2000, $lt: 2013 } }), ["f2", "f3"]);
    assert.deepEqual(await run({ genre: { $gte: "net", $lt: "neu" } }), ["f4"], "string prefix search");
  });

  test("only values of the index's type are indexed", async () => {
    // f4's year is the string "2020": a number index does not hold it.
    assert.deepEqual(await run({ year: { $gte: 0 } }), ["f1", "f2", "f3"]);
    assert.deepEqual(await run({ year: "2020" }), []);
  });

  test("dotted keys filter nested metadata", async () => {
    assert.deepEqual(await run({ "info.lang": "fr" }), ["f2"]);
  });

  test("several keys combine with AND", async () => {
    assert.deepEqual(await run({ genre: "drama", year: { $gt: 2000 } }), ["f3"]);
    assert.deepEqual(await run({ genre: "drama", draft: true }), []);
  });

  test("the filter applies before topK", async () => {
    // Unfiltered, f1 is the best match; filtered to comedy, the single result is f2.
    assert.deepEqual(ids(await vi.query([1, 0], { topK: 1, filter: { genre: "comedy" } })), ["f2"]);
  });

  test("a property without a metadata index matches nothing, with one warning", async () => {
    assert.deepEqual(await run({ unindexed: "x" }), []);
    assert.deepEqual(await run({ unindexed: "x" }), []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /"unindexed", which has no metadata index/);
  });

  test("indexed strings keep only their first 64 bytes", async () => {
    const long = "é".repeat(40); // 80 bytes
    await vi.upsert([{ id: "long", values: [0, 1], metadata: { genre: long } }]);
    assert.deepEqual(await run({ genre: long }), []);
    assert.deepEqual(await run({ genre: "é".repeat(32) }), ["long"]);
    const indexed = await vi.query([0, 1], { topK: 1, returnMetadata: "indexed" });
    assert.equal(indexed.matches[0].metadata.genre, "é".repeat(32));
  });

  test("invalid filters are rejected", async () => {
    const bad = [
      {},
      { genre: { $regex: "d.*" } },
      { $genre: "x" },
      { 'ge"nre': "x" },
      { year: { $eq: 1, $gt: 0 } },
      { year: { $gt: 0, $gte: 1 } },
      { genre: { $in: "drama" } },
      { year: { $lt: true } },
      { genre: { $eq: { nested: 1 } } },
      { genre: "x".repeat(2100) },
    ];
    for (const filter of bad) {
      await assert.rejects(vi.query([1, 0], { filter }), /^Error: VECTOR_QUERY_ERROR: invalid filter: /, JSON.stringify(filter).slice(0, 60));
    }
  });
});

describe("persistence", () => {
  test("an index survives re-creation from the same state folder", async () => {
    const first = index({ metadataIndexes: { kind: "string" } });
    await first.upsert([
      { id: "a", values: [1, 0], namespace: "n", metadata: { kind: "k" } },
      { id: "b", values: [0, 1] },
    ]);
    const { mutationId } = await first.deleteByIds(["b"]);

    const second = index({ metadataIndexes: { kind: "string" } });
    assert.deepEqual(await second.getByIds(["a", "b"]), [{ id: "a", values: [1, 0], namespace: "n", metadata: { kind: "k" } }]);
    assert.deepEqual(ids(await second.query([1, 0], { filter: { kind: "k" } })), ["a"]);
    assert.equal((await second.describe()).processedUpToMutation, mutationId);
    const files = await readdir(path.join(stateDir, "vectorize"));
    assert.deepEqual(files, ["docs.json"], "no temporary files are left behind");
  });

  test("concurrent upserts are all kept", async () => {
    const vi = index();
    await Promise.all(Array.from({ length: 25 }, (_, i) => vi.upsert([{ id: `id${i}`, values: [1, i] }])));
    assert.equal((await index().describe()).vectorCount, 25);
  });

  test("a stored index with other dimensions or metric is refused, naming the file", async () => {
    await index().upsert([{ id: "a", values: [1, 0] }]);
    const reopened = index({ dimensions: 3 });
    await assert.rejects(reopened.describe(), /holds a 2-dimension cosine index, but the stack declares 3 dimensions and cosine/);
    await assert.rejects(index({ metric: "euclidean" }).query([1, 0]), /docs\.json/);
  });

  test("a corrupt state file gives a clear error", async () => {
    await mkdir(path.join(stateDir, "vectorize"), { recursive: true });
    await writeFile(path.join(stateDir, "vectorize", "docs.json"), "{not json");
    await assert.rejects(index().describe(), /docs\.json is not valid JSON .*delete it to start empty/);
  });

  test("a failed write changes nothing", async () => {
    const vi = index();
    await vi.upsert([{ id: "kept", values: [1, 0] }]);
    // Replace the state folder with a file so the next write fails.
    await rm(path.join(stateDir, "vectorize"), { recursive: true });
    await writeFile(path.join(stateDir, "vectorize"), "blocker");
    await assert.rejects(vi.upsert([{ id: "lost", values: [0, 1] }]), /cannot write Vectorize state file/);
    assert.deepEqual(ids(await vi.query([1, 0], { topK: 5 })), ["kept"]);
  });

  test("createVectorizeIndex exposes the state file and flush()", async () => {
    const { binding, stateFile, flush } = createVectorizeIndex({ name: "docs", dimensions: 2 }, { stateDir });
    assert.equal(stateFile, path.join(stateDir, "vectorize", "docs.json"));
    const pending = binding.upsert([{ id: "a", values: [1, 0] }]);
    await flush();
    await pending;
    assert.equal((await index().describe()).vectorCount, 1);
  });
});

describe("configuration errors", () => {
  test("bad config is refused with the field named", () => {
    assert.throws(() => createVectorizeBinding({ name: "x", dimensions: 0 }, { stateDir }), /dimensions must be an integer from 1 to 1536/);
    assert.throws(() => createVectorizeBinding({ name: "x", dimensions: 2, metric: "manhattan" }, { stateDir }), /metric must be one of/);
    assert.throws(
      () => createVectorizeBinding({ name: "x", dimensions: 2, metadataIndexes: { a: "date" } }, { stateDir }),
      /metadata index a has type "date"/,
    );
    assert.throws(() => createVectorizeBinding({ name: "x", dimensions: 2 }, {}), /deps.stateDir/);
    assert.throws(() => createVectorizeBinding({ name: "../escape", dimensions: 2 }, { stateDir }), /name must be/);
  });
});
