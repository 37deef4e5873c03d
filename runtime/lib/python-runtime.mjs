// Pyodide from npm, with Cloudflare's workers-runtime-sdk (vendored in the bundle, unchanged) and
// the two workerd-internal modules the SDK imports: `_pyodide_entrypoint_helper` and
// `_cloudflare_compat_flags`.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { HostError } from "./control.mjs";
import { ownAwaitable } from "./context.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Where workerd puts the Worker's modules; vendored packages live under python_modules/ there.
export const BUNDLE_ROOT = "/session/metadata";
const HOST_ROOT = "/session/edgestack";
const PYODIDE_PACKAGES = { 314: "pyodide-314", "0.28": "pyodide-0.28" };

function* walk(dir, prefix = "") {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* walk(path.join(dir, entry.name), relative);
    else if (entry.isFile()) yield relative;
  }
}

function compatFlagsModule(flags) {
  const lines = [
    '"""Compatibility flags of this Worker, as workerd exposes them to the Python SDK."""',
    "python_workflows_implicit_dependencies = False",
    "python_request_headers_preserve_commas = False",
  ];
  for (const flag of flags) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(flag)) lines.push(`${flag} = True`);
  lines.push(
    "",
    "",
    "def __getattr__(name):",
    "    if name.startswith('__'):",
    "        raise AttributeError(name)",
    "    return False",
    "",
  );
  return lines.join("\n");
}

// Generator the SDK's `patch_env` context manager drives: patches `env` until it is closed.
function* patchEnvHelper(env, patch) {
  const entries = patch instanceof Map ? [...patch.entries()] : Object.entries(patch ?? {});
  const saved = entries.map(([key]) => [key, Object.getOwnPropertyDescriptor(env, key)]);
  for (const [key, value] of entries) env[key] = value;
  try {
    yield;
  } finally {
    for (const [key, descriptor] of saved) {
      if (descriptor) Object.defineProperty(env, key, descriptor);
      else delete env[key];
    }
  }
}

const patchedContexts = new WeakSet();

// workerd's `patchWaitUntil`: a Python awaitable handed to `ctx.waitUntil` is a borrowed proxy, so
// it is copied before the call returns and destroyed once settled.
function patchWaitUntil(ctx) {
  if (Object.prototype.toString.call(ctx) !== "[object ExecutionContext]" || patchedContexts.has(ctx)) return;
  const original = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (value) => original(ownAwaitable(value));
  patchedContexts.add(ctx);
}

export class BaseEntrypoint {}

/**
 * Loads Pyodide, installs the bundle and imports the main module.
 * Returns `{ pyodide, host, mainModule, version, timings }`; throws HostError (one line) when the
 * Worker fails to import.
 */
export async function startPython(config, { env, work, log }) {
  const started = performance.now();
  const { loadPyodide } = await import(PYODIDE_PACKAGES[config.pyodideLine]);
  const pyodide = await loadPyodide({
    stdout: (line) => log.worker(line),
    stderr: (line) => log.worker(line),
  });
  const loadedAt = performance.now();

  const fs = pyodide.FS;
  fs.mkdirTree(BUNDLE_ROOT);
  for (const relative of walk(config.bundleDir)) {
    const target = `${BUNDLE_ROOT}/${relative}`;
    fs.mkdirTree(path.posix.dirname(target));
    fs.writeFile(target, readFileSync(path.join(config.bundleDir, relative)));
  }
  fs.mkdirTree(HOST_ROOT);
  fs.writeFile(`${HOST_ROOT}/_edgestack_host.py`, readFileSync(path.join(HERE, "python", "_edgestack_host.py")));
  fs.writeFile(`${HOST_ROOT}/_cloudflare_compat_flags.py`, compatFlagsModule(config.compatibilityFlags));

  const cloudflareWorkersModule = {
    env,
    waitUntil: (value) => work.track(value, "waitUntil"),
    WorkerEntrypoint: class WorkerEntrypoint extends BaseEntrypoint {},
    DurableObject: class DurableObject extends BaseEntrypoint {},
    WorkflowEntrypoint: class WorkflowEntrypoint extends BaseEntrypoint {},
    RpcTarget: class RpcTarget {},
  };
  pyodide.registerJsModule("_pyodide_entrypoint_helper", {
    cloudflareWorkersModule,
    cloudflareSocketsModule: {},
    workerEntrypoint: cloudflareWorkersModule.WorkerEntrypoint,
    patchWaitUntil,
    patch_env_helper: (patch) => patchEnvHelper(env, patch),
    doAnImport: async (name) => {
      if (name === "cloudflare:workers") return cloudflareWorkersModule;
      if (name.startsWith("python_modules/")) return import(pathToFileURL(path.join(config.bundleDir, name)).href);
      return import(name);
    },
  });

  // Read by the host glue around each of the Worker's asyncio handles (its own CPU, see _edgestack_host.py).
  globalThis.edgestackCpuMicros = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  pyodide.runPython(`import sys; sys.path[:0] = ["${HOST_ROOT}", "${BUNDLE_ROOT}", "${BUNDLE_ROOT}/python_modules"]`);
  const host = pyodide.pyimport("_edgestack_host");
  const moduleName = config.mainModule.replace(/\.py$/, "").replaceAll("/", ".");
  const imported = host.import_main(moduleName, BUNDLE_ROOT, config.sourceLabel);
  if (typeof imported === "string") {
    throw new HostError(`the Worker failed to import: ${imported}`, { code: "import_failed" });
  }
  const [mainModule, sdkImportMs, entryImportMs] = imported;
  return {
    pyodide,
    host,
    mainModule,
    sourceLabel: config.sourceLabel,
    version: pyodide.version,
    timings: {
      pyodideLoadMs: Math.round(loadedAt - started),
      sdkImportMs: Math.round(sdkImportMs * 10) / 10,
      entryImportMs: Math.round(entryImportMs * 10) / 10,
    },
  };
}

/** The Python class `name` exported by the main module, subclassing `workers.<base>`. */
export function findClass(python, name, base) {
  const found = python.host.find_class(python.mainModule, name, base);
  if (found === undefined || found === null) return null;
  const [cls, methods] = found;
  return { cls, methods: [...methods] };
}

/** The `Type: message` line of an error thrown by Python code (or any JS error). */
export function errorSummary(python, error) {
  if (error && error.constructor && error.constructor.name === "PythonError") {
    return python.host.last_error_line(error.message);
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A Python traceback with the host's own frames dropped and bundle paths shown as sources. */
export function formatWorkerError(python, error) {
  if (!(error && error.constructor && error.constructor.name === "PythonError")) {
    return error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  const out = [];
  let skipping = false;
  for (const line of String(error.message).trimEnd().split("\n")) {
    if (/^\s+File "/.test(line)) skipping = line.includes(`"${HOST_ROOT}/`);
    else if (!/^\s/.test(line)) skipping = false;
    if (!skipping) out.push(line.replaceAll(`${BUNDLE_ROOT}/`, python.sourceLabel));
  }
  return out.join("\n");
}
