/* MQTT topic filters: see topic_filter.h. Written level by level, the way the MQTT
 * specification states the rules (section 4.7), rather than as a clever string scan. */
#include "topic_filter.h"

#include <string.h>

/* Walks the '/'-separated levels of a topic or filter: "a//b" has three levels, the middle
 * one empty; "/" has two empty levels. */
typedef struct levels {
  const char *text;
  size_t len;
  size_t pos;
  bool done;
} levels;

static levels levels_of(const char *text, size_t len) {
  levels it = {text, len, 0, false};
  return it;
}

static bool next_level(levels *it, const char **level, size_t *level_len) {
  if (it->done) {
    return false;
  }
  const char *start = it->text + it->pos;
  size_t rest = it->len - it->pos;
  const char *slash = rest ? memchr(start, '/', rest) : NULL;
  *level = start;
  if (slash != NULL) {
    *level_len = (size_t)(slash - start);
    it->pos += *level_len + 1;
  } else {
    *level_len = rest;
    it->done = true;
  }
  return true;
}

static bool is_level(const char *level, size_t len, char wildcard) {
  return len == 1 && level[0] == wildcard;
}

static bool same_level(const char *a, size_t a_len, const char *b, size_t b_len) {
  return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

bool topic_filter_valid(const char *filter, size_t filter_len) {
  if (filter == NULL || filter_len == 0 || memchr(filter, '\0', filter_len) != NULL) {
    return false;
  }
  levels it = levels_of(filter, filter_len);
  const char *level = NULL;
  size_t len = 0;
  while (next_level(&it, &level, &len)) {
    bool has_plus = len && memchr(level, '+', len) != NULL;
    bool has_hash = len && memchr(level, '#', len) != NULL;
    if ((has_plus && !is_level(level, len, '+')) || (has_hash && !is_level(level, len, '#'))) {
      return false; /* a wildcard shares its level with other characters */
    }
    if (has_hash && !it.done) {
      return false; /* '#' is not the last level */
    }
  }
  return true;
}

bool topic_matches(const char *filter, size_t filter_len, const char *topic, size_t topic_len) {
  if (!topic_filter_valid(filter, filter_len) || topic == NULL || topic_len == 0 ||
      memchr(topic, '+', topic_len) != NULL || memchr(topic, '#', topic_len) != NULL) {
    return false;
  }
  if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) {
    return false; /* [MQTT-4.7.2-1]: $SYS/... is not matched by "#" or "+/..." */
  }
  levels f = levels_of(filter, filter_len);
  levels t = levels_of(topic, topic_len);
  const char *fl = NULL, *tl = NULL;
  size_t fl_len = 0, tl_len = 0;
  for (;;) {
    if (!next_level(&f, &fl, &fl_len)) {
      return !next_level(&t, &tl, &tl_len); /* both used up: a match */
    }
    if (is_level(fl, fl_len, '#')) {
      return true; /* the rest of the topic, none of it included ("a/#" matches "a") */
    }
    if (!next_level(&t, &tl, &tl_len)) {
      return false; /* the filter wants more levels than the topic has */
    }
    if (!is_level(fl, fl_len, '+') && !same_level(fl, fl_len, tl, tl_len)) {
      return false;
    }
  }
}

bool topic_filter_covers(const char *wide, size_t wide_len, const char *narrow, size_t narrow_len) {
  if (!topic_filter_valid(wide, wide_len) || !topic_filter_valid(narrow, narrow_len)) {
    return false;
  }
  if (narrow[0] == '$' && (wide[0] == '+' || wide[0] == '#')) {
    return false; /* narrow matches $-topics, which a leading wildcard never does */
  }
  levels w = levels_of(wide, wide_len);
  levels n = levels_of(narrow, narrow_len);
  const char *wl = NULL, *nl = NULL;
  size_t wl_len = 0, nl_len = 0;
  for (;;) {
    bool have_w = next_level(&w, &wl, &wl_len);
    bool have_n = next_level(&n, &nl, &nl_len);
    if (!have_w && !have_n) {
      return true;
    }
    if (have_w && is_level(wl, wl_len, '#')) {
      return true; /* whatever narrow matches from here on, including nothing more */
    }
    if (!have_w || !have_n) {
      return false; /* one has levels the other cannot match */
    }
    if (is_level(nl, nl_len, '#')) {
      return false; /* narrow matches any depth here; only '#' in wide does too */
    }
    if (is_level(wl, wl_len, '+')) {
      continue; /* one level of anything: narrow's literal or '+' */
    }
    if (is_level(nl, nl_len, '+') || !same_level(wl, wl_len, nl, nl_len)) {
      return false;
    }
  }
}
