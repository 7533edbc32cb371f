/* zeusd: serve GPU and CPU power controls to unprivileged processes (docs/zeusd.md). */
#include "http.h"
#include "zeusd.h"

#include "zeus/common.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: zeusd serve (default options)\n"
    "       zeusd token issue --signing-key-path PATH --user NAME --expires DURATION|never\n"
    "                         (default --scope GROUP,...)\n"
    "\n"
    "The privileged Zeus daemon: unprivileged jobs change GPU settings (power limit,\n"
    "persistence mode, clocks) and read GPU and CPU power through its API.\n"
    "\n"
    "commands:\n"
    "  serve        serve the API (GPU controls, GPU and CPU power reads) on a socket\n"
    "  token issue  print a signed token for a user (HS256 bearer token)\n"
    "\n"
    "serve options:\n"
    "  --mode uds|tcp                 transport (default uds)\n"
    "  --socket-path PATH             Unix socket (default /run/zeusd/zeusd.sock)\n"
    "  --socket-permissions OCTAL     mode of the socket file (default 666)\n"
    "  --socket-uid UID, --socket-gid GID  owner of the socket file (default: kept)\n"
    "  --tcp-bind-address HOST:PORT   TCP address (default 127.0.0.1:4938)\n"
    "  --num-workers N                requests handled at once (each connection has its own\n"
    "                                 thread; streams hold no worker) (default: the CPUs)\n"
    "  --gpu-power-poll-hz N          GPU stream poll rate (default 20)\n"
    "  --cpu-power-poll-hz N          CPU stream poll rate and /cpu/get_power window\n"
    "                                 (default 10)\n"
    "  --gpu-backend auto|nvml|amdsmi  GPU backend (default auto)\n"
    "  --enable GROUP,...             API groups: gpu-control, gpu-read, cpu-read\n"
    "                                 (default all)\n"
    "  --signing-key-path PATH        require bearer tokens signed with this key\n"
    "                                 (default: none required)\n"
    "  --allow GROUP=WHO,...          only these Unix-socket peers may use GROUP; WHO is\n"
    "                                 user:NAME, uid:N, group:NAME or gid:N (repeatable);\n"
    "                                 gpu-admin=WHO: who besides root may break another\n"
    "                                 client's lease (force=true)\n"
    "  --no-leases                    keep every change (the original's behaviour); by\n"
    "                                 default a client's changes are put back when it exits\n"
    "  --state-dir DIR                the lease journal, read at start to put back what a\n"
    "                                 killed zeusd left (default: the socket's\n"
    "                                 directory)\n"
    "  --max-connections N            open connections at most; beyond, requests get 503\n"
    "                                 (default 512)\n"
    "  --connection-timeout-s N       close a connection idle this long (default 10)\n"
    "  --request-timeout-s N          close a connection whose request is not whole after\n"
    "                                 this long, however slowly it trickles in (default 30)\n"
    "  -h, --help                     show this help\n"
    "\n"
    "token issue options:\n"
    "  --signing-key-path PATH        the key zeusd serve checks tokens with (required)\n"
    "  --user NAME                    whom the token names (required)\n"
    "  --scope GROUP,...              API groups the token allows (default all)\n"
    "  --expires DURATION|never       lifetime, e.g. 30d or 12h (required)\n"
    "\n"
    "Logs go to stdout (ZEUSD_LOG=debug for more). See docs/zeusd.md.\n"
    "\n"
    "example:\n"
    "  zeusd serve --socket-path /run/zeusd/zeusd.sock --socket-permissions 660 \\\n"
    "    --socket-gid 1000\n"
    "  zeusd token issue --signing-key-path /etc/zeusd/key --user alice --expires 30d\n";

static int die(const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    zd_log("ERROR", "%s", msg);
    return 1;
}

static int parse_groups(const char *text, zd_group *out, size_t max, size_t *count)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        zd_group g;
        if (zd_group_parse(t, &g) != 0 || *count == max)
            return -1;
        out[(*count)++] = g;
    }
    return 0;
}

