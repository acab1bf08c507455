/*
 * json.c: a recursive-descent JSON reader (RFC 8259) and a string escaper.
 * See json.h for the interface.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* How deep arrays and objects may nest (serde_json, the host's library, allows 128). */
#define MAX_DEPTH 128

typedef struct {
    const char *start; /* the whole document, for line and column numbers */
    const char *p;     /* the next byte to read */
    const char *end;
    int depth;
    char *err;
    size_t err_size;
    bool failed;
} parser;

/* Records the first error with its position and returns false, so that every parse
 * function can `return fail(ps, "...")`. */
static bool fail(parser *ps, const char *what) {
    if (!ps->failed) {
        size_t line = 1, column = 1;
        for (const char *c = ps->start; c < ps->p; c++) {
            if (*c == '\n') {
                line++;
                column = 1;
            } else if (((unsigned char)*c & 0xC0) != 0x80) { /* count characters, not bytes */
                column++;
            }
        }
        if (ps->p >= ps->end) {
            snprintf(ps->err, ps->err_size, "%s at the end of the input", what);
        } else {
            snprintf(ps->err, ps->err_size, "%s at line %zu, column %zu", what, line, column);
        }
        ps->failed = true;
    }
    return false;
}

static void skip_whitespace(parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

/* Grows *array (of `size`-byte elements, *count used, *capacity allocated) by one and
 * returns the new, zeroed element, or NULL when memory runs out. */
static void *push(void **array, size_t *count, size_t *capacity, size_t size) {
    if (*count == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 4;
        void *bigger = realloc(*array, grown * size);
        if (bigger == NULL) return NULL;
        *array = bigger;
        *capacity = grown;
    }
    void *slot = (char *)*array + (*count)++ * size;
    memset(slot, 0, size);
    return slot;
}

static bool parse_value(parser *ps, json_value *out);

/* Reads four hex digits after "\u". */
static bool parse_hex4(parser *ps, uint32_t *out) {
    if (ps->end - ps->p < 4) return fail(ps, "a \\u escape needs four hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return fail(ps, "a \\u escape needs four hex digits");
    }
    ps->p += 4;
    *out = v;
    return true;
}

/* Appends code point cp as UTF-8 at *dst. */
static void put_utf8(char **dst, uint32_t cp) {
    unsigned char *d = (unsigned char *)*dst;
    if (cp < 0x80) {
        *d++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *d++ = (unsigned char)(0xC0 | (cp >> 6));
        *d++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (unsigned char)(0xE0 | (cp >> 12));
        *d++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (unsigned char)(0xF0 | (cp >> 18));
        *d++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *dst = (char *)d;
}

/* Parses a string starting at its opening quote into a new NUL-terminated buffer. */
static bool parse_string(parser *ps, char **text, size_t *len) {
    ps->p++; /* the opening quote */

    /* Find the closing quote first: the decoded string is never longer than its source
     * (an escape is at least as long as the UTF-8 it stands for), so that sizes the buffer. */
    const char *q = ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && ps->end - q > 1) q++; /* skip the escaped byte too */
        q++;
    }
    if (q >= ps->end) {
        ps->p = ps->end;
        return fail(ps, "unterminated string");
    }
    char *buf = malloc((size_t)(q - ps->p) + 1);
    if (buf == NULL) return fail(ps, "out of memory");
    char *d = buf;

    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) return fail(ps, "control character in a string (it must be escaped)");
        if (c != '\\') {
            *d++ = (char)c;
            ps->p++;
            continue;
        }
        ps->p++; /* the backslash; the loop above made sure a byte follows */
        char e = *ps->p++;
        switch (e) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '/': *d++ = '/'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (!parse_hex4(ps, &cp)) return false;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ps, "lone low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate must be followed by "\u" and a low surrogate. */
                uint32_t low;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    return fail(ps, "lone high surrogate in a \\u escape");
                }
                ps->p += 2;
                if (!parse_hex4(ps, &low)) return false;
                if (low < 0xDC00 || low > 0xDFFF) {
                    return fail(ps, "a high surrogate must be followed by a low surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            put_utf8(&d, cp);
            break;
        }
        default:
            ps->p -= 2; /* point at the backslash */
            return fail(ps, "invalid escape in a string");
        }
    }
    ps->p++; /* the closing quote */
    *d = '\0';
    *text = buf;
    *len = (size_t)(d - buf);
    return true;
}

