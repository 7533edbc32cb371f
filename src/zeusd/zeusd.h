/* zeusd: the privileged daemon (docs/zeusd.md). Internal header of the zeusd executable only;
 * it uses libzeus through its public headers. */
#ifndef ZEUSD_H
#define ZEUSD_H

#include "zeus/device.h"
#include "zeus/lease.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    ZD_GROUP_NONE = -1,
    ZD_GROUP_GPU_CONTROL = 0,
    ZD_GROUP_GPU_READ,
    ZD_GROUP_CPU_READ,
    ZD_GROUP_COUNT
} zd_group;

const char *zd_group_name(zd_group g);
int zd_group_parse(const char *name, zd_group *out);
/* The group a path belongs to, by prefix as the original decides it. */
zd_group zd_path_group(const char *path);

#define ZD_MAX_ENABLED 16
#define ZD_MAX_ALLOW 32
#define ZD_MAX_IDS 64

typedef enum { ZD_ALLOW_UID, ZD_ALLOW_GID } zd_allow_kind;
typedef struct {
    zd_allow_kind kind;
    unsigned id;
} zd_allow;

typedef struct {
    bool uds;
    char socket_path[256];
    unsigned socket_mode;
    long socket_uid, socket_gid; /* -1: unchanged */
    char tcp_bind[256];
    unsigned num_workers;
    unsigned gpu_poll_hz, cpu_poll_hz;
    zd_group enabled[ZD_MAX_ENABLED]; /* command-line order, duplicates kept */
    size_t enabled_count;
    bool group_on[ZD_GROUP_COUNT];
    char signing_key_path[256];
    unsigned char *key; /* raw file bytes; NULL: auth off */
    size_t key_len;
    /* Allowlists per group (checked against the Unix socket peer); none set: open. */
    bool allow_set[ZD_GROUP_COUNT];
    zd_allow allow[ZD_GROUP_COUNT][ZD_MAX_ALLOW];
    size_t allow_count[ZD_GROUP_COUNT];
    bool no_leases; /* every change permanent, as the original */
    /* The lease journal's directory (--state-dir; "": beside the socket). */
    char state_dir[256];
    /* Who may break another client's lease with force=true besides root (--allow gpu-admin=). */
    zd_allow admin[ZD_MAX_ALLOW];
    size_t admin_count;
    unsigned max_connections;
    unsigned timeout_s;
    unsigned request_timeout_s; /* a request must arrive whole within this (slow clients) */
} zd_config;

void zd_config_defaults(zd_config *c);

/* ---- Logging (stdout, as the original) ---- */
void zd_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Query strings ---- */
typedef struct {
    const char *key;
    const char *value; /* "" for a key without '=' */
} zd_arg;

/* Parses "1, 0,1" into sorted unique ids. what is "GPU" or "CPU", field "gpu_ids"/"cpu_ids".
 * Returns 0, or -1 with the original's message in err. */
int zd_parse_ids(const char *text, const char *what, const char *field, unsigned *ids, size_t max,
                 size_t *count, char *err, size_t err_size);
int zd_parse_bool(const char *text, bool *out);
int zd_parse_u32(const char *text, unsigned *out);

/* ---- Tokens (HS256 JWT) ---- */
typedef struct {
    char sub[128];
    bool scope[ZD_GROUP_COUNT];
    char scopes_text[256]; /* "'a', 'b'" as the 403 message lists them */
    char scopes_json[256]; /* ["a","b"] in token order */
    bool has_exp;
    int64_t exp;
} zd_claims;

/* Returns a malloc'd token. */
char *zd_token_issue(const unsigned char *key, size_t key_len, const char *sub,
                     const zd_group *scopes, size_t scope_count, bool has_exp, int64_t exp);
/* 0 valid; -1 expired ("Token has expired."); -2 invalid (err says why); -3 out of memory. */
int zd_token_verify(const unsigned char *key, size_t key_len, const char *token, int64_t now_s,
                    zd_claims *out, char *err, size_t err_size);
/* "1h", "7d", "1h30m", "never", "0": seconds (0: never). -1 if malformed. */
int64_t zd_parse_duration(const char *text);

