/* Prints the traces found in console-exporter JSON files (OTEL_C_CONSOLE_FORMAT=json, one
 * ResourceSpans per line) as trees: one tree per trace id, each span under its parent, whatever
 * service or file it came from. The README demo uses it to show that one trace crossed the
 * services; the tests use --spans to check the parent links.
 *
 *     trace_view [--spans] [--check] FILE...
 *
 * --spans  one tab-separated line per span instead of the trees:
 *          trace_id span_id parent_span_id|- kind service name http_status|- status
 * --check  exit status 1 unless the files hold exactly one trace and all its spans hang from
 *          one top span (a root, or a span whose remote parent is not in the files).
 * Exit status 1 when no span was read or a file cannot be opened, 2 for a usage error. Lines
 * that are not JSON are skipped with a warning (a file may hold other output too). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_lite.h"

struct span {
    char trace_id[33];
    char span_id[17];
    char parent_id[17]; /* "" for a root */
    char *name;
    char *service;
    int kind;         /* OTLP: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
    int status;       /* OTLP: 0 unset, 1 ok, 2 error */
    long http_status; /* http.response.status_code, 0 when absent */
    int64_t start_ns;
    int64_t end_ns;
    struct span *parent; /* resolved in the same trace, or NULL */
    bool printed;
};

static struct span *spans;
static size_t nspans, capspans;

static const char *kind_name(int kind)
{
    static const char *const names[] = {
        "UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"
    };
    return kind >= 0 && kind <= 5 ? names[kind] : "?";
}

static int64_t json_int(const json_node *n)
{
    if (!n)
        return 0;
    /* OTLP/JSON writes 64-bit integers as strings; accept numbers too. */
    if (n->type == JSON_STRING || n->type == JSON_NUMBER)
        return strtoll(n->str, NULL, 10);
    return 0;
}

static void copy_id(char *dst, size_t cap, const json_node *n)
{
    const char *s = json_str(n, "");
    size_t len = strlen(s);
    if (len >= cap)
        len = 0; /* not an id of the expected size: treat as absent */
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* The value of attribute |key| in an OTLP attribute list. */
static const json_node *attr_value(const json_node *attrs, const char *key)
{
    if (!attrs || attrs->type != JSON_ARRAY)
        return NULL;
    for (const json_node *a = attrs->child; a; a = a->next) {
        const char *k = json_str(json_get(a, "key"), NULL);
        if (k && strcmp(k, key) == 0)
            return json_get(a, "value");
    }
    return NULL;
}

static bool add_span(const json_node *s, const char *service)
{
    if (nspans == capspans) {
        size_t cap = capspans ? capspans * 2 : 64;
        struct span *grown = realloc(spans, cap * sizeof(*grown));
        if (!grown)
            return false;
        spans = grown;
        capspans = cap;
    }
    struct span *sp = &spans[nspans];
    memset(sp, 0, sizeof(*sp));
    copy_id(sp->trace_id, sizeof(sp->trace_id), json_get(s, "traceId"));
    copy_id(sp->span_id, sizeof(sp->span_id), json_get(s, "spanId"));
    copy_id(sp->parent_id, sizeof(sp->parent_id), json_get(s, "parentSpanId"));
    if (!sp->trace_id[0] || !sp->span_id[0])
        return true; /* not a span we can place */
    sp->name = strdup(json_str(json_get(s, "name"), "?"));
    sp->service = strdup(service);
    sp->kind = (int)json_int(json_get(s, "kind"));
    sp->status = (int)json_int(json_get(json_get(s, "status"), "code"));
    sp->start_ns = json_int(json_get(s, "startTimeUnixNano"));
    sp->end_ns = json_int(json_get(s, "endTimeUnixNano"));
    const json_node *code = attr_value(json_get(s, "attributes"), "http.response.status_code");
    sp->http_status = (long)json_int(json_get(code, "intValue"));
    if (!sp->name || !sp->service)
        return false;
    nspans++;
    return true;
}

static bool read_line(const char *line, size_t len, const char *file, size_t lineno)
{
    char err[128];
    json_node *root = json_parse(line, len, NULL, err, sizeof(err));
    if (!root) {
        fprintf(stderr, "trace_view: %s:%zu: skipped (%s)\n", file, lineno, err);
        return true;
    }
    const json_node *svc = attr_value(json_get(json_get(root, "resource"), "attributes"), "service.name");
    const char *service = json_str(json_get(svc, "stringValue"), "?");
    bool ok = true;
    const json_node *scopes = json_get(root, "scopeSpans");
    for (const json_node *sc = scopes ? scopes->child : NULL; sc && ok; sc = sc->next) {
        const json_node *list = json_get(sc, "spans");
        for (const json_node *s = list ? list->child : NULL; s && ok; s = s->next)
            ok = add_span(s, service);
    }
    json_free(root);
    return ok;
}

static bool read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > 0)
            ok = read_line(line, (size_t)len, path, lineno);
    }
    free(line);
    fclose(f);
    if (!ok)
        fprintf(stderr, "trace_view: out of memory\n");
    return ok;
}

