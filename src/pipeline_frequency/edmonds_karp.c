/* The maximum flow lowtime 0.3.0's min cut computes: the Rust crate `pathfinding` 4.13's
 * edmonds_karp with SparseCapacity<OrderedFloat<f64>> (src/directed/edmonds_karp.rs), replayed
 * step for step so that which of two equally cheap operations ends on the source side of the cut
 * is decided as lowtime decides it (docs/pipeline-frequency.md, "Agreement with lowtime").
 *
 * What decides the flows there, and what we copy:
 * - the nodes are indexes into the sorted node IDs; the capacities sit in BTreeMaps, so a
 *   node's successors are visited by ascending index whatever order the edges came in;
 * - each augmenting path is the first one a breadth-first search from the source reaches the sink
 *   by (the search stops at the sink's discovery), its capacity the minimum residual on it
 *   (starting from f64::MAX);
 * - add_flow(p, n, c): flow(p, n) += c (and flow(n, p) = -that), residual(p, n) += -c,
 *   residual(n, p) += c, all in f64; a successor counts when its residual is > 0. */
#include <float.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pf_internal.h"

int zeus__pf_ek_init(zeus__pf_ek *w, int max_nodes, int max_arcs)
{
    memset(w, 0, sizeof *w);
    w->max_nodes = max_nodes;
    w->max_arcs = max_arcs;
    w->start = calloc((size_t)max_nodes + 1, sizeof(int));
    w->start_after = calloc((size_t)max_nodes + 1, sizeof(int));
    w->adj = calloc((size_t)2 * max_arcs, sizeof *w->adj);
    w->res = calloc((size_t)2 * max_arcs, sizeof(double));
    w->src_adj = calloc((size_t)2 * max_arcs, sizeof *w->src_adj);
    w->fill = calloc((size_t)max_nodes, sizeof(int));
    w->via = calloc((size_t)max_nodes, sizeof(int));
    w->queue = calloc((size_t)max_nodes, sizeof(int));
    return w->start && w->start_after && w->adj && w->res && w->src_adj && w->fill && w->via &&
                   w->queue
               ? 0
               : -1;
}

void zeus__pf_ek_free(zeus__pf_ek *w)
{
    free(w->start);
    free(w->start_after);
    free(w->adj);
    free(w->res);
    free(w->src_adj);
    free(w->fill);
    free(w->via);
    free(w->queue);
    memset(w, 0, sizeof *w);
}

/* Each node's arc ends, ordered by the node they lead to (the BTreeMap order). */
static void index_arcs(zeus__pf_ek *w, int n_nodes, const zeus__pf_arc *arcs, int n_arcs)
{
    memset(w->start, 0, sizeof(int) * ((size_t)n_nodes + 1));
    for (int i = 0; i < n_arcs; i++) {
        w->start[arcs[i].a + 1]++;
        w->start[arcs[i].b + 1]++;
        w->res[2 * i] = arcs[i].res[0];
        w->res[2 * i + 1] = arcs[i].res[1];
    }
    for (int v = 0; v < n_nodes; v++)
        w->start[v + 1] += w->start[v];
    memcpy(w->fill, w->start, sizeof(int) * (size_t)n_nodes);
    for (int i = 0; i < n_arcs; i++) {
        w->adj[w->fill[arcs[i].a]++] = (zeus__pf_arc_end){arcs[i].b, 2 * i};
        w->adj[w->fill[arcs[i].b]++] = (zeus__pf_arc_end){arcs[i].a, 2 * i + 1};
    }
    for (int v = 0; v < n_nodes; v++) /* degrees are small but for s' and t': insertion sort */
        for (int j = w->start[v] + 1; j < w->start[v + 1]; j++) {
            zeus__pf_arc_end e = w->adj[j];
            int k = j;
            for (; k > w->start[v] && w->adj[k - 1].to > e.to; k--)
                w->adj[k] = w->adj[k - 1];
            w->adj[k] = e;
        }
}

/* pathfinding's add_flow(from, to, c) on the arc end `end` (from -> to). */
static void add_flow(zeus__pf_ek *w, zeus__pf_arc *arc, int end, double c)
{
    if ((end & 1) == 0) {
        arc->flow = arc->flow + c;
    } else {
        double direct = -arc->flow + c;
        arc->flow = -direct;
    }
    w->res[end] = w->res[end] + -c;
    w->res[end ^ 1] = w->res[end ^ 1] + c;
}

/* The search again after the path saturated the source's arc to `first` (the path's first node,
 * found by the source and so early in the queue): the same search without `first` until the
 * turn of a node that now finds it, or its own turn (where its finds are missed). So `first`
 * leaves the queue, and we go on from that turn, or from `resume` if that is earlier; returns the
 * turn, 0 (start again) where the shortcut does not apply. */
