/* The INI configuration loader: any file either loads or is refused with a
 * message naming the key or line. The file is a memfd, so nothing touches
 * the disk. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.conf", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    config_t cfg;
    if (config_load(&cfg, path, err, sizeof(err)) != 0 && err[0] == '\0')
        __builtin_trap();
    config_free(&cfg);
    close(fd);
    return 0;
}