static int by_trace_then_start(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    int c = strcmp(x->trace_id, y->trace_id);
    if (c)
        return c;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static void print_span(struct span *s, size_t first, size_t last, const char *prefix, bool tail, bool top,
                       int depth)
{
    char dur[32];
    snprintf(dur, sizeof(dur), "%.2f ms", (double)(s->end_ns - s->start_ns) / 1e6);
    char http[32] = "";
    if (s->http_status)
        snprintf(http, sizeof(http), "  http %ld", s->http_status);
    printf("%s%s[%s] %s \"%s\"  %s%s%s  span %s\n", prefix, top ? "" : (tail ? "└── " : "├── "), s->service,
           kind_name(s->kind), s->name, dur, http, s->status == 2 ? "  ERROR" : "", s->span_id);
    s->printed = true;

    char child_prefix[512];
    /* Depth is capped at 64 levels (6 bytes each), so this never truncates; checking the result
     * also tells gcc's -Wformat-truncation so in optimised builds. */
    int n = snprintf(child_prefix, sizeof(child_prefix), "%s%s", prefix, top ? "" : (tail ? "    " : "│   "));
    if (n < 0 || (size_t)n >= sizeof(child_prefix))
        child_prefix[sizeof(child_prefix) - 1] = '\0';
    struct span *kids[256];
    size_t nk = 0;
    for (size_t i = first; i < last && nk < sizeof(kids) / sizeof(kids[0]); i++)
        if (spans[i].parent == s && !spans[i].printed)
            kids[nk++] = &spans[i];
    if (nk && depth >= 64) {
        printf("%s└── ... (deeper spans not shown)\n", child_prefix);
        return;
    }
    for (size_t k = 0; k < nk; k++)
        print_span(kids[k], first, last, child_prefix, k + 1 == nk, false, depth + 1);
}

static int usage(void)
{
    fprintf(stderr, "usage: trace_view [--spans] [--check] FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    bool tsv = false, check = false;
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--spans") == 0)
            tsv = true;
        else if (strcmp(argv[i], "--check") == 0)
            check = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage();
        else
            nfiles++;
    }
    if (!nfiles)
        return usage();
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && !read_file(argv[i]))
            return 1;
    if (!nspans) {
        fprintf(stderr, "trace_view: no spans in these files\n");
        return 1;
    }

    qsort(spans, nspans, sizeof(*spans), by_trace_then_start);
    size_t traces = 0, broken = 0;
    for (size_t first = 0; first < nspans;) {
        size_t last = first;
        while (last < nspans && strcmp(spans[last].trace_id, spans[first].trace_id) == 0)
            last++;
        traces++;
        /* Resolve parents within the trace. */
        size_t roots = 0, orphans = 0;
        for (size_t i = first; i < last; i++) {
            for (size_t j = first; j < last && spans[i].parent_id[0]; j++)
                if (j != i && strcmp(spans[j].span_id, spans[i].parent_id) == 0)
                    spans[i].parent = &spans[j];
            if (!spans[i].parent_id[0])
                roots++;
            else if (!spans[i].parent)
                orphans++;
        }
        if (roots + orphans != 1)
            broken++;

        if (tsv) {
            for (size_t i = first; i < last; i++) {
                const struct span *s = &spans[i];
                printf("%s\t%s\t%s\t%s\t%s\t%s\t", s->trace_id, s->span_id,
                       s->parent_id[0] ? s->parent_id : "-", kind_name(s->kind), s->service, s->name);
                if (s->http_status)
                    printf("%ld", s->http_status);
                else
                    printf("-");
                printf("\t%s\n", s->status == 2 ? "ERROR" : s->status == 1 ? "OK" : "UNSET");
            }
            first = last;
            continue;
        }

        /* Services in order of first appearance (start time). */
        char services[512] = "";
        size_t used = 0;
        for (size_t i = first; i < last; i++) {
            bool seen = false;
            for (size_t j = first; j < i && !seen; j++)
                seen = strcmp(spans[j].service, spans[i].service) == 0;
            if (!seen)
                used +=
                    (size_t)snprintf(services + used, used < sizeof(services) ? sizeof(services) - used : 0,
                                     "%s%s", used ? ", " : "", spans[i].service);
            if (used >= sizeof(services))
                used = sizeof(services) - 1;
        }
        printf("trace %s: %zu span%s, services: %s\n", spans[first].trace_id, last - first,
               last - first == 1 ? "" : "s", services);
        for (size_t i = first; i < last; i++) {
            if (spans[i].parent || spans[i].printed)
                continue;
            if (spans[i].parent_id[0])
                printf("  (parent %s is not in these files)\n", spans[i].parent_id);
            print_span(&spans[i], first, last, "  ", true, true, 0);
        }
        if (roots == 1 && orphans == 0)
            printf("  one root, every parent link resolved\n");
        else if (roots == 0 && orphans == 1)
            printf("  one top span (its parent is remote), every other parent link resolved\n");
        else
            printf("  %zu root%s, %zu span%s whose parent is not in these files\n", roots,
                   roots == 1 ? "" : "s", orphans, orphans == 1 ? "" : "s");
        first = last;
    }
    for (size_t i = 0; i < nspans; i++) {
        free(spans[i].name);
        free(spans[i].service);
    }
    free(spans);
    if (check && (traces != 1 || broken)) {
        fprintf(stderr, "trace_view: expected one connected trace, found %zu trace%s%s\n", traces,
                traces == 1 ? "" : "s", broken ? ", not all under one top span" : "");
        return 1;
    }
    return 0;
}
