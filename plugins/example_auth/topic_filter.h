/* MQTT topic filters for the example plugin: validation, matching a topic, and deciding
 * whether one filter covers another. Pure functions on (pointer, length) strings; no
 * allocation, safe on any thread. */
#ifndef EXAMPLE_AUTH_TOPIC_FILTER_H
#define EXAMPLE_AUTH_TOPIC_FILTER_H

#include <stdbool.h>
#include <stddef.h>

/* A valid filter: not empty, '+' and '#' only as a whole level, '#' only as the last
 * level [MQTT-4.7.1-1, MQTT-4.7.1-2]. */
bool topic_filter_valid(const char *filter, size_t filter_len);

/* Does `topic` (a topic name, no wildcards) match `filter`? '+' is one level (possibly
 * empty), '#' is any number of levels including none ("a/#" matches "a"), and a filter
 * starting with a wildcard does not match a topic starting with '$' [MQTT-4.7.2-1]. A
 * topic holding '+' or '#' matches nothing. */
bool topic_matches(const char *filter, size_t filter_len, const char *topic, size_t topic_len);

/* Does `wide` cover `narrow`: is every topic that `narrow` matches also matched by
 * `wide`? Equal filters cover each other. The answer errs on the side of "no": a client
 * refused here can still subscribe to narrower filters. */
bool topic_filter_covers(const char *wide, size_t wide_len, const char *narrow, size_t narrow_len);

#endif
