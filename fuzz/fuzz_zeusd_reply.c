/* The HTTP client's answer parser (src/core/http_parse.c), which the zeusd client, the
 * Pushgateway and the carbon-intensity clients share: no crash, and an accepted answer has a
 * status from 100 to 599, its header block and body inside the input, and a body no longer than
 * what followed the head (chunked bodies are decoded in place). */
#include "fuzz_util.h"

#include "core/http_client.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    zeus__http_reply reply;
    const char *why = NULL;
    if (zeus__http_parse_reply(text, size, &reply, &why) == 0) {
        FUZZ_CHECK(reply.status >= 100 && reply.status <= 599);
        FUZZ_CHECK(reply.body >= text && reply.body + reply.body_len <= text + size);
        FUZZ_CHECK(reply.headers >= text && reply.headers <= reply.body);
        FUZZ_CHECK(reply.body[reply.body_len] == '\0');
    } else {
        FUZZ_CHECK(why != NULL);
    }
    /* The event splitter on the same bytes. */
    size_t event_len, span;
    char *copy = fuzz_text(data, size);
    if (zeus__sse_event(copy, size, &event_len, &span))
        FUZZ_CHECK(event_len < span && span <= size);
    free(copy);
    free(text);
    return 0;
}