static int parse_allow(zd_config *c, const char *text)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *eq = strchr(buf, '=');
    if (!eq)
        return -1;
    *eq = '\0';
    /* gpu-admin is not an API group: who may break another client's lease (force=true). */
    zd_allow *list;
    size_t *count;
    zd_group g;
    if (strcmp(buf, "gpu-admin") == 0) {
        list = c->admin;
        count = &c->admin_count;
    } else if (zd_group_parse(buf, &g) == 0) {
        c->allow_set[g] = true;
        list = c->allow[g];
        count = &c->allow_count[g];
    } else {
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(eq + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        zd_allow a;
        unsigned id;
        if (*count == ZD_MAX_ALLOW)
            return -1;
        if (strncmp(t, "uid:", 4) == 0 && zd_parse_u32(t + 4, &id) == 0) {
            a = (zd_allow){ZD_ALLOW_UID, id};
        } else if (strncmp(t, "gid:", 4) == 0 && zd_parse_u32(t + 4, &id) == 0) {
            a = (zd_allow){ZD_ALLOW_GID, id};
        } else if (strncmp(t, "user:", 5) == 0) {
            struct passwd *pw = getpwnam(t + 5);
            if (!pw)
                return -1;
            a = (zd_allow){ZD_ALLOW_UID, pw->pw_uid};
        } else if (strncmp(t, "group:", 6) == 0) {
            struct group *gr = getgrnam(t + 6);
            if (!gr)
                return -1;
            a = (zd_allow){ZD_ALLOW_GID, gr->gr_gid};
        } else {
            return -1;
        }
        list[(*count)++] = a;
    }
    return 0;
}

