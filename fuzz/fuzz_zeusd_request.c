/* zeusd's request handling (src/zeusd/api.c): the query fields, id lists, numbers, booleans,
 * bearer tokens and routing, over the in-process simulator. The input is
 *   byte 0: flags (bit 0 auth on, bit 1 a Unix-socket peer, bit 2 POST), then
 *   PATH[?QUERY] up to the first newline, then the Authorization header value (optional).
 * The query is split on '&' and '=' as libmicrohttpd does. Invariants: a status from 200 to 599,
 * a JSON body that parses when the type says JSON, stream ids inside the device count. */
#include "fuzz_util.h"

#include "zeusd.h"

#include <cjson/cJSON.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zd_server *servers[2];
static zeus_devices *devices;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("ZEUS_DEVICE", "sim", 1);
    setenv("ZEUS_SYSFS_ROOT", "/nonexistent-zeus-fuzz", 1);
    setenv("ZEUS_LOCK_DIR", "/tmp/zeus-fuzz-locks", 1);
    setenv("ZEUSD_LOG", "off", 1);
    FUZZ_CHECK(zeus_devices_open(&devices) == 0);
    for (int auth = 0; auth < 2; auth++) {
        zd_config c;
        zd_config_defaults(&c);
        c.enabled[0] = ZD_GROUP_GPU_CONTROL;
        c.enabled[1] = ZD_GROUP_GPU_READ;
        c.enabled[2] = ZD_GROUP_CPU_READ;
        c.enabled_count = 3;
        c.group_on[0] = c.group_on[1] = c.group_on[2] = true;
        c.cpu_poll_hz = 1000;
        c.allow_set[ZD_GROUP_CPU_READ] = true; /* an allowlist naming uid 1000 only */
        c.allow[ZD_GROUP_CPU_READ][0] = (zd_allow){ZD_ALLOW_UID, 1000};
        c.allow_count[ZD_GROUP_CPU_READ] = 1;
        if (auth) {
            static unsigned char key[] = "fuzz-key\n";
            c.key = key;
            c.key_len = sizeof key - 1;
        }
        FUZZ_CHECK(zd_server_create(&c, devices, &servers[auth]) == 0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    char *text = fuzz_text(data + 1, size - 1);
    char *auth = strchr(text, '\n');
    if (auth)
        *auth++ = '\0';
    char *query = strchr(text, '?');
    if (query)
        *query++ = '\0';
    zd_arg args[16];
    size_t n = 0;
    for (char *save = NULL, *t = query ? strtok_r(query, "&", &save) : NULL; t && n < 16;
         t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (eq)
            *eq++ = '\0';
        args[n++] = (zd_arg){t, eq ? eq : ""};
    }
    gid_t groups[1] = {1000};
    zd_request req = {.method = flags & 4 ? "POST" : "GET",
                      .path = text,
                      .args = args,
                      .arg_count = n,
                      .authorization = auth,
                      .has_peer = flags & 2,
                      .pid = 0,
                      .uid = flags & 8 ? 1000 : 0,
                      .gid = 1000,
                      .groups = groups,
                      .group_count = 1};
    zd_response r;
    zd_handle(servers[flags & 1], &req, &r);
    FUZZ_CHECK(r.status >= 200 && r.status < 600);
    if (r.body && r.content_type && strcmp(r.content_type, "application/json") == 0) {
        cJSON *j = cJSON_Parse(r.body);
        FUZZ_CHECK(j != NULL);
        cJSON_Delete(j);
    }
    if (r.stream)
        for (size_t i = 0; i < r.id_count; i++)
            FUZZ_CHECK(r.ids[i] <
                       (r.stream_cpu ? zeus_cpu_count(devices) : zeus_gpu_count(devices)));
    zd_response_free(&r);
    free(text);
    return 0;
}
