/* Our own declarations of the few libcurl types, constants and functions https_client.c uses, so
 * the build needs no curl headers and libzeus no link-time libcurl (it is dlopen'ed, like NVML:
 * src/device/nvml_api.h). The values are libcurl's stable ABI, checked against curl 7.88's
 * <curl/curl.h> (Debian 12's libcurl4-openssl-dev); they have not changed since 7.x. */
#ifndef ZEUS_CORE_CURL_API_H
#define ZEUS_CORE_CURL_API_H

#include <stddef.h>
#include <stdint.h>

typedef void CURL;
typedef int CURLcode;       /* CURLE_* */
typedef int CURLoption;     /* CURLOPT_* */
typedef int CURLINFO;       /* CURLINFO_* */
typedef int64_t curl_off_t; /* long on LP64, as curl's system.h says */
struct curl_slist;

#define CURL_GLOBAL_DEFAULT 3L
#define CURLPROTO_HTTPS 2L

/* Options: long (0 +), object pointer (10000 +), function pointer (20000 +), curl_off_t
 * (30000 +). */
#define CURLOPT_WRITEDATA 10001
#define CURLOPT_URL 10002
#define CURLOPT_ERRORBUFFER 10010
#define CURLOPT_WRITEFUNCTION 20011
#define CURLOPT_POSTFIELDS 10015
#define CURLOPT_USERAGENT 10018
#define CURLOPT_HTTPHEADER 10023
#define CURLOPT_HEADERDATA 10029
#define CURLOPT_CUSTOMREQUEST 10036
#define CURLOPT_POST 47
#define CURLOPT_FOLLOWLOCATION 52
#define CURLOPT_SSL_VERIFYPEER 64
#define CURLOPT_CAINFO 10065
#define CURLOPT_HEADERFUNCTION 20079
#define CURLOPT_HTTPGET 80
#define CURLOPT_SSL_VERIFYHOST 81
#define CURLOPT_CAPATH 10097
#define CURLOPT_NOSIGNAL 99
#define CURLOPT_TIMEOUT_MS 155
#define CURLOPT_PROTOCOLS 181 /* deprecated in 7.85 for _STR, still honoured */
#define CURLOPT_POSTFIELDSIZE_LARGE 30120

#define CURLINFO_RESPONSE_CODE 0x200002 /* CURLINFO_LONG + 2 */

#define CURL_ERROR_SIZE 256
#define CURLE_OK 0
#define CURLE_UNSUPPORTED_PROTOCOL 1
#define CURLE_COULDNT_RESOLVE_PROXY 5
#define CURLE_COULDNT_RESOLVE_HOST 6
#define CURLE_COULDNT_CONNECT 7
#define CURLE_WRITE_ERROR 23
#define CURLE_OPERATION_TIMEDOUT 28
#define CURLE_SSL_CONNECT_ERROR 35
#define CURLE_SSL_CERTPROBLEM 58
#define CURLE_PEER_FAILED_VERIFICATION 60
#define CURLE_SSL_CACERT_BADFILE 77
#define CURLE_SSL_CRL_BADFILE 82
#define CURLE_SSL_ISSUER_ERROR 83
#define CURLE_SSL_PINNEDPUBKEYNOTMATCH 90
#define CURLE_SSL_INVALIDCERTSTATUS 91

typedef size_t (*zeus__curl_write_fn)(char *data, size_t size, size_t n, void *user);

/* The functions, resolved by name once (https_client.c: CURL_FUNCTIONS). */
typedef struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
} zeus__curl_api;

#endif