static unsigned char *read_key(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (n == 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* §3.1: a live socket is never deleted; a stale one (ECONNREFUSED) is. */
static int prepare_socket_path(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return die("socket path %s is occupied by a non-socket file", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    int err = errno;
    close(fd);
    if (rc == 0)
        return die("socket path %s is in use by another process", path);
    if (err != ECONNREFUSED)
        return die("cannot check the existing socket %s; not removing it", path);
    zd_log("WARN", "removing stale socket %s", path);
    unlink(path);
    return 0;
}

static int mkdir_parents(const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

static int listen_uds(const zd_config *c)
{
    if (prepare_socket_path(c->socket_path) != 0)
        return -1;
    if (mkdir_parents(c->socket_path) != 0) {
        die("cannot create the directory of %s", c->socket_path);
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(c->socket_path) >= sizeof addr.sun_path) {
        die("socket path too long: %s", c->socket_path);
        return -1;
    }
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", c->socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* The socket file gets its mode as bind creates it (through the umask), so that no client
     * can connect while it is wider than asked; the chmod after only adds special bits. No
     * other thread creates files meanwhile (the process-wide umask). */
    mode_t old_mask = umask(~c->socket_mode & 0777);
    int bound = fd >= 0 ? bind(fd, (struct sockaddr *)&addr, sizeof addr) : -1;
    umask(old_mask);
    if (fd < 0 || bound != 0 || listen(fd, 512) != 0 ||
        chmod(c->socket_path, c->socket_mode) != 0 ||
        ((c->socket_uid >= 0 || c->socket_gid >= 0) &&
         chown(c->socket_path, (uid_t)c->socket_uid, (gid_t)c->socket_gid) != 0)) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s: %s", c->socket_path, strerror(errno));
        die("cannot serve on %s", msg);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The lease journal lives beside the socket unless --state-dir says otherwise. */
static void default_state_dir(zd_config *c)
{
    const char *slash = strrchr(c->socket_path, '/');
    if (!slash || slash == c->socket_path)
        snprintf(c->state_dir, sizeof c->state_dir, "%s", slash ? "/" : ".");
    else
        snprintf(c->state_dir, sizeof c->state_dir, "%.*s", (int)(slash - c->socket_path),
                 c->socket_path);
}

static int listen_tcp(const zd_config *c)
{
    char host[256];
    snprintf(host, sizeof host, "%s", c->tcp_bind);
    char *colon = strrchr(host, ':');
    if (!colon) {
        die("--tcp-bind-address needs HOST:PORT, not %s", c->tcp_bind);
        return -1;
    }
    *colon = '\0';
    char *h = host;
    if (*h == '[' && colon[-1] == ']') { /* [::1]:4938 */
        h++;
        colon[-1] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    if (getaddrinfo(h, colon + 1, &hints, &res) != 0 || !res) {
        die("cannot resolve --tcp-bind-address %s", c->tcp_bind);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 512) != 0) {
        die("cannot listen on %s", c->tcp_bind);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void library_log(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    zd_log(level == ZEUS_LOG_ERROR  ? "ERROR"
           : level == ZEUS_LOG_WARN ? "WARN"
           : level == ZEUS_LOG_INFO ? "INFO"
                                    : "DEBUG",
           "libzeus: %s", message);
}

enum {
    O_MODE = 256,
    O_SOCKET_PATH,
    O_SOCKET_PERMS,
    O_SOCKET_UID,
    O_SOCKET_GID,
    O_TCP,
    O_WORKERS,
    O_GPU_HZ,
    O_CPU_HZ,
    O_BACKEND,
    O_ENABLE,
    O_KEY,
    O_ALLOW,
    O_NO_LEASES,
    O_STATE_DIR,
    O_MAX_CONN,
    O_TIMEOUT,
    O_REQUEST_TIMEOUT,
    O_OVERRIDES,
    O_USER,
    O_SCOPE,
    O_EXPIRES,
};

static const struct option options[] = {
    {"mode", required_argument, NULL, O_MODE},
    {"socket-path", required_argument, NULL, O_SOCKET_PATH},
    {"socket-permissions", required_argument, NULL, O_SOCKET_PERMS},
    {"socket-uid", required_argument, NULL, O_SOCKET_UID},
    {"socket-gid", required_argument, NULL, O_SOCKET_GID},
    {"tcp-bind-address", required_argument, NULL, O_TCP},
    {"num-workers", required_argument, NULL, O_WORKERS},
    {"gpu-power-poll-hz", required_argument, NULL, O_GPU_HZ},
    {"cpu-power-poll-hz", required_argument, NULL, O_CPU_HZ},
    {"gpu-backend", required_argument, NULL, O_BACKEND},
    {"enable", required_argument, NULL, O_ENABLE},
    {"signing-key-path", required_argument, NULL, O_KEY},
    {"allow", required_argument, NULL, O_ALLOW},
    {"no-leases", no_argument, NULL, O_NO_LEASES},
    {"state-dir", required_argument, NULL, O_STATE_DIR},
    {"max-connections", required_argument, NULL, O_MAX_CONN},
    {"connection-timeout-s", required_argument, NULL, O_TIMEOUT},
    {"request-timeout-s", required_argument, NULL, O_REQUEST_TIMEOUT},
    {"gpu-command-overrides", required_argument, NULL, O_OVERRIDES},
    {"user", required_argument, NULL, O_USER},
    {"scope", required_argument, NULL, O_SCOPE},
    {"expires", required_argument, NULL, O_EXPIRES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* -h prints the help (status 0); anything else getopt did not take is a usage error (2). */
static int help_or_usage_error(int o)
{
    fputs(usage, o == 'h' ? stdout : stderr);
    return o == 'h' ? 0 : 2;
}

/* The long name of an option, for messages. */
static const char *option_name(int val)
{
    for (size_t i = 0; options[i].name; i++)
        if (options[i].val == val)
            return options[i].name;
    return "?";
}

/* Options that put a u32 into a zd_config field. */
static const struct {
    int opt;
    size_t offset;
} u32_options[] = {
    {O_WORKERS, offsetof(zd_config, num_workers)},
    {O_GPU_HZ, offsetof(zd_config, gpu_poll_hz)},
    {O_CPU_HZ, offsetof(zd_config, cpu_poll_hz)},
    {O_MAX_CONN, offsetof(zd_config, max_connections)},
    {O_TIMEOUT, offsetof(zd_config, timeout_s)},
    {O_REQUEST_TIMEOUT, offsetof(zd_config, request_timeout_s)},
};

static unsigned *u32_field(zd_config *c, int opt)
{
    for (size_t i = 0; i < sizeof u32_options / sizeof u32_options[0]; i++)
        if (u32_options[i].opt == opt)
            return (unsigned *)((char *)c + u32_options[i].offset);
    return NULL;
}

static int parse_u32_opt(const char *name, const char *text, unsigned *out)
{
    if (zd_parse_u32(text, out) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "--%s: '%s' is not a number", name, text);
        return die("%s", msg);
    }
    return 0;
}

static int token_issue(int argc, char **argv)
{
    const char *key_path = NULL, *user = NULL, *expires = NULL;
    zd_group scopes[ZD_MAX_ENABLED];
    size_t scope_count = 0;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (o) {
        case O_KEY:
            key_path = optarg;
            break;
        case O_USER:
            user = optarg;
            break;
        case O_EXPIRES:
            expires = optarg;
            break;
        case O_SCOPE:
            if (parse_groups(optarg, scopes, ZD_MAX_ENABLED, &scope_count) != 0)
                return die("--scope: unknown API group in '%s'", optarg);
            break;
        default:
            return help_or_usage_error(o);
        }
    }
    if (!key_path || !user || !expires) {
        fprintf(stderr, "zeusd token issue: --signing-key-path, --user and --expires are "
                        "required\n");
        return 2;
    }
    int64_t duration = zd_parse_duration(expires);
    if (duration < 0)
        return die("--expires: '%s' is not a duration (e.g. 1h, 7d, never)", expires);
    size_t key_len;
    unsigned char *key = read_key(key_path, &key_len);
    if (!key)
        return die("cannot read a non-empty signing key from %s", key_path);
    char *token = zd_token_issue(key, key_len, user, scopes, scope_count, duration > 0,
                                 (int64_t)time(NULL) + duration);
    free(key);
    if (!token)
        return die("%s", "out of memory");
    printf("%s\n", token);
    free(token);
    return 0;
}

#define KEEP_GOING (-1)

/* One option of serve (o, with optarg) into c; KEEP_GOING or the exit status. */
static int take_serve_option(int o, zd_config *c, bool *enable_given, const char **gpu_backend)
{
    unsigned v, *field = u32_field(c, o);
    if (field)
        return parse_u32_opt(option_name(o), optarg, field) ? 1 : KEEP_GOING;
    switch (o) {
    case O_MODE:
        if (strcmp(optarg, "uds") != 0 && strcmp(optarg, "tcp") != 0)
            return die("--mode: '%s' is not uds or tcp", optarg);
        c->uds = strcmp(optarg, "uds") == 0;
        break;
    case O_SOCKET_PATH:
        snprintf(c->socket_path, sizeof c->socket_path, "%s", optarg);
        break;
    case O_SOCKET_PERMS: {
        char *end;
        errno = 0;
        unsigned long mode = strtoul(optarg, &end, 8);
        if (errno || *end || end == optarg || mode > 07777)
            return die("--socket-permissions: '%s' is not an octal mode", optarg);
        c->socket_mode = (unsigned)mode;
        break;
    }
    case O_SOCKET_UID:
    case O_SOCKET_GID:
        if (parse_u32_opt(option_name(o), optarg, &v))
            return 1;
        *(o == O_SOCKET_UID ? &c->socket_uid : &c->socket_gid) = v;
        break;
    case O_TCP:
        snprintf(c->tcp_bind, sizeof c->tcp_bind, "%s", optarg);
        break;
    case O_BACKEND:
        if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "nvml") != 0 &&
            strcmp(optarg, "amdsmi") != 0)
            return die("--gpu-backend: '%s' is not supported here (auto, nvml, amdsmi)", optarg);
        *gpu_backend = strcmp(optarg, "auto") == 0 ? NULL : optarg;
        break;
    case O_ENABLE:
        if (!*enable_given)
            c->enabled_count = 0;
        *enable_given = true;
        if (parse_groups(optarg, c->enabled, ZD_MAX_ENABLED, &c->enabled_count) != 0)
            return die("--enable: unknown API group in '%s' (gpu-control, gpu-read, "
                       "cpu-read)",
                       optarg);
        break;
    case O_KEY:
        snprintf(c->signing_key_path, sizeof c->signing_key_path, "%s", optarg);
        break;
    case O_ALLOW:
        if (parse_allow(c, optarg) != 0)
            return die("--allow: cannot use '%s' (GROUP=user:NAME,uid:N,group:NAME,gid:N)", optarg);
        break;
    case O_NO_LEASES:
        c->no_leases = true;
        break;
    case O_STATE_DIR:
        if (!optarg[0] || strlen(optarg) >= sizeof c->state_dir)
            return die("--state-dir: '%s' is not a usable directory path", optarg);
        snprintf(c->state_dir, sizeof c->state_dir, "%s", optarg);
        break;
    case O_OVERRIDES:
        return die("--gpu-command-overrides (%s) is not supported by this zeusd", optarg);
    default:
        return help_or_usage_error(o);
    }
    return KEEP_GOING;
}

/* serve's command line into c (then the defaults it leaves); KEEP_GOING or the exit status. */
static int parse_serve_args(int argc, char **argv, zd_config *c, const char **gpu_backend)
{
    bool enable_given = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = take_serve_option(o, c, &enable_given, gpu_backend);
        if (rc != KEEP_GOING)
            return rc;
    }
    if (optind < argc)
        return die("unexpected argument '%s'", argv[optind]);
    if (!enable_given) {
        c->enabled[0] = ZD_GROUP_GPU_CONTROL;
        c->enabled[1] = ZD_GROUP_GPU_READ;
        c->enabled[2] = ZD_GROUP_CPU_READ;
        c->enabled_count = 3;
    }
    for (size_t i = 0; i < c->enabled_count; i++)
        c->group_on[c->enabled[i]] = true;
    if (!c->state_dir[0])
        default_state_dir(c);
    return KEEP_GOING;
}

/* The node's devices as the daemon serves them; *gpus_out: the GPUs it serves. 0, or the exit
 * status after saying why. */
static int open_serve_devices(const zd_config *c, const char *gpu_backend, zeus_devices **devices,
                              unsigned *gpus_out)
{
    /* The daemon serves every GPU of the node by its physical index, whatever its own
     * environment says, and carries out changes itself (never through another zeusd). */
    zeus_device_options dev_options;
    zeus_device_options_init(&dev_options);
    if (zeus_device_options_from_env(&dev_options) != 0)
        return die("%s", zeus_last_error());
    dev_options.physical_indices = true;
    if (gpu_backend)
        dev_options.backend = gpu_backend;
    dev_options.knob_backend = NULL;
    dev_options.zeusd_socket_path = dev_options.zeusd_host_port = dev_options.zeusd_token = NULL;
    if (zeus_devices_open_with(&dev_options, devices) != 0)
        return die("cannot open the devices: %s", zeus_last_error());
    bool want_gpus = c->group_on[ZD_GROUP_GPU_CONTROL] || c->group_on[ZD_GROUP_GPU_READ];
    unsigned gpus = *gpus_out = want_gpus ? zeus_gpu_count(*devices) : 0;
    /* auto on a node with NVIDIA and AMD GPUs: the newer daemon refuses to guess (its ids
     * would mean one vendor's GPUs only). NVML answered first; ask AMD SMI too. */
    const char *chosen = zeus_devices_gpu_backend(*devices);
    if (gpus > 0 && chosen && strcmp(chosen, "nvml") == 0 &&
        (!dev_options.backend || strcmp(dev_options.backend, "auto") == 0)) {
        zeus_device_options amd_options = dev_options;
        amd_options.backend = "amdsmi";
        amd_options.allowed_backends = "amdsmi";
        zeus_devices *amd = NULL;
        unsigned amd_gpus = 0;
        if (zeus_devices_open_with(&amd_options, &amd) == 0) {
            amd_gpus = zeus_gpu_count(amd);
            zeus_devices_close(amd);
        }
        if (amd_gpus > 0) {
            char counts[64];
            snprintf(counts, sizeof counts, "%u NVIDIA and %u AMD", gpus, amd_gpus);
            return die("this node has %s GPUs: pick one with --gpu-backend nvml or "
                       "--gpu-backend amdsmi (one daemon serves one vendor's GPUs)",
                       counts);
        }
    }
    return 0;
}

static int serve(int argc, char **argv)
{
    zd_config c;
    zd_config_defaults(&c);
    const char *gpu_backend = NULL; /* --gpu-backend; NULL: auto (or ZEUS_DEVICE) */
    int prc = parse_serve_args(argc, argv, &c, &gpu_backend);
    if (prc != KEEP_GOING)
        return prc;
    zd_log("INFO", "config: mode=%s socket=%s tcp=%s groups=%zu leases=%s auth=%s state=%s",
           c.uds ? "uds" : "tcp", c.socket_path, c.tcp_bind, c.enabled_count,
           c.no_leases ? "off" : "on", c.signing_key_path[0] ? "on" : "off", c.state_dir);

    /* Signals are taken by sigwait below; every thread started from here on blocks them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    zeus_set_log_callback(library_log, NULL);
    if (zeus_set_journal_dir(c.state_dir) != 0) {
        die("--state-dir: %s", zeus_last_error());
        return 1;
    }

    int rc = 1, fd = -1;
    zeus_devices *devices = NULL;
    zd_server *server = NULL;
    zd_http *http = NULL;
    if (c.signing_key_path[0] && !(c.key = read_key(c.signing_key_path, &c.key_len))) {
        die("cannot read a non-empty signing key from %s", c.signing_key_path);
        goto done;
    }
    if (!c.uds && !c.key)
        zd_log("WARN", "Running in TCP mode without authentication");
    unsigned gpus = 0;
    if (open_serve_devices(&c, gpu_backend, &devices, &gpus) != 0)
        goto done;
    zeus_gpu_info info = {0};
    if (gpus > 0)
        zeus_gpu_get_info(devices, 0, &info);
    /* Root is needed for real GPU writes and RAPL (not for the fake devices tests use). */
    if (geteuid() != 0 && ((c.group_on[ZD_GROUP_GPU_CONTROL] && gpus > 0 && !info.simulated) ||
                           (c.group_on[ZD_GROUP_CPU_READ] && !getenv("ZEUS_SYSFS_ROOT")))) {
        die("%s", "gpu-control and cpu-read need root (or pass --enable gpu-read)");
        goto done;
    }
    zd_log("INFO", "%u GPU(s) (%s), %u CPU package(s)", gpus,
           zeus_devices_gpu_backend(devices) ? zeus_devices_gpu_backend(devices) : "none",
           c.group_on[ZD_GROUP_CPU_READ] ? zeus_cpu_count(devices) : 0);
    if (zd_server_create(&c, devices, &server) != 0) {
        die("%s", "out of memory");
        goto done;
    }
    fd = c.uds ? listen_uds(&c) : listen_tcp(&c);
    if (fd < 0)
        goto done;
    http = zd_http_start(server, fd, c.uds);
    if (!http) {
        die("%s", "cannot start the HTTP server");
        goto done;
    }
    zd_log("INFO", "listening on %s", c.uds ? c.socket_path : c.tcp_bind);
    int sig = 0;
    sigwait(&sigs, &sig);
    zd_log("INFO", "signal %d: shutting down", sig);
    rc = 0;
done:
    /* Streams end first (they wait on the pollers), then the connections, then the leases. */
    if (server)
        zd_pollers_stop(zd_server_pollers(server));
    zd_http_stop(http);
    if (fd >= 0) {
        close(fd);
        if (c.uds && http)
            unlink(c.socket_path);
    }
    zd_server_destroy(server);
    zeus_devices_close(devices);
    free(c.key);
    return rc;
}

int main(int argc, char **argv)
{
    zd_json_hooks();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("zeusd %s (libzeus)\n", zeus_version());
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "token") == 0 && argc >= 3 && strcmp(argv[2], "issue") == 0)
        return token_issue(argc - 2, argv + 2);
    fprintf(stderr, "zeusd: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
