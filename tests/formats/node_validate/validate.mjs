// Validates UIMessage lists with the AI SDK's own safeValidateUIMessages.
//
// usage: node validate.mjs MODULES_DIR INPUT.json
//
// MODULES_DIR is the directory whose node_modules holds the pinned `ai` and
// `zod` (see package.json beside this file); INPUT.json is an array of
// payloads, each an array of UIMessage objects. Prints a JSON array with one
// entry per payload: {"ok": true} or {"ok": false, "error": "..."}.
//
// A payload passes when the validator accepts it AND gives it back unchanged:
// its schemas drop keys they do not know, so a changed value means a key the
// AI SDK does not define.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";

const [modulesDir, inputPath] = process.argv.slice(2);
const require = createRequire(join(modulesDir, "package.json"));
const { safeValidateUIMessages } = require("ai");

function firstDifference(a, b, path = "") {
  if (isDeepStrictEqual(a, b)) return null;
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const found = firstDifference(a[key], b[key], `${path}[${JSON.stringify(key)}]`);
      if (found) return found;
    }
  }
  return `${path}: sent ${JSON.stringify(a)}, validator kept ${JSON.stringify(b)}`;
}

const payloads = JSON.parse(readFileSync(inputPath, "utf8"));
const results = [];
for (const messages of payloads) {
  const result = await safeValidateUIMessages({ messages });
  if (!result.success) {
    results.push({ ok: false, error: String(result.error.message ?? result.error) });
    continue;
  }
  // Through JSON, as a server would store it: `undefined` values vanish.
  const kept = JSON.parse(JSON.stringify(result.data));
  const difference = firstDifference(messages, kept);
  results.push(difference ? { ok: false, error: `unknown key or value ${difference}` } : { ok: true });
}
process.stdout.write(JSON.stringify(results));
