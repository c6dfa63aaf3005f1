/* Internals of otel_datadog_rates, the object that carries the agent's per-service sampling
 * rates from the exporter to the sampler and the sampler's dropped-trace counts back to the
 * exporter. The rate table is immutable and replaced whole under a mutex; a generation counter
 * lets the sampler cache the rate of its default service and skip the mutex until the table
 * changes. */
#ifndef OTEL_DD_RATES_H
#define OTEL_DD_RATES_H

#include <stdatomic.h>
#include <stdint.h>

#include "otel/exporters/datadog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the table changes; starts at 1 (0 means "nothing cached" to readers). */
uint64_t otel__dd_rates_generation(const otel_datadog_rates *r);

/* Counts |traces| traces and |spans| spans the sampler dropped. */
void otel__dd_rates_count_drops(otel_datadog_rates *r, uint64_t traces, uint64_t spans);

/* Takes (and zeroes) the dropped counts, for the exporter's headers. */
void otel__dd_rates_take_drops(otel_datadog_rates *r, uint64_t *traces, uint64_t *spans);

/* Gives counts back after a request that did not reach the agent. */
static inline void otel__dd_rates_return_drops(otel_datadog_rates *r, uint64_t traces, uint64_t spans)
{
    otel__dd_rates_count_drops(r, traces, spans);
}

/* otel_datadog_rates_get without waiting: returns false at once when another thread holds the
 * table (the sampler then uses its cached or the default rate), so a span start never blocks
 * and a child forked while the lock was held cannot deadlock. Otherwise sets *found (and *rate
 * when found) and returns true. */
bool otel__dd_rates_try_get(const otel_datadog_rates *r, otel_str service, otel_str env, double *rate,
                            bool *found);

/* Number of service keys held (tests). */
size_t otel__dd_rates_count(const otel_datadog_rates *r);

#ifdef __cplusplus
}
#endif

#endif
