/* bench_report.c -- see bench_report.h. */
#include "bench_report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void bench_report_init(bench_report_t *r, bool json)
{
    r->doc = json_object();
    r->json = json;
}

void bench_report_free(bench_report_t *r)
{
    json_decref(r->doc);
    r->doc = NULL;
}

static json_t *value_of(const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (end != v && *end == '\0') {
        long long i = strtoll(v, &end, 10);
        return *end == '\0' ? json_integer(i) : json_real(d);
    }
    return json_string(v);
}

static void emit(bench_report_t *r, const char *name, const char *key, const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(r->json ? stderr : stdout, "BENCH %s %s\n", name, line);
    fflush(r->json ? stderr : stdout);
    json_t *o = json_object();
    char *save = NULL;
    for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        json_object_set_new(o, tok, value_of(eq + 1));
    }
    json_object_set_new(r->doc, key, o);
}

void bench_emit(bench_report_t *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(r, name, name, fmt, ap);
    va_end(ap);
}

void bench_emit_as(bench_report_t *r, const char *name, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(r, name, key, fmt, ap);
    va_end(ap);
}

void bench_note(bench_report_t *r, const char *fmt, ...)
{
    FILE *out = r->json ? stderr : stdout;
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", out);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    fflush(out);
    va_end(ap);
}

static void compare_walk(FILE *out, json_t *now, json_t *then, const char *path)
{
    const char *k;
    json_t *v;
    json_object_foreach(now, k, v) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", k);
        json_t *w = json_object_get(then, k);
        if (json_is_object(v) && json_is_object(w))
            compare_walk(out, v, w, p);
        else if (json_is_number(v) && json_is_number(w)) {
            double a = json_number_value(v), b = json_number_value(w);
            if (b != 0)
                fprintf(out, "  %-40s %14.2f %14.2f  ratio %.3f\n", p, a, b, a / b);
            else
                fprintf(out, "  %-40s %14.2f %14.2f  ratio %s\n", p, a, b, a == 0 ? "1.000" : "-");
        }
    }
}

void bench_compare(FILE *out, json_t *now, json_t *then, const char *file)
{
    fprintf(out, "compared with %s:\n  %-40s %14s %14s\n", file, "figure", "now", "then");
    compare_walk(out, now, then, "");
}

json_t *bench_load_baseline(const char *what, const char *file)
{
    json_error_t je;
    json_t *then = json_load_file(file, 0, &je);
    if (!json_is_object(then)) {
        cli_error("%s: --compare %s: not a JSON object (%s)", what, file, je.text);
        json_decref(then);
        return NULL;
    }
    return then;
}
