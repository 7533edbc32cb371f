/* The C client of the batch-size optimizer service (bso_client.h). HTTP/1.1 with
 * "Connection: close": one request per connection, the answer read to the end. */
#include "bso_client.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct zeus_bso_client {
    char host[256], port[16], job_id[400], err[1024];
    int batch_size, trial_number, epoch;
    bool finished, ended;
    int *sizes;
    size_t n_sizes;
};

static _Thread_local char t_err[1024];

const char *zeus_bso_client_last_error(void)
{
    return t_err;
}
const char *zeus_bso_client_error(const zeus_bso_client *c)
{
    return c ? c->err : t_err;
}

static int fail(zeus_bso_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(zeus_bso_client *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c ? c->err : t_err, sizeof t_err, fmt, ap);
    va_end(ap);
    if (c)
        snprintf(t_err, sizeof t_err, "%s", c->err);
    return code;
}

void zeus_bso_job_spec_default(zeus_bso_job_spec *j)
{
    *j = (zeus_bso_job_spec){.eta_knob = 0.5,
                             .beta_knob = 2.0,
                             .target_metric = 0.5,
                             .higher_is_better_metric = true,
                             .max_epochs = 100,
                             .num_pruning_rounds = 2,
                             .mab_num_explorations = 2,
                             .mab_seed = -1};
}

/* One request; *status and *body (malloc'd JSON, or NULL) on success. */
static int http(zeus_bso_client *c, const char *method, const char *path, const char *body,
                int *status, cJSON **json)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int fd = -1, rc = ZEUS_BSO_RUNTIME, gai = getaddrinfo(c->host, c->port, &hints, &ai);
    char *buf = NULL;
    *json = NULL;
    if (gai != 0)
        return fail(c, rc, "Cannot resolve %s: %s", c->host, gai_strerror(gai));
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        struct timeval tv = {30, 0}; /* a generous bound on a stuck server */
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
                        connect(fd, a->ai_addr, a->ai_addrlen) < 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return fail(c, rc, "Cannot reach the Zeus server at %s:%s: %s", c->host, c->port,
                    strerror(errno));
    size_t blen = body ? strlen(body) : 0, cap = 8192, len = 0;
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n%sContent-Length: "
                      "%zu\r\n\r\n",
                      method, path, c->host, c->port,
                      body ? "Content-Type: application/json\r\n" : "", blen);
    if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl ||
        (blen && send(fd, body, blen, MSG_NOSIGNAL) != (ssize_t)blen)) {
        fail(c, rc, "Cannot send to the Zeus server: %s", strerror(errno));
        goto out;
    }
    buf = malloc(cap);
    ssize_t n;
    while (buf && (n = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            char *b = cap < (16u << 20) ? realloc(buf, cap *= 2) : NULL;
            if (!b)
                break;
            buf = b;
        }
    }
    if (!buf || len == 0) {
        fail(c, rc, "No answer from the Zeus server");
        goto out;
    }
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1 || !sep) {
        fail(c, rc, "The Zeus server's answer is not HTTP");
        goto out;
    }
    *json = cJSON_Parse(sep + 4);
    if (*status < 200 || *status > 299) {
        fail(c, rc, "Zeus server returned status code %d: %s", *status, sep + 4);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    close(fd);
    if (rc != 0) {
        cJSON_Delete(*json);
        *json = NULL;
    }
    return rc;
}

