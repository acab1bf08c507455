//! protected-paths: an agenthost policy written in Zig, built as a WASI command.
//!
//! The host runs `protected-paths.wasm HOOK` with the JSON request on stdin and reads the
//! JSON answer from stdout:
//!
//!   describe         -> {"abi":"0.2.0","hooks":["review","validate-config"]}
//!   review           -> {"findings":[...]}: one finding per changed file that matches one
//!                       of the configured globs (`patterns`), with the configured `severity`
//!   validate-config  -> {"errors":[...]}: what is wrong with the config, if anything
//!
//! Exit status: 0 answered, 1 the request is not valid (or I/O failed), 2 unknown hook.
//! Whatever goes to stderr ends up in agenthost's log for this policy.

const std = @import("std");
const json = std.json;

const name = "protected-paths";
const rule = name ++ "/changed";

const Hook = enum { describe, review, @"validate-config" };

// ---- the JSON this policy reads and writes (std.json maps it onto these types) ----------

const Severity = enum { info, warning, @"error" };

/// `[policies.protected-paths.config]` as `review` sees it: the host has already checked it
/// with `validate-config`.
const Config = struct {
    patterns: []const []const u8,
    severity: Severity = .warning,
};

const ChangedFile = struct {
    path: []const u8,
    /// Where a renamed file came from (null for other changes).
    old_path: ?[]const u8 = null,
};

/// The parts of the `review` request this policy reads; the rest (`spec`, the patch, ...)
/// is skipped.
const ReviewRequest = struct {
    config: json.Value = .null,
    run: struct { changed_files: []const ChangedFile },
};

const ConfigRequest = struct {
    config: json.Value = .null,
};

const Finding = struct {
    rule: []const u8,
    severity: Severity,
    message: []const u8,
    path: []const u8,
};

// ---- globs --------------------------------------------------------------------------------

/// Does the whole of `path` match `pattern`?
///   `**` any run of characters, `/` included;   `*` any run of characters but `/`;
///   `?`  exactly one character but `/`;           anything else matches itself.
/// Wildcards work on UTF-8 characters, not bytes. A star tries the shortest run first and
/// backtracks; config patterns are short, so plain recursion is fine.
fn globMatch(pattern: []const u8, path: []const u8) bool {
    var p: usize = 0;
    var s: usize = 0;
    while (p < pattern.len) {
        if (pattern[p] == '*') {
            const any = p + 1 < pattern.len and pattern[p + 1] == '*'; // `**` crosses `/`
            const rest = pattern[p + @as(usize, if (any) 2 else 1) ..];
            var i = s;
            while (true) : (i += charLen(path[i..])) {
                if (globMatch(rest, path[i..])) return true;
                if (i == path.len or (!any and path[i] == '/')) return false;
            }
        }
        if (s == path.len) return false;
        if (pattern[p] == '?') {
            if (path[s] == '/') return false;
            s += charLen(path[s..]);
        } else {
            if (pattern[p] != path[s]) return false;
            s += 1;
        }
        p += 1;
    }
    return s == path.len;
}

/// The length in bytes of the UTF-8 character that `s` (not empty) starts with.
fn charLen(s: []const u8) usize {
    const len = std.unicode.utf8ByteSequenceLength(s[0]) catch 1;
    return @min(len, s.len);
}

// ---- the hooks ----------------------------------------------------------------------------

fn review(arena: std.mem.Allocator, request: ReviewRequest) error{ InvalidConfig, OutOfMemory }![]Finding {
    const config = json.parseFromValueLeaky(Config, arena, request.config, .{
        .ignore_unknown_fields = true,
    }) catch return error.InvalidConfig;

    var findings: std.ArrayList(Finding) = .empty;
    for (request.run.changed_files) |file| {
        // The candidates: the path, then where a renamed file came from. The first one that
        // matches a pattern (tried in config order) gives the file's one finding.
        const candidates = [_]?[]const u8{ file.path, file.old_path };
        candidates: for (candidates) |maybe_candidate| {
            const candidate = maybe_candidate orelse continue;
            for (config.patterns) |pattern| {
                if (!globMatch(pattern, candidate)) continue;
                try findings.append(arena, .{
                    .rule = rule,
                    .severity = config.severity,
                    .message = try std.fmt.allocPrint(
                        arena,
                        "`{s}` matches the protected pattern `{s}`",
                        .{ candidate, pattern },
                    ),
                    .path = candidate,
                });
                break :candidates;
            }
        }
    }
    return findings.items;
}

fn validateConfig(arena: std.mem.Allocator, config: json.Value) error{OutOfMemory}![][]const u8 {
    // An absent config is an empty one (and so is anything that is not a table).
    const table: json.ObjectMap = switch (config) {
        .object => |object| object,
        else => .empty,
    };
    var errors: std.ArrayList([]const u8) = .empty;

    if (table.get("patterns")) |patterns| {
        const is_string_list = switch (patterns) {
            .array => |list| for (list.items) |item| {
                if (item != .string) break false;
            } else true,
            else => false,
        };
        if (!is_string_list) try errors.append(arena, "`patterns` must be a list of strings");
    } else {
        try errors.append(arena, "`patterns` is required: a list of globs such as [\"migrations/**\"]");
    }

    if (table.get("severity")) |severity| {
        const valid = severity == .string and std.meta.stringToEnum(Severity, severity.string) != null;
        if (!valid) try errors.append(arena, "`severity` must be \"info\", \"warning\" or \"error\"");
    }

    // One error per unknown key, keys in byte order.
    var unknown: std.ArrayList([]const u8) = .empty;
    for (table.keys()) |key| {
        if (!std.mem.eql(u8, key, "patterns") and !std.mem.eql(u8, key, "severity")) {
            try unknown.append(arena, key);
        }
    }
    std.mem.sort([]const u8, unknown.items, {}, lessThan);
    for (unknown.items) |key| {
        try errors.append(arena, try std.fmt.allocPrint(
            arena,
            "unknown key `{s}`: the keys are `patterns` and `severity`",
            .{key},
        ));
    }
    return errors.items;
}

