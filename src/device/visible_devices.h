/* CUDA_VISIBLE_DEVICES: parsing and resolution, pure logic.
 *
 * Accepted forms, comma separated: decimal device indices ("0,2"), GPU UUIDs or unique UUID
 * prefixes ("GPU-8932f937"), MIG instance UUIDs ("MIG-..." and the older
 * "MIG-GPU-<uuid>/<gi>/<ci>"). Like CUDA, a negative index ("-1") ends the list: entries before
 * it stay visible, later ones are ignored, so CUDA_VISIBLE_DEVICES=-1 hides every GPU. Unlike
 * CUDA, which silently stops at anything it does not understand, we reject garbage, indices
 * past the last device, unknown or ambiguous UUIDs and duplicates with an error naming the
 * entry: a measurement tool that silently watches the wrong GPUs is worse than one that stops.
 * A MIG instance maps to its parent GPU (NVML reports energy and power per physical GPU). */
#ifndef ZEUS_VISIBLE_DEVICES_H
#define ZEUS_VISIBLE_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#define ZEUS_CVD_MAX 64

typedef enum { ZEUS_CVD_INDEX, ZEUS_CVD_GPU_UUID, ZEUS_CVD_MIG_UUID } zeus_cvd_kind;

typedef struct {
    zeus_cvd_kind kind;
    unsigned index; /* ZEUS_CVD_INDEX */
    char text[96];  /* the entry as written (trimmed) */
} zeus_cvd_entry;

/* One UUID the system knows: a GPU's own or one of its MIG instances'. */
typedef struct {
    const char *uuid;
    unsigned device_index;
} zeus_cvd_device;

int zeus__cvd_parse(const char *text, zeus_cvd_entry *entries, size_t capacity, size_t *count);
/* Maps entries to device indices (map[i] for the i-th visible GPU). */
int zeus__cvd_resolve(const zeus_cvd_entry *entries, size_t count, unsigned device_count,
                      const zeus_cvd_device *uuids, size_t uuid_count, unsigned *map);

#endif
