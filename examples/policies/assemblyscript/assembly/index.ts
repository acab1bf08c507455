// protected-paths: an agenthost policy as a WASI command, written in AssemblyScript.
//
// agenthost runs the module once per call with argv = [name, hook], the JSON request on
// stdin, and reads one JSON answer from stdout (exit status 0): the WASI-command ABI of
// the agenthost SDK. `process` (argv, stdin, stdout, stderr, exit) comes from
// @assemblyscript/wasi-shim; json.ts reads the request into a tree of JsonValue.

import { JsonValue, Kind, parseJson, quote } from "./json";
import { matchGlob } from "./glob";

/** The rule every finding carries. */
const RULE = "protected-paths/changed";

function main(): i32 {
  const argv = process.argv;
  if (argv.length < 2) {
    return fail(2, "usage: protected-paths.wasm HOOK < REQUEST.json");
  }
  const hook = argv[1];
  if (hook == "describe") {
    process.stdout.write('{"abi":"0.2.0","hooks":["review","validate-config"]}\n');
    return 0;
  }
  if (hook == "review") {
    // Review reads only the config and run.changed_files: skip the spec and the patch.
    process.stdout.write(review(parseJson(readStdin(), ["spec", "patch"])) + "\n");
    return 0;
  }
  if (hook == "validate-config") {
    process.stdout.write(validateConfig(parseJson(readStdin()).get("config")) + "\n");
    return 0;
  }
  return fail(
    2,
    "unknown hook " + quote(hook) + ": this policy answers describe, review and validate-config",
  );
}

// ---- review -------------------------------------------------------------------------

/**
 * Flags each changed file whose path (or, for a rename, old path) matches a protected
 * pattern: one finding per file, from the first matching candidate and pattern.
 * validate-config has accepted the config before review runs.
 */
function review(request: JsonValue): string {
  const config = request.get("config");
  const patterns = new Array<string>();
  const items = config.get("patterns").items();
  for (let i = 0; i < items.length; i++) patterns.push(items[i].text);
  const severity = config.has("severity") ? config.get("severity").text : "warning";

  const findings = new Array<string>();
  const files = request.get("run").get("changed_files").items();
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const candidates = [file.get("path").text];
    const oldPath = file.get("old_path"); // a string, null, or Missing
    if (file.get("kind").text == "renamed" && oldPath.isString) {
      candidates.push(oldPath.text);
    }
    const finding = firstMatch(candidates, patterns, severity);
    if (finding != null) findings.push(finding);
  }
  return '{"findings":[' + findings.join(",") + "]}";
}

/** The finding (as JSON) for the first candidate that matches any pattern, or null. */
function firstMatch(candidates: string[], patterns: string[], severity: string): string | null {
  for (let c = 0; c < candidates.length; c++) {
    const candidate = candidates[c];
    for (let p = 0; p < patterns.length; p++) {
      const pattern = patterns[p];
      if (matchGlob(pattern, candidate)) {
        const message = "`" + candidate + "` matches the protected pattern `" + pattern + "`";
        return (
          '{"rule":' + quote(RULE) +
          ',"severity":' + quote(severity) +
          ',"message":' + quote(message) +
          ',"path":' + quote(candidate) + "}"
        );
      }
    }
  }
  return null;
}

// ---- validate-config ----------------------------------------------------------------

/**
 * The config's problems in the documented order: patterns, severity, then one per
 * unknown key in byte order.
 */
function validateConfig(config: JsonValue): string {
  const errors = new Array<string>();

  const patterns = config.get("patterns");
  if (patterns.kind == Kind.Missing) {
    errors.push('`patterns` is required: a list of globs such as ["migrations/**"]');
  } else if (!isListOfStrings(patterns)) {
    errors.push("`patterns` must be a list of strings");
  }

  const severity = config.get("severity");
  if (severity.kind != Kind.Missing && !isSeverity(severity)) {
    errors.push('`severity` must be "info", "warning" or "error"');
  }

  const unknown = new Array<string>();
  const keys = config.keys();
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] != "patterns" && keys[i] != "severity") unknown.push(keys[i]);
  }
  // Keys come in input order: sort them (code point order is UTF-8 byte order).
  unknown.sort(compareCodePoints);
  for (let i = 0; i < unknown.length; i++) {
    errors.push("unknown key `" + unknown[i] + "`: the keys are `patterns` and `severity`");
  }

  const quoted = new Array<string>(errors.length);
  for (let i = 0; i < errors.length; i++) quoted[i] = quote(errors[i]);
  return '{"errors":[' + quoted.join(",") + "]}";
}

function isListOfStrings(value: JsonValue): bool {
  if (value.kind != Kind.Array) return false;
  const items = value.items();
  for (let i = 0; i < items.length; i++) {
    if (!items[i].isString) return false;
  }
  return true;
}

function isSeverity(value: JsonValue): bool {
  return value.isString && (value.text == "info" || value.text == "warning" || value.text == "error");
}

/** Orders strings by code point, which is the byte order of their UTF-8. */
function compareCodePoints(a: string, b: string): i32 {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(j);
    if (x != y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return (a.length - i) - (b.length - j);
}

// ---- input and output ---------------------------------------------------------------

/** The whole of stdin. */
function readStdin(): Uint8Array {
  // Read in chunks, then copy once into a buffer of the exact size.
  const chunks = new Array<Uint8Array>();
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(64 * 1024);
    const read = process.stdin.read(chunk.buffer);
    if (read <= 0) break;
    chunks.push(chunk.subarray(0, read));
    total += read;
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    data.set(chunks[i], offset);
    offset += chunks[i].length;
  }
  return data;
}

/** Logs `message` to stderr (agenthost's log for this policy); returns the exit code. */
function fail(code: i32, message: string): i32 {
  process.stderr.write("protected-paths: " + message + "\n");
  return code;
}

const status = main();
if (status != 0) process.exit(status);
