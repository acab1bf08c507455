// Edge cases the shared fixtures cannot reach (agenthost only ever sends valid, compact
// JSON): the built protected-paths.wasm run under Node's own WASI. `node --test tests/`
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, openSync, closeSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";

const module = new WebAssembly.Module(readFileSync(new URL("../protected-paths.wasm", import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), "protected-paths-"));

/** Runs one hook with `input` on stdin: { status, stdout, stderr }. */
function run(hook, input) {
  const files = ["stdin", "stdout", "stderr"].map((name) => join(dir, name));
  writeFileSync(files[0], input);
  writeFileSync(files[1], "");
  writeFileSync(files[2], "");
  const fds = [openSync(files[0], "r"), openSync(files[1], "w"), openSync(files[2], "w")];
  const wasi = new WASI({
    version: "preview1",
    args: ["protected-paths", hook],
    stdin: fds[0],
    stdout: fds[1],
    stderr: fds[2],
    returnOnExit: true,
  });
  const instance = new WebAssembly.Instance(module, wasi.getImportObject());
  const status = wasi.start(instance);
  fds.forEach((fd) => closeSync(fd));
  return { status, stdout: readFileSync(files[1], "utf8"), stderr: readFileSync(files[2], "utf8") };
}

/** The review of one changed file `path` under `patterns`: the parsed answer. */
function review(path, patterns, extra = "") {
  const request = `{"config":{"patterns":${JSON.stringify(patterns)}}${extra},` +
    `"run":{"changed_files":[{"path":${JSON.stringify(path)},"old_path":null,"kind":"added"}]}}`;
  const { status, stdout, stderr } = run("review", request);
  assert.equal(status, 0, stderr);
  return JSON.parse(stdout).findings.map((finding) => finding.path);
}

test("describe", () => {
  const { status, stdout } = run("describe", "");
  assert.equal(status, 0);
  assert.deepEqual(JSON.parse(stdout), { abi: "0.2.0", hooks: ["review", "validate-config"] });
});

test("an unknown hook exits 2 with a message", () => {
  const { status, stdout, stderr } = run("admission", "{}");
  assert.equal(status, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /unknown hook "admission"/);
});

test("escapes round-trip", () => {
  const path = 'a"b\\c\t\u0001/é';
  assert.deepEqual(review(path, ["**"]), [path]);
  // The same path written with \u escapes, as other encoders do.
  const request = '{"config":{"patterns":["**"]},"run":{"changed_files":' +
    '[{"path":"a\\u0022b\\\\c\\t\\u0001\\/\\u00e9","old_path":null,"kind":"added"}]}}';
  assert.deepEqual(JSON.parse(run("review", request).stdout).findings[0].path, path);
});

test("? is one character, a surrogate pair included", () => {
  assert.deepEqual(review("😀.md", ["?.md"]), ["😀.md"]);
  assert.deepEqual(review("€€", ["*??"]), ["€€"]);
  assert.deepEqual(review("€", ["*??"]), []);
  assert.deepEqual(review("a/b", ["a?b"]), []);
});

test("the spec and the patch are skipped, whatever they hold", () => {
  const extra = ',"spec":{"title":"x\\ny","sections":[{"text":"\\ud83d\\ude00"}]},"patch":"\\"}{["';
  assert.deepEqual(review("x.lock", ["*.lock"], extra), ["x.lock"]);
});

test("unknown keys sort by byte order", () => {
  const { stdout } = run("validate-config", '{"config":{"patterns":[],"é":1,"z":2,"😀":3,"\\uffff":4,"B":null}}');
  const keys = JSON.parse(stdout).errors.map((error) => error.match(/`(.*?)`/)[1]);
  assert.deepEqual(keys, ["B", "z", "é", "\uffff", "😀"]);
});

test("null and other non-lists are not a list of strings", () => {
  for (const patterns of ["null", "{}", '"x"', '[null]', "[[]]"]) {
    const { stdout } = run("validate-config", `{"config":{"patterns":${patterns},"severity":null}}`);
    assert.deepEqual(JSON.parse(stdout).errors, [
      "`patterns` must be a list of strings",
      '`severity` must be "info", "warning" or "error"',
    ]);
  }
});

test("malformed requests exit 1 with the reason", () => {
  const cases = [
    ["", "expected a value at the end"],
    ["nope", "expected a value at byte 1"],
    ['{"a":[1,]}', "expected a value at byte 8"],
    ['{"a":01}', "expected ',' or '}' at byte 6"],
    ['{"a":"b', "unterminated string"],
    ['{"a":"\\x"}', "invalid escape in a string at byte 7"],
    ['{"a":"\\ud83d"}', "lone surrogate in a string"],
    ['{"a":"\n"}', "control character in a string at byte 6"],
    ["{} {}", "unexpected text after the JSON value at byte 3"],
    ["[".repeat(200), "nested too deeply"],
  ];
  for (const [input, reason] of cases) {
    const { status, stderr } = run("validate-config", input);
    assert.equal(status, 1, input);
    assert.ok(stderr.includes(reason), `${JSON.stringify(input)}: ${stderr}`);
  }
});
