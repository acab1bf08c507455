/*
 * protected-paths: an agenthost policy written in C, built as a WASI command.
 *
 * The host runs `protected-paths.wasm HOOK` with the JSON request on stdin and reads the
 * JSON answer from stdout:
 *
 *   describe         -> {"abi":"0.2.0","hooks":["review","validate-config"]}
 *   review           -> {"findings":[...]}: one finding per changed file that matches one
 *                       of the configured globs (`patterns`), with the configured `severity`
 *   validate-config  -> {"errors":[...]}: what is wrong with the config, if anything
 *
 * Exit status: 0 answered, 1 the request is not valid (or I/O failed), 2 unknown hook.
 * Whatever goes to stderr ends up in agenthost's log for this policy.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define NAME "protected-paths"
#define RULE NAME "/changed"

/* Writes a NUL-terminated C string as the inside of a JSON string. */
static void put_escaped(const char *s) { json_write_escaped(stdout, s, strlen(s)); }

/* Writes a JSON string value as a JSON string, quotes included. */
static void put_string(const json_value *v) {
    putchar('"');
    json_write_escaped(stdout, v->text, v->len);
    putchar('"');
}

/* ---- globs -------------------------------------------------------------------------- */

/* The length in bytes of the UTF-8 character at s (which has n > 0 bytes left). */
static size_t char_len(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len < n ? len : n;
}

/*
 * Does the whole of path[0..plen) match pat[0..patlen)?
 *   `**` any run of characters, `/` included;   `*` any run of characters but `/`;
 *   `?`  exactly one character but `/`;           anything else matches itself.
 * Wildcards work on UTF-8 characters, not bytes. A star tries the shortest run first and
 * backtracks; config patterns are short, so plain recursion is fine.
 */
static bool glob_match(const char *pat, size_t patlen, const char *path, size_t plen) {
    size_t p = 0, s = 0;
    while (p < patlen) {
        if (pat[p] == '*') {
            bool any = p + 1 < patlen && pat[p + 1] == '*'; /* `**` crosses `/` */
            p += any ? 2 : 1;
            for (size_t i = s;; i += char_len(path + i, plen - i)) {
                if (glob_match(pat + p, patlen - p, path + i, plen - i)) return true;
                if (i == plen || (!any && path[i] == '/')) return false;
            }
        }
        if (s == plen) return false;
        if (pat[p] == '?') {
            if (path[s] == '/') return false;
            s += char_len(path + s, plen - s);
        } else {
            if (pat[p] != path[s]) return false;
            s++;
        }
        p++;
    }
    return s == plen;
}

/* ---- review ------------------------------------------------------------------------- */

/* The first pattern (in config order) that `candidate` matches, or NULL. */
static const json_value *first_match(const json_value *patterns, const json_value *candidate) {
    for (size_t i = 0; patterns != NULL && i < patterns->count; i++) {
        const json_value *pattern = &patterns->items[i];
        if (pattern->type == JSON_STRING &&
            glob_match(pattern->text, pattern->len, candidate->text, candidate->len)) {
            return pattern;
        }
    }
    return NULL;
}

/* The host validated the config with validate-config before calling review, so this
 * takes it as it is: `patterns` a list of strings, `severity` absent or a valid string. */
static int review(const json_value *request) {
    const json_value *config = json_get(request, "config");
    const json_value *patterns = json_get(config, "patterns");
    if (patterns != NULL && patterns->type != JSON_ARRAY) patterns = NULL;
    const json_value *severity = json_get(config, "severity");
    if (severity != NULL && severity->type != JSON_STRING) severity = NULL;

    const json_value *files = json_get(json_get(request, "run"), "changed_files");
    if (files == NULL || files->type != JSON_ARRAY) {
        fprintf(stderr, NAME ": the request has no list `run.changed_files`\n");
        return 1;
    }
    /* Check the whole request before writing anything, so a bad one gives no partial answer. */
    for (size_t i = 0; i < files->count; i++) {
        const json_value *path = json_get(&files->items[i], "path");
        const json_value *old_path = json_get(&files->items[i], "old_path");
        if (path == NULL || path->type != JSON_STRING ||
            (old_path != NULL && old_path->type != JSON_STRING && old_path->type != JSON_NULL)) {
            fprintf(stderr, NAME ": `run.changed_files[%zu]` needs a string `path` "
                            "and a string or null `old_path`\n", i);
            return 1;
        }
    }

    fputs("{\"findings\":[", stdout);
    bool first = true;
    for (size_t i = 0; i < files->count; i++) {
        /* The candidates: the path, then where a renamed file came from (the host sets
         * `old_path` for renames only). The first one that matches gives the finding. */
        const json_value *candidates[2] = {json_get(&files->items[i], "path"),
                                           json_get(&files->items[i], "old_path")};
        for (int c = 0; c < 2; c++) {
            const json_value *candidate = candidates[c];
            if (candidate == NULL || candidate->type != JSON_STRING) continue;
            const json_value *pattern = first_match(patterns, candidate);
            if (pattern == NULL) continue;

            fputs(first ? "{" : ",{", stdout);
            first = false;
            fputs("\"rule\":\"" RULE "\",\"severity\":", stdout);
            if (severity != NULL) put_string(severity); else fputs("\"warning\"", stdout);
            fputs(",\"message\":\"`", stdout);
            json_write_escaped(stdout, candidate->text, candidate->len);
            put_escaped("` matches the protected pattern `");
            json_write_escaped(stdout, pattern->text, pattern->len);
            fputs("`\",\"path\":", stdout);
            put_string(candidate);
            fputs("}", stdout);
            break; /* at most one finding per file */
        }
    }
    fputs("]}\n", stdout);
    return 0;
}