/* ---- The server state ---- */
typedef struct zd_server zd_server;
typedef struct zd_pollers zd_pollers;

typedef struct {
    const char *method;
    const char *path;
    const zd_arg *args;
    size_t arg_count;
    const char *body;          /* NUL-terminated (calloc'd buffer); NULL when too long */
    const char *authorization; /* NULL when absent */
    bool has_peer;             /* Unix socket: SO_PEERCRED below is valid */
    pid_t pid;
    uid_t uid;
    gid_t gid;
    const gid_t *groups; /* the peer's supplementary groups */
    size_t group_count;
} zd_request;

/* ---- legacy.c: the older route generation (zeus-ml <= 0.11.0.post1) ---- */
#define ZD_LEGACY_MAX_ARGS 8
typedef struct {
    zd_request req; /* the current route's request (args point into this struct) */
    zd_arg args[ZD_LEGACY_MAX_ARGS + 1];
    char names[ZD_LEGACY_MAX_ARGS][32], values[ZD_LEGACY_MAX_ARGS][32];
    char id_text[16];
    unsigned id;
    bool cpu;        /* a /cpu/{id}/ route: its answer is the one CPU's object */
    bool dram_query; /* GET /cpu/{id}/supports_dram_energy: answered from /discover's entry */
} zd_legacy;

/* 0: req is not an older route; 1: translated into *l; -1: a bad request (*status, msg). */
int zd_legacy_translate(const zd_request *req, zd_legacy *l, int *status, char *msg, size_t size);

typedef struct {
    int status;
    char *body; /* malloc'd; NULL: empty */
    const char *content_type;
    bool www_authenticate;
    /* A server-sent-event stream instead of a body. */
    bool stream;
    bool stream_cpu;
    unsigned ids[ZD_MAX_IDS];
    size_t id_count;
} zd_response;

/* legacy.c: a current CPU route's reply {"<key>": {...}} becomes the inner object. */
void zd_legacy_unwrap(zd_response *r, const char *key);

/* Opens the devices and starts nothing else; the pollers start on the first subscriber. */
int zd_server_create(const zd_config *config, zeus_devices *devices, zd_server **out);
/* Puts back every leased setting, stops the pollers. */
void zd_server_destroy(zd_server *s);
const zd_config *zd_server_config(const zd_server *s);
zd_pollers *zd_server_pollers(zd_server *s);
zeus_devices *zd_server_devices(zd_server *s);

/* Answers one request (everything but the streaming itself). Never blocks for long. */
void zd_handle(zd_server *s, const zd_request *req, zd_response *resp);
/* Routes cJSON's allocations through a hook that notes failures, so that zd_handle answers 500
 * rather than a JSON reply with a part missing. Process-wide (cJSON_InitHooks): zeusd's main
 * calls it once. */
void zd_json_hooks(void);
/* With those hooks: forget earlier failures, then whether a cJSON allocation of this thread has
 * failed since (cJSON answers NULL both for bad text and for no memory). */
void zd_json_track(void);
bool zd_json_out_of_memory(void);
void zd_response_free(zd_response *resp);

