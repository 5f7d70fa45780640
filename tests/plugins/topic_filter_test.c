/* The example plugin's MQTT topic filter rules (plugins/example_auth/topic_filter.c): every
 * case of MQTT 5.0 section 4.7 that decides a match, and the "covers" relation the plugin
 * uses for SUBSCRIBE. Plain C like the plugin; exits 1 on the first failure. */
#include <stdio.h>
#include <string.h>

#include "topic_filter.h"

static int failures = 0;

static void check(int got, int want, const char *what, const char *a, const char *b) {
  if (got != want) {
    fprintf(stderr, "FAIL %s('%s', '%s'): got %d, want %d\n", what, a, b, got, want);
    failures++;
  }
}

static void valid(const char *filter, int want) {
  check(topic_filter_valid(filter, strlen(filter)), want, "valid", filter, "");
}

static void matches(const char *filter, const char *topic, int want) {
  check(topic_matches(filter, strlen(filter), topic, strlen(topic)), want, "matches", filter, topic);
}

static void covers(const char *wide, const char *narrow, int want) {
  check(topic_filter_covers(wide, strlen(wide), narrow, strlen(narrow)), want, "covers", wide, narrow);
}

int main(void) {
  valid("a", 1);
  valid("a/b/c", 1);
  valid("/", 1);
  valid("a//b", 1);
  valid("#", 1);
  valid("+", 1);
  valid("a/+/c", 1);
  valid("a/#", 1);
  valid("+/+/#", 1);
  valid("$SYS/#", 1);
  valid("", 0);
  valid("a#", 0);
  valid("a/b#", 0);
  valid("a+/b", 0);
  valid("a/#/b", 0);
  valid("#/", 0);
  valid("++", 0);
  check(topic_filter_valid("a\0b", 3), 0, "valid", "a\\0b", "");

  /* MQTT 5.0 4.7.1.2 */
  matches("sport/tennis/player1/#", "sport/tennis/player1", 1);
  matches("sport/tennis/player1/#", "sport/tennis/player1/ranking", 1);
  matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", 1);
  matches("sport/#", "sport", 1);
  matches("#", "sport/tennis", 1);
  matches("#", "/", 1);
  matches("sport/tennis/#", "sport/tennis2", 0);
  /* 4.7.1.3 */
  matches("sport/tennis/+", "sport/tennis/player1", 1);
  matches("sport/tennis/+", "sport/tennis/player1/ranking", 0);
  matches("sport/+", "sport", 0);
  matches("sport/+", "sport/", 1);
  matches("+/+", "/finance", 1);
  matches("/+", "/finance", 1);
  matches("+", "/finance", 0);
  matches("+", "", 0);
  matches("a/+/c", "a//c", 1);
  /* 4.7.2: $-topics and leading wildcards */
  matches("#", "$SYS/broker/uptime", 0);
  matches("+/monitor/Clients", "$SYS/monitor/Clients", 0);
  matches("$SYS/#", "$SYS/monitor/Clients", 1);
  matches("$SYS/monitor/+", "$SYS/monitor/Clients", 1);
  /* exact, case-sensitive, levels not prefixes */
  matches("a/b", "a/b", 1);
  matches("a/b", "a/B", 0);
  matches("a/b", "a/bc", 0);
  matches("a/b", "a/b/", 0);
  matches("a/b/", "a/b/", 1);
  matches("sensors/sensor1/#", "sensors/sensor10/temp", 0);
  /* topics never hold wildcards */
  matches("#", "a/+", 0);
  matches("a/+", "a/#", 0);

  covers("a/b", "a/b", 1);
  covers("#", "a/b", 1);
  covers("#", "#", 1);
  covers("#", "+/b", 1);
  covers("a/#", "a", 1);
  covers("a/#", "a/#", 1);
  covers("a/#", "a/+/c/#", 1);
  covers("a/+", "a/b", 1);
  covers("a/+", "a/+", 1);
  covers("+/+", "a/+", 1);
  covers("a/b", "a/+", 0);
  covers("a/+", "a/#", 0);
  covers("a/+", "a", 0);
  covers("a/+", "a/b/c", 0);
  covers("a/b", "a/b/c", 0);
  covers("a/b/c", "a/b", 0);
  covers("a/+/#", "a/#", 0); /* "a/#" matches "a", which "a/+/#" does not */
  covers("sensors/#", "sensorsx/#", 0);
  covers("#", "$SYS/#", 0);
  covers("+/broker", "$SYS/broker", 0);
  covers("$SYS/#", "$SYS/broker/+", 1);
  covers("a/#", "b/#", 0);
  covers("a/b", "a#", 0); /* invalid filters are covered by nothing */

  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("topic filter rules: all cases pass\n");
  return 0;
}
