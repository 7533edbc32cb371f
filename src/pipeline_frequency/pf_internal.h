/* Shared between the files of the pipeline frequency solver (not installed). */
#ifndef ZEUS_PF_INTERNAL_H
#define ZEUS_PF_INTERNAL_H

/* CPython's float floor division a // b (lowtime rounds with it). */
double zeus__pf_floordiv(double a, double b);

/* One pair of opposite arcs a -> b and b -> a of a flow network, held as the Rust crate
 * `pathfinding` 4.13 (SparseCapacity, which lowtime 0.3.0's min cut uses) holds them: a residual
 * capacity for each direction and the flow a -> b (the flow b -> a is its negation). */
typedef struct {
    int a, b;
    double res[2]; /* residual a -> b, b -> a */
    double flow;   /* flow a -> b */
} zeus__pf_arc;

/* An arc end in a node's list: the node it leads to, and 2 * pair + (1 for b -> a). */
typedef struct {
    int to, end;
} zeus__pf_arc_end;

/* Scratch for zeus__pf_edmonds_karp, sized for up to max_nodes nodes and max_arcs pairs. */
typedef struct {
    int max_nodes, max_arcs;
    int *start;                /* per node, where its arc ends begin in adj */
    zeus__pf_arc_end *adj;     /* by node, then by the node they lead to */
    double *res;               /* residual by arc end */
    zeus__pf_arc_end *src_adj; /* scratch: the source's live arc ends */
    int *fill, *via;           /* scratch (then places in the queue); the arc end each node was
                                  reached by, or -1 */
    int *queue, *start_after;  /* the search's queue; its length after each node's turn */
} zeus__pf_ek;

int zeus__pf_ek_init(zeus__pf_ek *w, int max_nodes, int max_arcs);
void zeus__pf_ek_free(zeus__pf_ek *w);

/* pathfinding's edmonds_karp on nodes 0 .. n_nodes - 1 (lowtime's node IDs in order): the
 * same breadth-first search (successors by node number, the first path found to the sink
 * augmented at once) and the same f64 arithmetic, so the flows are the ones lowtime gets, bit
 * for bit. The arcs' residuals and flows are updated in place. */
void zeus__pf_edmonds_karp(zeus__pf_ek *w, int n_nodes, zeus__pf_arc *arcs, int n_arcs, int src,
                           int dst);

#endif