/* ---- validate-config ---------------------------------------------------------------- */

static bool is_string_list(const json_value *v) {
    if (v->type != JSON_ARRAY) return false;
    for (size_t i = 0; i < v->count; i++) {
        if (v->items[i].type != JSON_STRING) return false;
    }
    return true;
}

/* Byte order of two keys, for qsort. */
static int compare_keys(const void *a, const void *b) {
    const json_member *x = *(const json_member *const *)a, *y = *(const json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int order = memcmp(x->key, y->key, n);
    if (order != 0) return order;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static bool is_known_key(const json_member *m) {
    return (m->key_len == 8 && memcmp(m->key, "patterns", 8) == 0) ||
           (m->key_len == 8 && memcmp(m->key, "severity", 8) == 0);
}

/* Writes the next message of the error list as a JSON string. */
static void put_error(bool *first, const char *message) {
    fputs(*first ? "\"" : ",\"", stdout);
    *first = false;
    put_escaped(message);
    putchar('"');
}

static int validate_config(const json_value *request) {
    /* An absent config is an empty one (and so is anything that is not a table). */
    const json_value *config = json_get(request, "config");
    const json_value *patterns = json_get(config, "patterns");
    const json_value *severity = json_get(config, "severity");

    /* The unknown keys, sorted in byte order. */
    size_t count = config != NULL && config->type == JSON_OBJECT ? config->count : 0;
    const json_member **unknown = malloc((count + 1) * sizeof *unknown);
    if (unknown == NULL) {
        fprintf(stderr, NAME ": out of memory\n");
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (!is_known_key(&config->members[i])) unknown[n++] = &config->members[i];
    }
    qsort(unknown, n, sizeof *unknown, compare_keys);

    fputs("{\"errors\":[", stdout);
    bool first = true;
    if (patterns == NULL) {
        put_error(&first, "`patterns` is required: a list of globs such as [\"migrations/**\"]");
    } else if (!is_string_list(patterns)) {
        put_error(&first, "`patterns` must be a list of strings");
    }
    if (severity != NULL && !json_is_string(severity, "info") &&
        !json_is_string(severity, "warning") && !json_is_string(severity, "error")) {
        put_error(&first, "`severity` must be \"info\", \"warning\" or \"error\"");
    }

    /* Unknown keys, sorted, each once (a duplicated key is still one key). */
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && compare_keys(&unknown[i - 1], &unknown[i]) == 0) continue;
        fputs(first ? "\"" : ",\"", stdout);
        first = false;
        put_escaped("unknown key `");
        json_write_escaped(stdout, unknown[i]->key, unknown[i]->key_len);
        put_escaped("`: the keys are `patterns` and `severity`");
        putchar('"');
    }
    free(unknown);
    fputs("]}\n", stdout);
    return 0;
}

/* ---- main --------------------------------------------------------------------------- */

/* Reads all of stdin into a NUL-terminated buffer. */
static char *read_all(FILE *in, size_t *len) {
    size_t capacity = 1 << 16, used = 0;
    char *buf = malloc(capacity);
    while (buf != NULL) {
        used += fread(buf + used, 1, capacity - used - 1, in);
        if (ferror(in)) break;
        if (feof(in)) {
            buf[used] = '\0';
            *len = used;
            return buf;
        }
        if (capacity - used - 1 == 0) {
            char *bigger = realloc(buf, capacity * 2);
            if (bigger == NULL) break;
            buf = bigger;
            capacity *= 2;
        }
    }
    free(buf);
    return NULL;
}

/* Flushes stdout and turns a write error into exit status 1. */
static int finish(int status) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, NAME ": could not write the answer to stdout\n");
        return 1;
    }
    return status;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, NAME ": no hook given: run as `" NAME ".wasm HOOK` with the JSON "
                        "request on stdin\n");
        return 2;
    }
    const char *hook = argv[1];

    /* Read the whole request first, whatever the hook (it is empty for `describe`). */
    size_t len = 0;
    char *input = read_all(stdin, &len);
    if (input == NULL) {
        fprintf(stderr, NAME ": could not read the request from stdin\n");
        return 1;
    }

    bool is_review = strcmp(hook, "review") == 0;
    bool is_validate = strcmp(hook, "validate-config") == 0;
    if (strcmp(hook, "describe") == 0) {
        fputs("{\"abi\":\"0.2.0\",\"hooks\":[\"review\",\"validate-config\"]}\n", stdout);
        return finish(0);
    }
    if (!is_review && !is_validate) {
        fprintf(stderr, NAME ": unknown hook `%s`: this policy answers `describe`, "
                        "`review` and `validate-config`\n", hook);
        return 2;
    }

    json_value request;
    char err[160];
    if (!json_parse(input, len, &request, err, sizeof err)) {
        fprintf(stderr, NAME ": the %s request is not valid JSON: %s\n", hook, err);
        return 1;
    }
    if (request.type != JSON_OBJECT) {
        fprintf(stderr, NAME ": the %s request must be a JSON object\n", hook);
        return 1;
    }
    return finish(is_review ? review(&request) : validate_config(&request));
}