int zeus_bso_client_create(const char *url, const zeus_bso_job_spec *j, double max_power_w,
                           int gpus, const char *gpu_model, zeus_bso_client **out)
{
    *out = NULL;
    if (!url || !j || !j->job_id_prefix || !j->batch_sizes || !gpu_model || gpus < 1)
        return fail(NULL, ZEUS_BSO_CONFIG, "zeus_bso_client_create: missing argument");
    if (strncmp(url, "http://", 7) != 0)
        return fail(NULL, ZEUS_BSO_CONFIG, "only http:// server URLs are supported: %s", url);
    zeus_bso_client *c = calloc(1, sizeof *c);
    if (!c)
        return fail(NULL, ZEUS_BSO_CONFIG, "out of memory");
    const char *hp = url + 7, *slash = strchr(hp, '/'), *colon;
    size_t hlen = slash ? (size_t)(slash - hp) : strlen(hp);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%.*s", (int)hlen, hp);
    colon = strrchr(hostport, ':');
    snprintf(c->port, sizeof c->port, "%s", colon ? colon + 1 : "80");
    if (colon)
        hostport[colon - hostport] = '\0';
    snprintf(c->host, sizeof c->host, "%s", hostport);

    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    if (j->job_id)
        cJSON_AddStringToObject(req, "job_id", j->job_id);
    else
        cJSON_AddNullToObject(req, "job_id");
    cJSON_AddStringToObject(req, "job_id_prefix", j->job_id_prefix);
    cJSON_AddItemToObject(req, "batch_sizes",
                          cJSON_CreateIntArray(j->batch_sizes, (int)j->n_batch_sizes));
    cJSON_AddNumberToObject(req, "default_batch_size", j->default_batch_size);
    cJSON_AddNumberToObject(req, "eta_knob", j->eta_knob);
    if (isnan(j->beta_knob))
        cJSON_AddNullToObject(req, "beta_knob");
    else
        cJSON_AddNumberToObject(req, "beta_knob", j->beta_knob);
    cJSON_AddNumberToObject(req, "target_metric", j->target_metric);
    cJSON_AddBoolToObject(req, "higher_is_better_metric", j->higher_is_better_metric);
    cJSON_AddNumberToObject(req, "max_epochs", j->max_epochs);
    cJSON_AddNumberToObject(req, "num_pruning_rounds", j->num_pruning_rounds);
    cJSON_AddNumberToObject(req, "window_size", j->window_size);
    cJSON_AddNumberToObject(req, "mab_prior_mean", j->mab_prior_mean);
    cJSON_AddNumberToObject(req, "mab_prior_precision", j->mab_prior_precision);
    cJSON_AddNumberToObject(req, "mab_num_explorations", j->mab_num_explorations);
    if (j->mab_seed < 0)
        cJSON_AddNullToObject(req, "mab_seed");
    else
        cJSON_AddNumberToObject(req, "mab_seed", (double)j->mab_seed);
    cJSON_AddNumberToObject(req, "max_power", max_power_w);
    cJSON_AddNumberToObject(req, "number_of_gpus", gpus);
    cJSON_AddStringToObject(req, "gpu_model", gpu_model);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    int status, rc = http(c, "POST", "/jobs", body, &status, &resp);
    free(body);
    cJSON *id = cJSON_GetObjectItem(resp, "job_id"), *bs = cJSON_GetObjectItem(resp, "batch_sizes");
    if (rc == 0 && (!cJSON_IsString(id) || !cJSON_IsArray(bs)))
        rc = fail(c, ZEUS_BSO_RUNTIME, "The Zeus server's registration answer lacks job_id");
    if (rc == 0) {
        snprintf(c->job_id, sizeof c->job_id, "%s", id->valuestring);
        c->n_sizes = (size_t)cJSON_GetArraySize(bs);
        c->sizes = calloc(c->n_sizes + 1, sizeof(int));
        cJSON *e;
        size_t i = 0;
        cJSON_ArrayForEach(e, bs) if (c->sizes) c->sizes[i++] = e->valueint;
    }
    cJSON_Delete(resp);
    if (rc != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

const char *zeus_bso_client_job_id(const zeus_bso_client *c)
{
    return c->job_id;
}
int zeus_bso_client_trial_number(const zeus_bso_client *c)
{
    return c->trial_number;
}

int zeus_bso_client_batch_size(zeus_bso_client *c, int *batch_size)
{
    if (c->batch_size) {
        *batch_size = c->batch_size;
        return 0;
    }
    char path[1400], *q = path + snprintf(path, sizeof path, "/jobs/batch_size?job_id=");
    for (const unsigned char *s = (const unsigned char *)c->job_id; *s; s++) /* URL-encode */
        q += (isalnum(*s) || strchr("-_.~", *s)) ? sprintf(q, "%c", *s) : sprintf(q, "%%%02X", *s);
    cJSON *resp;
    int status, rc = http(c, "GET", path, NULL, &status, &resp);
    if (rc != 0)
        return rc;
    cJSON *bs = cJSON_GetObjectItem(resp, "batch_size"),
          *tn = cJSON_GetObjectItem(resp, "trial_number");
    bool known = false;
    for (size_t i = 0; cJSON_IsNumber(bs) && i < c->n_sizes; i++)
        known = known || c->sizes[i] == bs->valueint;
    if (!known || !cJSON_IsNumber(tn)) {
        cJSON_Delete(resp);
        return fail(c, ZEUS_BSO_RUNTIME, "Zeus server returned a strange batch_size");
    }
    c->batch_size = *batch_size = bs->valueint;
    c->trial_number = tn->valueint;
    c->epoch = 0;
    cJSON_Delete(resp);
    return 0;
}

int zeus_bso_client_report(zeus_bso_client *c, double time_s, double energy_j, double metric,
                           bool *stop)
{
    *stop = c->finished;
    if (!c->batch_size)
        return fail(c, ZEUS_BSO_ORDER, "Call zeus_bso_client_batch_size before reporting");
    if (c->finished)
        return 0;
    cJSON *req = cJSON_CreateObject(), *resp;
    cJSON_AddStringToObject(req, "job_id", c->job_id);
    cJSON_AddNumberToObject(req, "batch_size", c->batch_size);
    cJSON_AddNumberToObject(req, "trial_number", c->trial_number);
    cJSON_AddNumberToObject(req, "time", time_s);
    cJSON_AddNumberToObject(req, "energy", energy_j);
    cJSON_AddNumberToObject(req, "metric", metric);
    cJSON_AddNumberToObject(req, "current_epoch", ++c->epoch);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    int status, rc = http(c, "POST", "/report", body, &status, &resp);
    free(body);
    if (rc != 0)
        return rc;
    cJSON *st = cJSON_GetObjectItem(resp, "stop_train"),
          *cv = cJSON_GetObjectItem(resp, "converged");
    cJSON *msg = cJSON_GetObjectItem(resp, "message");
    if (!cJSON_IsBool(st) || !cJSON_IsBool(cv)) {
        cJSON_Delete(resp);
        return fail(c, ZEUS_BSO_RUNTIME, "The Zeus server's report answer is malformed");
    }
    if (cJSON_IsTrue(st)) {
        c->finished = *stop = true;
        if (!cJSON_IsTrue(cv))
            rc = fail(c, ZEUS_BSO_TRAIN_FAILED,
                      "Train failed: %s This batch size will not be selected again. Please "
                      "re-launch the training",
                      cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(resp);
    return rc;
}

int zeus_bso_client_end(zeus_bso_client *c)
{
    if (!c->batch_size || c->ended)
        return 0;
    c->ended = true;
    cJSON *req = cJSON_CreateObject(), *resp;
    cJSON_AddStringToObject(req, "job_id", c->job_id);
    cJSON_AddNumberToObject(req, "batch_size", c->batch_size);
    cJSON_AddNumberToObject(req, "trial_number", c->trial_number);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    int status, rc = http(c, "PATCH", "/trials", body, &status, &resp);
    free(body);
    cJSON_Delete(resp);
    return rc;
}

void zeus_bso_client_destroy(zeus_bso_client *c)
{
    if (!c)
        return;
    zeus_bso_client_end(c);
    free(c->sizes);
    free(c);
}
