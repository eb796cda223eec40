/* uuid.h -- random (version 4) UUIDs for sync and correlation ids. */
#ifndef DISPATCHD_UUID_H
#define DISPATCHD_UUID_H

/* Writes 36 characters and a NUL into out (at least 37 bytes). */
void uuid_v4(char *out);

#endif
