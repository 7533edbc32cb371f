/* HS256 JSON Web Tokens as the original issues and checks them (§6), HMAC-SHA256 from nettle. */
#include "zeusd.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <nettle/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(len / 3 * 4 + 5);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return out;
}

/* Unpadded base64url; returns a malloc'd, NUL-terminated buffer or NULL if malformed. */
/* NULL with *oom false: malformed; with *oom true: out of memory. */
static unsigned char *b64url_decode(const char *in, size_t len, size_t *out_len, bool *oom)
{
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = malloc(len * 3 / 4 + 2);
    if (!out) {
        *oom = true;
        return NULL;
    }
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *c = memchr(b64url, in[i], 64);
        if (!c || in[i] == '\0') {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)(c - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static void sign(const unsigned char *key, size_t key_len, const char *data, size_t len,
                 unsigned char mac[SHA256_DIGEST_SIZE])
{
    struct hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, key_len, key);
    hmac_sha256_update(&ctx, len, (const uint8_t *)data);
    hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, mac);
}

char *zd_token_issue(const unsigned char *key, size_t key_len, const char *sub,
                     const zd_group *scopes, size_t scope_count, bool has_exp, int64_t exp)
{
    char *header = NULL, *claims_b64 = NULL, *claims_text = NULL, *signing = NULL, *token = NULL;
    char *mac_b64 = NULL;
    cJSON *claims = cJSON_CreateObject();
    cJSON *list = cJSON_CreateArray();
    if (!claims || !list)
        goto fail;
    /* Every claim or none: cJSON leaves out what it cannot allocate without a word, and a token
     * without its exp would never expire (found by tests/alloc). */
    bool ok = cJSON_AddStringToObject(claims, "sub", sub) != NULL;
    for (size_t i = 0; ok && i < scope_count; i++) {
        cJSON *scope = cJSON_CreateString(zd_group_name(scopes[i]));
        if (!(ok = cJSON_AddItemToArray(list, scope)))
            cJSON_Delete(scope);
    }
    if (ok && (ok = cJSON_AddItemToObject(claims, "scopes", list)))
        list = NULL;
    if (ok && has_exp)
        ok = cJSON_AddNumberToObject(claims, "exp", (double)exp) != NULL;
    if (!ok)
        goto fail;
    claims_text = cJSON_PrintUnformatted(claims);
    const char *h = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    header = b64url_encode((const unsigned char *)h, strlen(h));
    claims_b64 =
        claims_text ? b64url_encode((unsigned char *)claims_text, strlen(claims_text)) : NULL;
    if (!header || !claims_b64)
        goto fail;
    size_t n = strlen(header) + strlen(claims_b64) + 2;
    signing = malloc(n);
    if (!signing)
        goto fail;
    snprintf(signing, n, "%s.%s", header, claims_b64);
    unsigned char mac[SHA256_DIGEST_SIZE];
    sign(key, key_len, signing, strlen(signing), mac);
    mac_b64 = b64url_encode(mac, sizeof mac);
    if (!mac_b64)
        goto fail;
    n = strlen(signing) + strlen(mac_b64) + 2;
    token = malloc(n);
    if (token)
        snprintf(token, n, "%s.%s", signing, mac_b64);
fail:
    cJSON_Delete(list);
    cJSON_Delete(claims);
    free(claims_text);
    free(header);
    free(claims_b64);
    free(signing);
    free(mac_b64);
    return token;
}

/* jsonwebtoken's default leeway for exp (seconds). */
#define ZD_EXP_LEEWAY_S 60

/* Whether mac is the HS256 signature of the token's first len bytes, compared in constant time:
 * the comparison must not tell how many bytes matched. */
static bool signature_matches(const unsigned char *key, size_t key_len, const char *token,
                              size_t len, const unsigned char *mac, size_t mlen)
{
    unsigned char want[SHA256_DIGEST_SIZE];
    sign(key, key_len, token, len, want);
    unsigned char diff = mlen != sizeof want;
    for (size_t i = 0; i < sizeof want; i++)
        diff |= (unsigned char)(want[i] ^ (i < mlen ? mac[i] : 0));
    return diff == 0;
}

/* The scopes claim into out (scope flags, and the list as text and as JSON); false on an
 * unknown one. */
static bool read_scopes(const cJSON *scopes, zd_claims *out)
{
    size_t tl = 0, jl = 0;
    jl += (size_t)snprintf(out->scopes_json, sizeof out->scopes_json, "[");
    const cJSON *item;
    cJSON_ArrayForEach(item, scopes)
    {
        zd_group g;
        if (!cJSON_IsString(item) || zd_group_parse(item->valuestring, &g) != 0)
            return false;
        out->scope[g] = true;
        const char *name = zd_group_name(g);
        if (tl < sizeof out->scopes_text)
            tl += (size_t)snprintf(out->scopes_text + tl, sizeof out->scopes_text - tl, "%s'%s'",
                                   tl ? ", " : "", name);
        if (jl < sizeof out->scopes_json)
            jl += (size_t)snprintf(out->scopes_json + jl, sizeof out->scopes_json - jl, "%s\"%s\"",
                                   jl > 1 ? "," : "", name);
    }
    if (jl < sizeof out->scopes_json)
        snprintf(out->scopes_json + jl, sizeof out->scopes_json - jl, "]");
    return true;
}

