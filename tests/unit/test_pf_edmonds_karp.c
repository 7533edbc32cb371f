/* The pipeline frequency solver's maximum flow (src/pipeline_frequency/edmonds_karp.c), which
 * resumes its breadth-first searches instead of repeating them, against a literal transcription
 * of what it replays: the Rust crate pathfinding 4.13's edmonds_karp (SparseCapacity, f64), a
 * fresh search from the source after every augmentation, the path capacity kept along the search.
 * The flows and residuals must agree bit for bit, on random networks shaped like lowtime's (a
 * source with arcs to many nodes, layers, arcs open both ways, infinite and 1e-6-grained
 * capacities) and on unstructured ones. */
#include "test_support.h"

#include "pipeline_frequency/pf_internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 80

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int below(int n)
{
    return (int)(next_u64() % (uint64_t)n);
}

/* A capacity as lowtime makes them: x // 1e-6 * 1e-6 of a cost difference, sometimes 0,
 * sometimes lowtime's "infinite" 10000. */
static double capacity(void)
{
    switch (below(10)) {
    case 0:
        return 0.0;
    case 1:
        return zeus__pf_floordiv(10000.0, 1e-6) * 1e-6;
    default: {
        double x = (double)(next_u64() % 1000000) / 1e5 * (below(2) ? 1.0 : 1e-3);
        return zeus__pf_floordiv(x, 1e-6) * 1e-6;
    }
    }
}

/* pathfinding's SparseCapacity, as dense matrices (the same f64 operations; BTreeMap order is
 * ascending node index, as is a scan of a row). */
static double res_m[MAXN][MAXN], flow_m[MAXN][MAXN];

static void literal_edmonds_karp(int n, int src, int dst)
{
    int parent[MAXN], queue[MAXN];
    double path_cap[MAXN];
    for (;;) {
        for (int v = 0; v < n; v++) {
            parent[v] = -1;
            path_cap[v] = DBL_MAX;
        }
        int qh = 0, qt = 0;
        queue[qt++] = src;
        bool found = false;
        while (qh < qt && !found) {
            int u = queue[qh++];
            double so_far = path_cap[u];
            for (int v = 0; v < n && !found; v++) {
                double r = res_m[u][v];
                if (!(r > 0) || v == src || parent[v] >= 0)
                    continue;
                parent[v] = u;
                path_cap[v] = so_far < r ? so_far : r;
                if (v == dst)
                    found = true;
                else
                    queue[qt++] = v;
            }
        }
        if (!found)
            return;
        double c = path_cap[dst];
        for (int v = dst; v != src; v = parent[v]) {
            int p = parent[v];
            double direct = flow_m[p][v] + c;
            flow_m[p][v] = direct;
            flow_m[v][p] = -direct;
            res_m[p][v] = res_m[p][v] + -c;
            res_m[v][p] = res_m[v][p] + c;
        }
    }
}

/* One random network: layered (lowtime-like) or not, with one infinite arc away from the source
 * (lowtime's sink -> source); returns the number of arcs. */
static int random_network(int n, int src, int dst, bool layered, zeus__pf_arc *arcs)
{
    static bool used[MAXN][MAXN];
    memset(used, 0, sizeof used);
    int n_arcs = 0;
    int layer[MAXN];
    for (int v = 0; v < n; v++)
        layer[v] = 1 + below(4);
    layer[src] = 0;
    layer[dst] = 5;
    int tries = n * (layered ? 3 : 4);
    for (int k = 0; k < tries; k++) {
        int a = below(n), b = below(n);
        if (layered && k < n) { /* the source reaches many nodes */
            a = src;
            b = below(n);
        }
        if (a == b || used[a][b])
            continue;
        if (layered && layer[b] < layer[a] && below(4)) /* mostly forward */
            continue;
        used[a][b] = used[b][a] = true;
        double back = layered && below(3) ? 0.0 : capacity();
        arcs[n_arcs++] = (zeus__pf_arc){a, b, {capacity(), back}, 0.0};
    }
    for (int i = 0; i < n_arcs; i++)
        if (arcs[i].a != src && arcs[i].b != src) {
            arcs[i].res[0] = INFINITY;
            break;
        }
    return n_arcs;
}

static void test_same_flows_as_pathfinding(void **state)
{
    (void)state;
    zeus__pf_ek ek;
    assert_int_equal(zeus__pf_ek_init(&ek, MAXN, MAXN * MAXN), 0);
    static zeus__pf_arc arcs[MAXN * MAXN];
    long augmenting = 0;
    for (int round = 0; round < 600; round++) {
        rng_state = 0x9e3779b97f4a7c15ULL + (uint64_t)round * 7919;
        int n = 6 + below(MAXN - 6), src = below(n), dst = below(n);
        if (dst == src)
            dst = (src + 1) % n;
        int n_arcs = random_network(n, src, dst, round % 3 != 0, arcs);
        memset(res_m, 0, sizeof res_m);
        memset(flow_m, 0, sizeof flow_m);
        for (int i = 0; i < n_arcs; i++) {
            res_m[arcs[i].a][arcs[i].b] = arcs[i].res[0];
            res_m[arcs[i].b][arcs[i].a] = arcs[i].res[1];
        }
        literal_edmonds_karp(n, src, dst);
        zeus__pf_edmonds_karp(&ek, n, arcs, n_arcs, src, dst);
        for (int i = 0; i < n_arcs; i++) {
            const zeus__pf_arc *arc = &arcs[i];
            if (arc->flow != flow_m[arc->a][arc->b] || arc->res[0] != res_m[arc->a][arc->b] ||
                arc->res[1] != res_m[arc->b][arc->a])
                fail_msg("round %d arc %d (%d -> %d): flow %.17g residuals %.17g %.17g, "
                         "pathfinding %.17g %.17g %.17g",
                         round, i, arc->a, arc->b, arc->flow, arc->res[0], arc->res[1],
                         flow_m[arc->a][arc->b], res_m[arc->a][arc->b], res_m[arc->b][arc->a]);
            augmenting += arc->flow != 0.0;
        }
    }
    assert_true(augmenting > 1000); /* the networks did carry flow */
    zeus__pf_ek_free(&ek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_flows_as_pathfinding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