static int drop_first(zeus__pf_ek *w, int first, int resume, int *qt)
{
    int *queue = w->queue, *pos = w->fill, *via = w->via, *done_at = w->start_after;
    if (pos[first] < 1 || pos[first] >= *qt || queue[pos[first]] != first)
        return 0; /* the sink itself */
    int p = pos[first], turn = p < resume ? p : resume;
    for (int j = w->start[first]; j < w->start[first + 1]; j++) { /* who reaches it earlier */
        int x = w->adj[j].to;
        if (w->res[w->adj[j].end ^ 1] > 0 && via[x] >= 0 && pos[x] >= 1 && pos[x] < turn &&
            queue[pos[x]] == x)
            turn = pos[x];
    }
    if (turn < 1)
        return 0;
    int keep = done_at[turn - 1];
    for (int i = keep; i < *qt; i++) /* what later turns found */
        via[queue[i]] = -1;
    for (int i = p; i + 1 < keep; i++) {
        queue[i] = queue[i + 1];
        pos[queue[i]] = i;
    }
    via[first] = -1;
    for (int i = 0; i < turn; i++)
        done_at[i]--;
    *qt = keep - 1;
    return turn;
}

/* The searches, done once: a search after an augmentation repeats the previous one exactly up to
 * the first node it takes off the queue that the path saturated an arc out of (an arc that
 * went to 0 is no longer followed; an arc that the path opened backwards leads from a node to its
 * ancestor on the path, which that search had already reached, so it changes nothing), so we
 * resume the search there instead of starting again: same paths, same order, less work. The
 * capacity of a path is the minimum residual on it, found when it is augmented (the running
 * minimum pathfinding keeps along the search is that same minimum). The source's own arcs only
 * ever lose residual (no path enters the source), so those at 0 are dropped from its list. */
void zeus__pf_edmonds_karp(zeus__pf_ek *w, int n_nodes, zeus__pf_arc *arcs, int n_arcs, int src,
                           int dst)
{
    index_arcs(w, n_nodes, arcs, n_arcs);
    int *queue = w->queue, *via = w->via, *pos = w->fill, *done_at = w->start_after;
    const double *res = w->res;
    const zeus__pf_arc_end *adj = w->adj;
    zeus__pf_arc_end *src_adj = w->src_adj; /* the source's list, compacted as arcs die */
    int n_src = w->start[src + 1] - w->start[src];
    memcpy(src_adj, adj + w->start[src], sizeof *src_adj * (size_t)n_src);
    for (int v = 0; v < n_nodes; v++)
        via[v] = -1;
    int qh = 0, qt = 1;
    queue[0] = src;
    pos[src] = 0;
    for (;;) {
        bool found = false;
        while (qh < qt) {
            int u = queue[qh];
            const zeus__pf_arc_end *list = u == src ? src_adj : adj + w->start[u];
            int j = 0, n = u == src ? n_src : w->start[u + 1] - w->start[u], keep = 0;
            for (; j < n; j++) {
                zeus__pf_arc_end e = list[j];
                if (!(res[e.end] > 0))
                    continue;
                if (u == src)
                    src_adj[keep++] = e;
                if (e.to == src || via[e.to] >= 0)
                    continue;
                via[e.to] = e.end;
                if (e.to == dst) {
                    found = true;
                    break;
                }
                pos[e.to] = qt;
                queue[qt++] = e.to;
            }
            if (u == src) { /* the rest of the source's list after its live arcs */
                for (j += found; j < n; j++)
                    src_adj[keep++] = src_adj[j];
                n_src = keep;
            }
            if (found)
                break;
            done_at[qh++] = qt;
        }
        if (!found)
            break;
        double c = DBL_MAX;
        for (int v = dst; v != src;) {
            int end = via[v];
            c = c < res[end] ? c : res[end];
            v = end & 1 ? arcs[end >> 1].b : arcs[end >> 1].a;
        }
        int resume = qh, first = dst;
        bool src_arc_died = false;
        for (int v = dst; v != src;) {
            int end = via[v], from = end & 1 ? arcs[end >> 1].b : arcs[end >> 1].a;
            add_flow(w, &arcs[end >> 1], end, c);
            if (!(res[end] > 0)) {
                if (from == src)
                    src_arc_died = true;
                else if (pos[from] < resume)
                    resume = pos[from];
            }
            first = v;
            v = from;
        }
        if (src_arc_died)
            resume = first == dst ? 0 : drop_first(w, first, resume, &qt);
        int keep = resume == 0 ? 1 : done_at[resume - 1];
        for (int i = keep; i < qt; i++)
            via[queue[i]] = -1;
        via[dst] = -1;
        qh = resume;
        qt = keep;
    }
    for (int i = 0; i < n_arcs; i++) {
        arcs[i].res[0] = res[2 * i];
        arcs[i].res[1] = res[2 * i + 1];
    }
}
