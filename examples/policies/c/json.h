/*
 * json.h: a small JSON reader and string writer (RFC 8259), enough for a policy.
 *
 * json_parse() reads a whole document into a tree of json_value. Strings are decoded
 * (escapes, \uXXXX and surrogate pairs become UTF-8); numbers are checked against the
 * grammar and kept as written, since this policy never needs their values. Nothing is
 * freed: a WASI-command policy runs once per call in a fresh instance, so the memory goes
 * away with it.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;
typedef struct json_member json_member;

struct json_value {
    json_type type;
    /* JSON_STRING: the decoded UTF-8 bytes; JSON_NUMBER: the number as written.
     * Always NUL-terminated, but a string may also contain NUL bytes ("\u0000"): use len. */
    char *text;
    size_t len;
    /* JSON_ARRAY: items[0..count); JSON_OBJECT: members[0..count), in document order. */
    json_value *items;
    json_member *members;
    size_t count;
};

struct json_member {
    char *key; /* decoded, NUL-terminated; key_len bytes */
    size_t key_len;
    json_value value;
};

/* Parses the document input[0..len) into *out. Returns true on success; on failure returns
 * false and writes a message such as "expected ',' or '}' at line 3, column 7" to err. */
bool json_parse(const char *input, size_t len, json_value *out, char *err, size_t err_size);

/* The value of `key` in `object`, or NULL when it is absent or `object` is not an object
 * (or is NULL). With duplicate keys the last one wins, like most JSON libraries. */
const json_value *json_get(const json_value *object, const char *key);

/* Is `value` a string equal to the NUL-terminated `s`? */
bool json_is_string(const json_value *value, const char *s);

/* Writes bytes[0..len) escaped for the inside of a JSON string (no quotes around it). */
void json_write_escaped(FILE *out, const char *bytes, size_t len);

#endif
