/* What the zeusd test programs (test_zeusd.c: the API, tokens, leases and clocks;
 * test_zeusd_clients.c: clients, connections and start-up) share on top of zeusd_rig.h: the
 * per-test set-up (fake NVML, fake RAPL, the daemon daemon_ that teardown stops) and checks of
 * its replies, with cmocka asserts inside. */
#ifndef ZEUSD_RIG_SUITE_H
#define ZEUSD_RIG_SUITE_H

#include "zeusd_rig.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

extern zr_daemon daemon_;

/* Per test: the fake NVML and RAPL in the environment; teardown stops daemon_ (if started) and
 * fails unless it exited 0. */
int setup(void **state);
/* One more zone of the fake RAPL tree (rel under powercap/, its name and energy_uj). */
void rapl_zone(const char *rel, const char *name, const char *energy);
int teardown(void **state);
/* One request to daemon_; its reply's JSON body (asserted to parse). */
int req(const char *method, const char *target, zr_reply *r);
cJSON *json_of(const zr_reply *r);
/* The reply has this status and exactly this body / a raw reply containing text. */
void expect(const char *method, const char *target, int status, const char *body);
void expect_contains(const char *method, const char *target, int status, const char *text);
/* A GPU's power limit read through the daemon; waiting up to timeout_s for it to become want. */
unsigned limit_via_daemon(unsigned gpu);
bool limit_becomes(unsigned gpu, unsigned want, double timeout_s);
/* Opens a stream (GET target) and reads into buf until text arrives (5 s at most): the
 * connection, still open. */
int read_stream(const char *target, const char *text, char *buf, size_t size);
/* zeusd token issue for user alice: the token (malloc'd). */
char *issue(const char *key_path, const char *scope, const char *expires);
/* The fake driver's state file and daemon_'s log (malloc'd); waiting up to timeout_s for
 * read()'s text, the state file or the log to contain text. */
char *fake_state(void);
char *daemon_log(void);
bool text_becomes(char *(*read)(void), const char *text, double timeout_s);
bool state_becomes(const char *line, double timeout_s);
bool log_becomes(const char *text, double timeout_s);

#endif
