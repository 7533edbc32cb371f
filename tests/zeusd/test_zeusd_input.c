/* zeusd against input that C strings would misread (issue 17, item 8): a query value with a NUL
 * (%00) must be refused, not cut there (gpu_ids=0%001 changed GPU 0), and a validly signed
 * token whose exp lies past int64_t must be taken as far future, not as expired. */
#include "test_support.h"
#include "zeusd.h"
#include "zeusd_rig.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static zr_daemon daemon_;

static int setup(void **state)
{
    zt_setup(state);
    zt_use_fake_nvml(zt_dir, NULL);
    setenv("ZEUS_DEVICE", "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    memset(&daemon_, 0, sizeof daemon_);
    return 0;
}

static int teardown(void **state)
{
    int status = daemon_.pid > 0 ? zr_stop(&daemon_) : 0;
    zt_teardown(state);
    return status == 0 ? 0 : -1;
}

static unsigned limit_of(unsigned gpu)
{
    char target[96];
    zr_reply r;
    snprintf(target, sizeof target, "/gpu/get_power_limit?gpu_ids=%u", gpu);
    assert_int_equal(zr_request(daemon_.sock, "GET", target, NULL, &r), 200);
    const char *mw = strstr(r.body, "\"power_limit_mw\":");
    assert_non_null(mw);
    unsigned v = (unsigned)strtoul(mw + 17, NULL, 10);
    zr_free(&r);
    return v;
}

static void test_query_value_with_nul(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    static const char *const targets[] = {
        "/gpu/set_power_limit?gpu_ids=0%001&power_limit_mw=150000&block=true",
        "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=150000%00junk&block=true",
        "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=150000&block=true%00x",
        "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=150000&block=true&x%00=1",
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        zr_reply r;
        int status = zr_request(daemon_.sock, "POST", targets[i], NULL, &r);
        if (status != 400)
            fprintf(stderr, "%s:\n%s\n", targets[i], r.raw);
        assert_int_equal(status, 400);
        assert_contains(r.body, "contains a NUL character (%00)");
        zr_free(&r);
    }
    assert_int_equal(limit_of(0), 300000);
    assert_int_equal(limit_of(1), 300000);
    /* The same request without the NUL is carried out. */
    zr_reply r;
    assert_int_equal(zr_request(daemon_.sock, "POST",
                                "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=150000&block=true",
                                NULL, &r),
                     200);
    zr_free(&r);
    assert_int_equal(limit_of(1), 150000);
}

static void test_far_future_exp(void **state)
{
    (void)state;
    const unsigned char key[] = "key\n";
    zd_group g = ZD_GROUP_GPU_READ;
    int64_t now = (int64_t)time(NULL);
    /* INT64_MAX goes out as 2^63 (JSON numbers are doubles): past int64_t on the way back. */
    static const int64_t exps[] = {INT64_MAX, (int64_t)1 << 62, 4102444800 /* 2100 */};
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
        char *token = zd_token_issue(key, sizeof key - 1, "alice", &g, 1, true, exps[i]);
        assert_non_null(token);
        zd_claims claims;
        char err[256] = "";
        int rc = zd_token_verify(key, sizeof key - 1, token, now, &claims, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "exp %lld: %s\n", (long long)exps[i], err);
        assert_int_equal(rc, 0);
        assert_true(claims.has_exp && claims.exp >= exps[i] - 1024);
        free(token);
    }
    /* A past exp is still refused. */
    char *token = zd_token_issue(key, sizeof key - 1, "alice", &g, 1, true, now - 3600);
    zd_claims claims;
    char err[256] = "";
    assert_int_equal(zd_token_verify(key, sizeof key - 1, token, now, &claims, err, sizeof err),
                     -1);
    assert_string_equal(err, "Token has expired.");
    free(token);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query_value_with_nul, setup, teardown),
        cmocka_unit_test(test_far_future_exp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
