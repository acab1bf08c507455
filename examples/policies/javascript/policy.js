// protected-paths: flags every changed file that matches a configured glob.
//
// componentize-js builds this ES module into a typed agenthost component. The world
// (`world.wit`) exports two interfaces; each is an exported object named after the
// interface in camelCase (`review`, `config`) whose methods are the WIT functions in
// camelCase (`reviewRun`, `validate`). WIT records arrive as objects with camelCase
// fields, enums as their case names ("renamed", "warning"), `option<T>` as the value or
// `undefined`.

const RULE = "protected-paths/changed";
const KEYS = ["patterns", "severity"];
const SEVERITIES = ["info", "warning", "error"];

/** Compiles a glob into an anchored RegExp: `**` is any run of characters, `*` any run
 * without `/`, `?` one character other than `/`; everything else matches itself. */
function globToRegExp(pattern) {
  let source = "";
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith("**", i)) {
      source += "[\\s\\S]*";
      i += 2;
    } else if (pattern[i] === "*") {
      source += "[^/]*";
      i += 1;
    } else if (pattern[i] === "?") {
      // With the `u` flag below, `[^/]` matches a whole code point, not half of one.
      source += "[^/]";
      i += 1;
    } else {
      // Escape only RegExp syntax characters: with the `u` flag any other escape, `\-`
      // for one, is a SyntaxError.
      source += pattern[i].replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
      i += 1;
    }
  }
  return new RegExp(`^(?:${source})$`, "u");
}

/** The first pattern, in configured order, that matches the whole of `candidate`. */
function firstMatch(candidate, globs) {
  const hit = globs.find(({ regexp }) => regexp.test(candidate));
  return hit === undefined ? undefined : hit.pattern;
}

/** Compares strings by UTF-8 byte order (= code point order), not by UTF-16 units as
 * the default `sort()` does. */
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

export const review = {
  reviewRun(config, spec, run) {
    // The host ran `validate` when it loaded the policy, so the config is valid.
    const table = JSON.parse(config);
    const severity = table.severity ?? "warning";
    const globs = table.patterns.map((pattern) => ({ pattern, regexp: globToRegExp(pattern) }));

    const findings = [];
    for (const changed of run.changedFiles) {
      const candidates = [changed.path];
      if (changed.kind === "renamed" && changed.oldPath !== undefined) {
        candidates.push(changed.oldPath);
      }
      for (const candidate of candidates) {
        const pattern = firstMatch(candidate, globs);
        if (pattern !== undefined) {
          findings.push({
            rule: RULE,
            severity,
            message: `\`${candidate}\` matches the protected pattern \`${pattern}\``,
            path: candidate,
            line: undefined,
          });
          break; // at most one finding per file
        }
      }
    }
    return findings;
  },
};

export const config = {
  validate(config) {
    let table = JSON.parse(config);
    if (table === null || typeof table !== "object" || Array.isArray(table)) table = {};
    const errors = [];
    if (!("patterns" in table)) {
      errors.push('`patterns` is required: a list of globs such as ["migrations/**"]');
    } else if (
      !Array.isArray(table.patterns) ||
      !table.patterns.every((p) => typeof p === "string")
    ) {
      errors.push("`patterns` must be a list of strings");
    }
    if ("severity" in table && !SEVERITIES.includes(table.severity)) {
      errors.push('`severity` must be "info", "warning" or "error"');
    }
    const unknown = Object.keys(table).filter((key) => !KEYS.includes(key));
    for (const key of unknown.sort(byCodePoint)) {
      errors.push(`unknown key \`${key}\`: the keys are \`patterns\` and \`severity\``);
    }
    return errors;
  },
};