fn lessThan(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.order(u8, a, b) == .lt;
}

// ---- the command --------------------------------------------------------------------------

pub fn main(init: std.process.Init) u8 {
    const arena = init.arena.allocator();
    const io = init.io;

    const args = init.minimal.args.toSlice(arena) catch |err|
        return fail(io, 1, "could not read the arguments: {t}", .{err});
    if (args.len < 2) {
        return fail(io, 2, "no hook given: run as `{s}.wasm HOOK` with the JSON request on stdin", .{name});
    }

    // Read the whole request first, whatever the hook (it is empty for `describe`).
    var in_buffer: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().readerStreaming(io, &in_buffer);
    const input = stdin.interface.allocRemaining(arena, .unlimited) catch |err|
        return fail(io, 1, "could not read the request from stdin: {t}", .{err});

    const hook = std.meta.stringToEnum(Hook, args[1]) orelse return fail(
        io,
        2,
        "unknown hook `{s}`: this policy answers `describe`, `review` and `validate-config`",
        .{args[1]},
    );

    var out_buffer: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writerStreaming(io, &out_buffer);
    const out = &stdout.interface;

    const written = switch (hook) {
        .describe => json.Stringify.value(.{
            .abi = "0.2.0",
            .hooks = [_][]const u8{ "review", "validate-config" },
        }, .{}, out),
        .review => answer: {
            const request = parse(ReviewRequest, arena, io, "review", input) orelse return 1;
            const findings = review(arena, request) catch |err| switch (err) {
                error.InvalidConfig => return fail(io, 1, "the config is not valid (validate-config says why)", .{}),
                error.OutOfMemory => return fail(io, 1, "out of memory", .{}),
            };
            break :answer json.Stringify.value(.{ .findings = findings }, .{}, out);
        },
        .@"validate-config" => answer: {
            const request = parse(ConfigRequest, arena, io, "validate-config", input) orelse return 1;
            const errors = validateConfig(arena, request.config) catch
                return fail(io, 1, "out of memory", .{});
            break :answer json.Stringify.value(.{ .errors = errors }, .{}, out);
        },
    };
    written catch return fail(io, 1, "could not write the answer to stdout", .{});
    out.writeByte('\n') catch {};
    out.flush() catch return fail(io, 1, "could not write the answer to stdout", .{});
    return 0;
}

/// Parses the request into `T`, ignoring the fields `T` does not name; on failure says
/// where and why on stderr and returns null.
fn parse(comptime T: type, arena: std.mem.Allocator, io: std.Io, hook: []const u8, input: []const u8) ?T {
    var scanner = json.Scanner.initCompleteInput(arena, input);
    var diagnostics: json.Diagnostics = .{};
    scanner.enableDiagnostics(&diagnostics);
    return json.parseFromTokenSourceLeaky(T, arena, &scanner, .{
        .ignore_unknown_fields = true,
        // A repeated key keeps its last value, as in most JSON libraries.
        .duplicate_field_behavior = .use_last,
        // Numbers stay text: this policy never needs their values.
        .parse_numbers = false,
    }) catch |err| {
        _ = fail(io, 1, "the {s} request is not valid: {t} at line {d}, column {d}", .{
            hook, err, diagnostics.getLine(), diagnostics.getColumn(),
        });
        return null;
    };
}

/// Writes `protected-paths: MESSAGE` to stderr and returns `status`.
fn fail(io: std.Io, status: u8, comptime format: []const u8, args: anytype) u8 {
    var buffer: [512]u8 = undefined;
    var stderr = std.Io.File.stderr().writerStreaming(io, &buffer);
    stderr.interface.print(name ++ ": " ++ format ++ "\n", args) catch {};
    stderr.interface.flush() catch {};
    return status;
}

// ---- tests (`zig test src/main.zig`) --------------------------------------------------------

test globMatch {
    try std.testing.expect(globMatch("migrations/**", "migrations/2026/001.sql"));
    try std.testing.expect(globMatch("*.lock", "Cargo.lock"));
    try std.testing.expect(!globMatch("*.lock", "web/yarn.lock"));
    try std.testing.expect(globMatch("**.lock", "web/yarn.lock"));
    try std.testing.expect(globMatch("config/?.toml", "config/é.toml"));
    try std.testing.expect(!globMatch("config/?.toml", "config/ab.toml"));
    try std.testing.expect(!globMatch("*??", "€"));
    try std.testing.expect(globMatch("*??", "€€"));
    try std.testing.expect(globMatch("docs/[draft].md", "docs/[draft].md"));
    try std.testing.expect(!globMatch("docs/[draft].md", "docs/d.md"));
    try std.testing.expect(globMatch("", ""));
    try std.testing.expect(!globMatch("a", ""));
}

test validateConfig {
    var arena_state = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena_state.deinit();
    const arena = arena_state.allocator();
    const config = try json.parseFromSliceLeaky(json.Value, arena,
        \\{"patterns": [1], "severity": "fatal", "zz": 1, "a": 2}
    , .{});
    const errors = try validateConfig(arena, config);
    try std.testing.expectEqual(4, errors.len);
    try std.testing.expectEqualStrings("`patterns` must be a list of strings", errors[0]);
    try std.testing.expectEqualStrings("unknown key `a`: the keys are `patterns` and `severity`", errors[2]);
}
