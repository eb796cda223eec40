/* The LLM's answer: a chat completion body whose content is the
 * classification JSON. Whatever comes back, what is accepted holds only
 * allowed values. */
#include <stdint.h>

#include "classification.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    classification_t c = {0};
    llm_answer_t a;
    char why[200];
    if (cls_from_llm_response((const char *)data, size, &c, &a, why, sizeof(why)) == 0 &&
        (!cls_valid_category(c.category) || !cls_valid_level(c.priority) || c.confidence < 0 || c.confidence > 1))
        __builtin_trap();
    return 0;
}