int zd_token_verify(const unsigned char *key, size_t key_len, const char *token, int64_t now_s,
                    zd_claims *out, char *err, size_t err_size)
{
    int rc = -2;
    unsigned char *header = NULL, *payload = NULL, *mac = NULL;
    cJSON *hj = NULL, *pj = NULL;
    memset(out, 0, sizeof *out);
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.')) {
        snprintf(err, err_size, "InvalidToken");
        goto done;
    }
    size_t hlen, plen, mlen;
    bool oom = false;
    header = b64url_decode(token, (size_t)(dot1 - token), &hlen, &oom);
    payload = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen, &oom);
    mac = b64url_decode(dot2 + 1, strlen(dot2 + 1), &mlen, &oom);
    if (oom)
        goto out_of_memory;
    if (!header || !payload || !mac) {
        snprintf(err, err_size, "Base64 error: malformed token segment");
        goto done;
    }
    zd_json_track();
    hj = cJSON_ParseWithLength((const char *)header, hlen);
    if (!hj && zd_json_out_of_memory())
        goto out_of_memory;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hj, "alg");
    if (!cJSON_IsObject(hj) || !cJSON_IsString(alg)) {
        snprintf(err, err_size, "Json error: malformed token header");
        goto done;
    }
    if (strcmp(alg->valuestring, "HS256") != 0) {
        snprintf(err, err_size, "InvalidAlgorithm");
        goto done;
    }
    if (!signature_matches(key, key_len, token, (size_t)(dot2 - token), mac, mlen)) {
        snprintf(err, err_size, "InvalidSignature");
        goto done;
    }
    pj = cJSON_ParseWithLength((const char *)payload, plen);
    if (!pj && zd_json_out_of_memory())
        goto out_of_memory;
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(pj, "sub");
    const cJSON *scopes = cJSON_GetObjectItemCaseSensitive(pj, "scopes");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(pj, "exp");
    if (!cJSON_IsObject(pj) || !cJSON_IsString(sub) || !cJSON_IsArray(scopes) ||
        (exp && !cJSON_IsNumber(exp))) {
        snprintf(err, err_size, "JSON error: the claims need a string sub and a scopes list");
        goto done;
    }
    snprintf(out->sub, sizeof out->sub, "%s", sub->valuestring);
    if (!read_scopes(scopes, out)) {
        snprintf(err, err_size, "JSON error: unknown variant in scopes");
        goto done;
    }
    if (exp) {
        out->has_exp = true;
        /* jsonwebtoken reads exp as a u64: a far-future exp (past int64_t, where a plain cast
         * is undefined and gave INT64_MIN, "expired") never expires. */
        double e = exp->valuedouble;
        out->exp = e >= 9223372036854775807.0    ? INT64_MAX
                   : e <= -9223372036854775807.0 ? INT64_MIN
                                                 : (int64_t)e;
        if (out->exp < now_s - ZD_EXP_LEEWAY_S) {
            snprintf(err, err_size, "Token has expired.");
            rc = -1;
            goto done;
        }
    }
    rc = 0;
    goto done;
out_of_memory:
    snprintf(err, err_size, "out of memory");
    rc = -3;
done:
    cJSON_Delete(hj);
    cJSON_Delete(pj);
    free(header);
    free(payload);
    free(mac);
    return rc;
}

int64_t zd_parse_duration(const char *text)
{
    char buf[64];
    size_t n = 0;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    for (; *p && n + 1 < sizeof buf; p++)
        buf[n++] = (char)tolower((unsigned char)*p);
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (strcmp(buf, "never") == 0 || strcmp(buf, "0") == 0)
        return 0;
    static const struct {
        const char *unit;
        int64_t s;
    } units[] = {{"seconds", 1}, {"second", 1},   {"secs", 1},       {"sec", 1},
                 {"s", 1},       {"minutes", 60}, {"minute", 60},    {"mins", 60},
                 {"min", 60},    {"m", 60},       {"hours", 3600},   {"hour", 3600},
                 {"hrs", 3600},  {"hr", 3600},    {"h", 3600},       {"days", 86400},
                 {"day", 86400}, {"d", 86400},    {"weeks", 604800}, {"week", 604800},
                 {"w", 604800}};
    int64_t total = 0;
    const char *q = buf;
    if (*q == '\0')
        return -1;
    while (*q) {
        while (*q == ' ')
            q++;
        if (!isdigit((unsigned char)*q))
            return -1;
        int64_t v = 0;
        while (isdigit((unsigned char)*q)) {
            v = v * 10 + (*q++ - '0');
            if (v > 100000000)
                return -1;
        }
        while (*q == ' ')
            q++;
        size_t i, ulen = 0;
        for (i = 0; i < sizeof units / sizeof units[0]; i++) {
            ulen = strlen(units[i].unit);
            if (strncmp(q, units[i].unit, ulen) == 0 && !isalpha((unsigned char)q[ulen]))
                break;
        }
        if (i == sizeof units / sizeof units[0])
            return -1;
        total += v * units[i].s;
        q += ulen;
    }
    return total > 0 ? total : -1;
}
