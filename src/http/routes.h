/* routes.h -- the control plane's paths (CONTRACT section 5). */
#ifndef DISPATCHD_HTTP_ROUTES_H
#define DISPATCHD_HTTP_ROUTES_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

struct config;
struct pipeline;

typedef struct http_app {
    const struct config *cfg;
    struct pipeline *p;
    int kafka_ok;      /* refreshed by routes_refresh_health (atomic) */
    int db_ok;
} http_app_t;

void routes_init(http_app_t *app);
void routes_free(http_app_t *app);
int routes_dispatch(http_app_t *app, h2o_req_t *req);
/* Blocking checks of Kafka and PostgreSQL; called off the event loop. */
void routes_refresh_health(http_app_t *app);

#endif