static bool is_digit(const parser *ps) {
    return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, kept as text. */
static bool parse_number(parser *ps, json_value *out) {
    const char *begin = ps->p;
    if (*ps->p == '-') ps->p++;
    if (!is_digit(ps)) return fail(ps, "invalid number: expected a digit");
    if (*ps->p == '0') {
        ps->p++;
    } else {
        while (is_digit(ps)) ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!is_digit(ps)) return fail(ps, "invalid number: expected a digit after '.'");
        while (is_digit(ps)) ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (!is_digit(ps)) return fail(ps, "invalid number: expected a digit in the exponent");
        while (is_digit(ps)) ps->p++;
    }
    size_t len = (size_t)(ps->p - begin);
    out->text = malloc(len + 1);
    if (out->text == NULL) return fail(ps, "out of memory");
    memcpy(out->text, begin, len);
    out->text[len] = '\0';
    out->len = len;
    out->type = JSON_NUMBER;
    return true;
}

static bool parse_literal(parser *ps, const char *word, json_type type, json_value *out) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        return fail(ps, "unexpected character");
    }
    ps->p += n;
    out->type = type;
    return true;
}

static bool parse_array(parser *ps, json_value *out) {
    size_t capacity = 0;
    out->type = JSON_ARRAY;
    ps->p++; /* '[' */
    skip_whitespace(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return true;
    }
    for (;;) {
        json_value *item = push((void **)&out->items, &out->count, &capacity, sizeof *item);
        if (item == NULL) return fail(ps, "out of memory");
        if (!parse_value(ps, item)) return false;
        skip_whitespace(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
        } else if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return true;
        } else {
            return fail(ps, "expected ',' or ']'");
        }
    }
}

static bool parse_object(parser *ps, json_value *out) {
    size_t capacity = 0;
    out->type = JSON_OBJECT;
    ps->p++; /* '{' */
    skip_whitespace(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return true;
    }
    for (;;) {
        skip_whitespace(ps);
        if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key");
        json_member *m = push((void **)&out->members, &out->count, &capacity, sizeof *m);
        if (m == NULL) return fail(ps, "out of memory");
        if (!parse_string(ps, &m->key, &m->key_len)) return false;
        skip_whitespace(ps);
        if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':' after a key");
        ps->p++;
        if (!parse_value(ps, &m->value)) return false;
        skip_whitespace(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
        } else if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return true;
        } else {
            return fail(ps, "expected ',' or '}'");
        }
    }
}

static bool parse_value(parser *ps, json_value *out) {
    skip_whitespace(ps);
    if (ps->p >= ps->end) return fail(ps, "expected a value");
    switch (*ps->p) {
    case '{':
    case '[': {
        if (++ps->depth > MAX_DEPTH) return fail(ps, "arrays and objects nested too deeply");
        bool ok = *ps->p == '{' ? parse_object(ps, out) : parse_array(ps, out);
        ps->depth--;
        return ok;
    }
    case '"':
        out->type = JSON_STRING;
        return parse_string(ps, &out->text, &out->len);
    case 't': return parse_literal(ps, "true", JSON_TRUE, out);
    case 'f': return parse_literal(ps, "false", JSON_FALSE, out);
    case 'n': return parse_literal(ps, "null", JSON_NULL, out);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps, out);
        return fail(ps, "unexpected character");
    }
}

bool json_parse(const char *input, size_t len, json_value *out, char *err, size_t err_size) {
    parser ps = {input, input, input + len, 0, err, err_size, false};
    memset(out, 0, sizeof *out);
    if (!parse_value(&ps, out)) return false;
    skip_whitespace(&ps);
    if (ps.p != ps.end) return fail(&ps, "unexpected text after the JSON value");
    return true;
}

const json_value *json_get(const json_value *object, const char *key) {
    if (object == NULL || object->type != JSON_OBJECT) return NULL;
    size_t key_len = strlen(key);
    const json_value *found = NULL;
    for (size_t i = 0; i < object->count; i++) {
        const json_member *m = &object->members[i];
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0) found = &m->value;
    }
    return found;
}

bool json_is_string(const json_value *value, const char *s) {
    size_t n = strlen(s);
    return value != NULL && value->type == JSON_STRING && value->len == n &&
           memcmp(value->text, s, n) == 0;
}

void json_write_escaped(FILE *out, const char *bytes, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)bytes[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20) {
                fprintf(out, "\\u%04x", c);
            } else {
                fputc(c, out); /* UTF-8 passes through as it came in */
            }
        }
    }
}