/* ---- reply.c: what the routes answer with ---- */
struct cJSON;
/* cJSON's add calls, noting an item that could not be made (zd_json_out_of_memory). */
void zd_add_item(struct cJSON *o, const char *key, struct cJSON *item);
void zd_add_to_array(struct cJSON *array, struct cJSON *item);
/* A body of the given content type from a format. */
void zd_reply(zd_response *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* {"error": message} (the newer daemon's error body) with status. */
void zd_reply_error(zd_response *r, int status, const char *message);
/* o as the JSON body (status 200); o is consumed. */
void zd_reply_json(zd_response *r, struct cJSON *o);
/* Per-device failures: {"errors":{...}} with the worst status. */
typedef struct {
    struct cJSON *errors;
    int status;
} zd_errors;
void zd_add_error(zd_errors *e, unsigned id, int status, const char *message);
/* Answers the collected errors, if any (true then). */
bool zd_reply_errors(zd_response *r, zd_errors *e);
/* The HTTP status of a libzeus error: 403, 400, 409 (another client's lease) or 500. */
int zd_status_of(int rc);

/* ---- Power streams: one poller per device, polling only while a stream listens ---- */
zd_pollers *zd_pollers_create(zeus_devices *devices, unsigned gpu_hz, unsigned cpu_hz);
/* Wakes every stream (zd_stream_next returns -1) and joins the pollers. */
void zd_pollers_stop(zd_pollers *p);
void zd_pollers_destroy(zd_pollers *p);
/* How many pollers are polling now (for tests: 0 when nobody listens). */
unsigned zd_pollers_active(zd_pollers *p);
typedef struct zd_stream zd_stream;
zd_stream *zd_stream_open(zd_pollers *p, bool cpu, const unsigned *ids, size_t count);
/* Writes the next events ("data: {...}\n\n") into buf, waiting for one up to timeout_ms.
 * Returns bytes written, 0 on timeout, -1 when the server stops. */
long zd_stream_next(zd_stream *st, char *buf, size_t size, int timeout_ms);
void zd_stream_close(zd_stream *st);

/* ---- Leases held for clients ---- */
typedef struct zd_leases zd_leases;
zd_leases *zd_leases_create(zeus_devices *devices);
/* Restores everything still leased. */
void zd_leases_destroy(zd_leases *l);
/* At start: reads the lease journal a killed daemon left. A GPU whose client is gone is put back
 * at once; one whose client lives stays leased to it with the recorded original, watched again
 * as a new client is. */
void zd_leases_recover(zd_leases *l);
typedef enum {
    ZD_SET_POWER_LIMIT,
    ZD_SET_PERSISTENCE,
    ZD_SET_GPU_CLOCKS, /* value..value_max MHz */
    ZD_SET_MEM_CLOCKS,
    ZD_RESET_GPU_CLOCKS,
    ZD_RESET_MEM_CLOCKS,
    ZD_RESET_CLOCKS /* both domains; the first error is reported */
} zd_knob;
/* One setting: the knob, its value (mW, 0/1, or the minimum MHz) and value_max (maximum MHz). */
typedef struct {
    zd_knob knob;
    unsigned value, value_max;
} zd_setting;
/* Who asks for a change: the client process (pid 0: no client to watch, TCP: permanent), its
 * uid, its name for messages ("root (uid 0, pid 12)"), and whether it breaks another client's
 * lease of the GPU (force=true, checked by the caller: root or gpu-admin). */
typedef struct {
    pid_t pid;
    uid_t uid;
    bool persist; /* permanent: no lease */
    bool force;
    char name[128];
} zd_requester;
/* Changes one GPU for a client. Returns 0 or a ZEUS_E* code with a message for the client in
 * err; 409 conflicts come back as ZEUS_ESTATE. A client whose lease was broken gets 409 naming
 * who took the GPU on its next change of it. */
int zd_leases_set(zd_leases *l, unsigned gpu, const zd_setting *setting, const zd_requester *who,
                  char *err, size_t err_size);
/* The number of live client leases (for tests through logs). */
size_t zd_leases_count(zd_leases *l);

/* ---- Per-GPU change queues (src/zeusd/queue.c) ---- */
typedef struct zd_change {
    unsigned gpu;
    zd_setting setting;
    zd_requester who;
    char what[256]; /* the log line's start: route, GPU, value, caller */
    bool blocking;  /* the submitter waits (zd_queue_wait) and frees it; else the worker frees */
    bool done;
    int rc;
    char err[512];
    struct zd_change *next;
} zd_change;
typedef struct zd_queue zd_queue;
zd_queue *zd_queue_create(zd_leases *leases, unsigned gpus);
/* Carries out what is queued, then stops the workers. */
void zd_queue_destroy(zd_queue *q);
/* -1 when the GPU does not exist or the queue stops (c is then not taken). */
int zd_queue_submit(zd_queue *q, zd_change *c);
void zd_queue_wait(zd_queue *q, zd_change *c);

#endif
